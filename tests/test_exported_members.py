"""Every module's public API is an explicit __all__ whose names exist (STYLE.md §15), and each module
opens with a docstring saying its job."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import elfdeps

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(elfdeps.__path__, prefix="elfdeps.") if info.name != "elfdeps.__main__"
)


def test_every_module_is_listed() -> None:
    assert {"elfdeps.cli", "elfdeps.binding", "elfdeps.loader.search", "elfdeps.audit.runner"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_has_a_docstring_and_an_exact_all(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no docstring"
    if not hasattr(module, "__all__"):
        # Subpackages without re-exports, and the constants namespace (always used as C.NAME), need none.
        assert hasattr(module, "__path__") or name == "elfdeps.elf.constants", f"{name} has no __all__"
        return
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which does not exist"
    assert len(set(module.__all__)) == len(module.__all__)
