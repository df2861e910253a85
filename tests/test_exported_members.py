"""Every module's public API is an explicit __all__ (STYLE.md §15), checked both ways: every name in
an __all__ exists, and every name one module imports from another (package, tests, fixtures, bench)
is in that module's __all__. Each module opens with a docstring saying its job."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import elfdeps
import fixtures

REPO = Path(__file__).resolve().parent.parent
MODULES = sorted(
    info.name for info in pkgutil.walk_packages(elfdeps.__path__, prefix="elfdeps.") if info.name != "elfdeps.__main__"
)
FIXTURE_MODULES = sorted(info.name for info in pkgutil.walk_packages(fixtures.__path__, prefix="fixtures."))
GENERATED = REPO / "bench" / "out"  # the benchmark's venv holds an installed copy of elfdeps, maybe an old one
IMPORTERS = sorted(
    path
    for root in ("elfdeps", "tests", "fixtures", "bench")
    for path in (REPO / root).rglob("*.py")
    if not path.is_relative_to(GENERATED)
)
# White-box tests of a private helper, named here so that a new one is a decision, not an accident.
PRIVATE_UNDER_TEST = {
    ("tests/test_loader_units.py", "elfdeps.loader.environment", "_system_dirs"),
    ("tests/test_graph.py", "elfdeps.depgraph.rust_standin", "_STD_V0"),
    ("tests/test_hand_matchers.py", "elfdeps.rust.detect", "_is_hashed_file"),
    ("tests/test_hand_matchers.py", "elfdeps.rust.metadata", "_library_path"),
}


def test_every_module_is_listed() -> None:
    assert {"elfdeps.cli", "elfdeps.binding", "elfdeps.loader.search", "elfdeps.audit.runner"} <= set(MODULES)
    assert len(IMPORTERS) >= 60


@pytest.mark.parametrize("name", MODULES + FIXTURE_MODULES)
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


def _imported_names(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from M import name` in ``path`` where M is elfdeps' or the fixtures'."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join([*parts, *([module] if module else [])])
        if module.split(".")[0] in ("elfdeps", "fixtures"):
            found += [(module, alias.name) for alias in node.names]
    return found


def test_every_imported_name_is_exported() -> None:
    """The other direction: a name used outside its module is part of that module's __all__ (or a
    submodule of the package imported from)."""
    missing = []
    checked = 0
    for path in IMPORTERS:
        for module_name, name in _imported_names(path):
            module = importlib.import_module(module_name)
            checked += 1
            if hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}") is not None:
                continue
            where = str(path.relative_to(REPO))
            if name not in getattr(module, "__all__", ()) and (where, module_name, name) not in PRIVATE_UNDER_TEST:
                missing.append(f"{where}: {name} from {module_name}")
    assert missing == []
    assert checked >= 150
