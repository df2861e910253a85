"""A scope finds the objects that may define each referenced name in one of three ways
(elfdeps.binding._Scope.prepare): a set intersection with an object's exported names, a Bloom-filter probe
per name, or, for a name nobody prepared, each object's Bloom filter at lookup time. Which one a scope
takes is a matter of cost only: all must give the same bindings to the last symbol. Real programs of
the system (scripts/test installs them), each bound with sets forced, Bloom filters forced, and nothing
prepared; each way is checked to be the one taken."""

from __future__ import annotations

import pytest

from elfdeps import binding
from elfdeps.binding import BindingReport, bind
from elfdeps.elf.cache import FileCache
from elfdeps.errors import ElfFormatError
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate

PROGRAMS = ("/usr/bin/ssh", "/usr/bin/python3.11", "/usr/bin/gio", "/usr/bin/ls")


def _bound(path: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> tuple[BindingReport, list[bool]]:
    """The program's bindings, and for each scope member whether its set of names was built."""
    files = FileCache()
    result = emulate(path, LoaderEnv(), files)
    with monkeypatch.context() as patch:
        if mode == "sets":
            patch.setattr(binding, "SET_COST", float("inf"))
        elif mode == "bloom":
            patch.setattr(binding, "SET_COST", 0.0)
        else:
            patch.setattr(binding._Scope, "prepare", lambda _scope, _names, _hashes: None)
        report = bind(result, files, collect_interposition=True)
    sets = [files.elf(obj.host_path).symbol_table.names_ready for obj in result.objects if obj.found and obj.host_path]
    return report, sets


@pytest.mark.parametrize("path", PROGRAMS)
def test_sets_bloom_filters_and_lookup_time_probes_bind_alike(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with_sets, built = _bound(path, "sets", monkeypatch)
    with_bloom, bloom_built = _bound(path, "bloom", monkeypatch)
    unprepared, unprepared_built = _bound(path, "unprepared", monkeypatch)
    assert all(built) and not any(bloom_built) and not any(unprepared_built)
    assert len(with_sets.bindings) > 50
    assert with_sets == with_bloom == unprepared


def test_a_set_is_built_once_it_pays_for_itself() -> None:
    """A library gets its set of names when it holds no more symbols than the names asked of it, and
    keeps its Bloom filter otherwise (ssh asks ~4.5k names: libc's 3k symbols get a set, libcrypto's
    5.5k do not)."""
    files = FileCache()
    program = "/usr/bin/ssh"
    result = emulate(program, LoaderEnv(), files)
    bind(result, files, collect_interposition=True)
    for obj in result.objects:
        if obj.found and obj.host_path:
            table = files.elf(obj.host_path).symbol_table
            assert table.names_ready == (table.count <= binding.SET_COST * table.asked), obj.path


def test_a_library_whose_hash_table_proves_unreadable_is_reported_and_the_rest_still_binds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Bloom words and chains of DT_GNU_HASH are bounds-checked when first read, which is when the
    scope prepares its candidates: that library is reported unreadable (as a library whose symbol table
    cannot be read at all is), no lookup lands in it, and every other reference still binds."""
    files = FileCache()
    result = emulate("/usr/bin/ssh", LoaderEnv(), files)
    healthy = bind(result, files, collect_interposition=True)
    damaged = next(obj for obj in result.objects if obj.path and "libcrypto" in obj.path)
    assert damaged.host_path is not None
    reason = f"{damaged.path}: DT_GNU_HASH chains lie outside the file"

    def out_of_bounds(*_args: object) -> bool:
        raise ElfFormatError(reason)

    files = FileCache()
    result = emulate("/usr/bin/ssh", LoaderEnv(), files)
    table = files.elf(damaged.host_path).symbol_table
    monkeypatch.setattr(table, "admits", out_of_bounds)
    monkeypatch.setattr(table, "definition_names", out_of_bounds)
    report = bind(result, files, collect_interposition=True)
    assert report.unreadable == ((damaged.index, reason),)
    assert not any(item.target == damaged.index or damaged.index in item.other_definitions for item in report.bindings)
    unaffected = [item for item in healthy.bindings if item.target != damaged.index]
    assert len(unaffected) > 100
    kept = {(item.requester, item.symbol, item.reloc_class): item.target for item in report.bindings}
    assert all(kept[(item.requester, item.symbol, item.reloc_class)] == item.target for item in unaffected)
