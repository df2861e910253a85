"""A scope answers lookups in one of two ways (elfdeps.binding._Scope.plan): through each object's set of
names and Bloom filter, or through one index of the whole scope's names, chosen by cost. Both must give
the same bindings to the last symbol. Real programs of the system (scripts/test installs them), each bound
once with the index forced on and once with it forced off; the plan really takes each way."""

from __future__ import annotations

import pytest

from elfdeps import binding
from elfdeps.binding import BindingReport, bind
from elfdeps.elf.cache import FileCache
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate

PROGRAMS = ("/usr/bin/ssh", "/usr/bin/python3.11", "/usr/bin/gio", "/usr/bin/ls")


def _bound(path: str, index_cost: float, monkeypatch: pytest.MonkeyPatch) -> tuple[BindingReport, list[bool]]:
    modes: list[bool] = []
    plan = binding._Scope.plan

    def recording_plan(scope: binding._Scope, lookups: int) -> None:
        plan(scope, lookups)
        modes.append(scope.indexed)

    with monkeypatch.context() as patch:
        patch.setattr(binding, "INDEX_COST", index_cost)
        patch.setattr(binding._Scope, "plan", recording_plan)
        files = FileCache()
        result = emulate(path, LoaderEnv(), files)
        return bind(result, files, collect_interposition=True), modes


@pytest.mark.parametrize("path", PROGRAMS)
def test_indexed_and_unindexed_scopes_bind_alike(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    indexed, indexed_modes = _bound(path, 0, monkeypatch)
    walked, walked_modes = _bound(path, float("inf"), monkeypatch)
    assert indexed_modes == [True] and walked_modes == [False]
    assert len(indexed.bindings) > 50
    assert indexed == walked
