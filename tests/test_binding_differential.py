"""elfdeps' symbol binding against the real loader (tests/binding_oracle.py: ld.so in trace mode, as ldd
runs it; nothing of the analysed files is executed).

(a) On every ELF file of every binding/audit scenario (fixtures/audit_scenarios/): the unresolved strong
    references and the missing versions equal `ldd -r`'s, and the ones that fail at start-up (not
    lazily bound) equal `ldd -d`'s.
(b) The same on a deterministic sample of this system's ELF files (SAMPLE_SIZE of /usr/bin, /usr/sbin,
    /usr/lib/x86_64-linux-gnu; `-m full` checks every file): zero false positives, zero misses.
(c) `LD_DEBUG=bindings`: every `binding file A to B: normal symbol 'S' [V]` line of the loader is a
    binding elfdeps makes (A's reference S@V binds to B), and every binding elfdeps makes shows up in
    the log, on every scenario file and on a few system programs.
(d) `ldd -u`: the unused direct dependencies of the main file equal elfdeps' unused-dependency findings
    for it (`elfdeps audit --json`), on every scenario file and on a sample of system files (UNUSED_SAMPLE,
    plus programs known to have some; `-m full`: every file).

Tolerances (named where applied, each the only one of its kind):
- LOADER_STOPS: the loader stops with a fatal error before relocating anything (a bad candidate in the
  path); elfdeps must report a load error for the file, and there are no bindings to compare.
- LOADER_REFUSES_MAIN: ld.so will not take the file as a main program at all (an ET_REL object, a
  damaged copy); elfdeps must refuse it too.
(32-bit files are traced by the i386 loader, binding_oracle.loader_for: no file is left out by class.)
- MISSING_IS_NOT_UNUSED: ldd -u lists a direct dependency that was not found (its fake link map is never
  used); elfdeps reports it as missing-library, not unused-dependency.
- VDSO_SELF_BINDINGS: the loader logs the vDSO's own relocations (`binding file linux-vdso.so.1 to
  linux-vdso.so.1`, on i386 linux-gate.so.1); the vDSO is no file and not in elfdeps' load list, so
  those lines are skipped.
No tolerance is needed for symbols ld.so resolves internally: in trace mode the loader does not relocate
itself, and elfdeps does not bind ld.so's references either (both skip it).
"""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from binding_oracle import LoaderReport, Unresolved, VersionMissing, bindings, ldd_d, ldd_r, ldd_u, loader_for
from oracle import is_elf, system_elf_files

from elfdeps.binding import BindingReport, VersionProblemKind, bind
from elfdeps.cli import main
from elfdeps.elf.cache import FileCache
from elfdeps.errors import ElfdepsError
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate
from elfdeps.model import LoadResult
from fixtures import build, fill, loader_facts
from fixtures.audit_scenarios import AUDIT_SCENARIOS, AuditScenario

SAMPLE_SIZE = 320
SYSTEM_FILES = system_elf_files()
# Programs with many libraries, symbol versions and copy relocations, for the LD_DEBUG=bindings check.
# Installed by scripts/test (openssh-client, python3, bash, libglib2.0-bin, coreutils): never filtered.
BINDING_PROGRAMS = ["/usr/bin/ssh", "/usr/bin/python3.11", "/usr/bin/bash", "/usr/bin/gio", "/usr/bin/ls"]
UNUSED_SAMPLE = 100
NAMES = [scenario.name for scenario in AUDIT_SCENARIOS]


# ------------------------------------------------------------------------------------------- helpers


def _sample(files: list[str], size: int) -> list[str]:
    if len(files) <= size:
        return files
    step = len(files) / size
    return [files[int(i * step)] for i in range(size)]


class _Files:
    """One FileCache for a stretch of the system sample (libc and friends parsed once), renewed now and
    then so the bytes of every system library are not all held at once."""

    cache = FileCache()
    uses = 0

    @classmethod
    def get(cls) -> FileCache:
        cls.uses += 1
        if cls.uses % 100 == 0:
            cls.cache = FileCache()
        return cls.cache


def _elfdeps_bind(
    path: str, ld_library_path: str | None, cwd: str, files: FileCache | None = None
) -> tuple[LoadResult, BindingReport]:
    env = LoaderEnv(ld_library_path=ld_library_path, cwd=cwd)
    files = files if files is not None else FileCache()
    result = emulate(path, env, files)
    return result, bind(result, files)


def _unresolved(result: LoadResult, report: BindingReport, lazy_too: bool = True) -> set[Unresolved]:
    return {
        Unresolved(
            result.objects[b.requester].path or result.main_path,
            os.fsdecode(b.symbol),
            os.fsdecode(b.version) if b.version else None,
        )
        for b in report.bindings
        if b.fails and (lazy_too or not b.lazy)
    }


def _missing_versions(result: LoadResult, report: BindingReport) -> set[VersionMissing]:
    return {
        VersionMissing(
            result.objects[p.requester].path or result.main_path,
            result.objects[p.library].path or "",
            os.fsdecode(p.version),
        )
        for p in report.version_problems
        if p.kind is VersionProblemKind.MISSING
    }


def _symbols_missing_cli(path: str, ld_library_path: str | None, cwd: str) -> set[Unresolved]:
    """`elfdeps symbols --missing --json`, run from ``cwd``."""
    argv = ["symbols", "--missing", "--json", "--no-env", path]
    if ld_library_path is not None:
        argv.append(f"--ld-library-path={ld_library_path}")
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        main(argv, out, err)
    finally:
        os.chdir(previous)
    assert "internal error" not in err.getvalue(), err.getvalue()
    rows = json.loads(out.getvalue())["bindings"]
    assert all(row["binds_to"] is None and not row["weak"] for row in rows)
    return {Unresolved(row["object"], row["symbol"], row["version"]) for row in rows}


def _compare(path: str, oracle: LoaderReport, result: LoadResult, report: BindingReport) -> None:
    got, wanted = _unresolved(result, report), set(oracle.unresolved)
    assert got == wanted, (
        f"{path}\n elfdeps only: {sorted(map(str, got - wanted))}\n ldd -r only: {sorted(map(str, wanted - got))}"
    )
    got_versions = _missing_versions(result, report)
    assert got_versions == set(oracle.versions), f"{path}\n elfdeps: {got_versions}\n ldd -r: {oracle.versions}"


# ---------------------------------------------------------------------------- (a) scenario files


@cache
def _scenario(name: str) -> tuple[AuditScenario, Path, str | None]:
    scenario = next(s for s in AUDIT_SCENARIOS if s.name == name)
    directory = build(scenario.name, scenario.recipe)
    llp = None if scenario.ld_library_path is None else fill(scenario.ld_library_path, directory, loader_facts())
    return scenario, directory, llp


def _scenario_files(directory: Path) -> list[str]:
    found = []
    for folder, _dirs, names in os.walk(directory):
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not os.path.islink(path) and is_elf(path):
                found.append(path)
    return sorted(found)


def _programs(directory: Path) -> list[str]:
    """The scenario's executables (ET_EXEC/ET_DYN with an interpreter): the files ldd -u judges."""
    programs = []
    for path in _scenario_files(directory):
        with open(path, "rb") as handle:
            data = handle.read(4096)
        if loader_for(path).encode() in data:
            programs.append(path)
    return programs


@pytest.mark.parametrize("name", NAMES)
def test_unresolved_symbols_and_versions_match_ldd_r(name: str) -> None:
    _scenario_def, directory, llp = _scenario(name)
    cwd = str(directory)
    compared = 0
    for path in _scenario_files(directory):
        oracle = ldd_r(path, llp, cwd)
        if oracle.stopped:
            try:
                result, _report = _elfdeps_bind(path, llp, cwd)
            except ElfdepsError:  # LOADER_REFUSES_MAIN
                continue
            assert result.error is not None, f"{path}: ld.so stopped ({oracle.stderr.strip()}), elfdeps did not"
            continue  # LOADER_STOPS
        result, report = _elfdeps_bind(path, llp, cwd)
        _compare(path, oracle, result, report)
        assert _symbols_missing_cli(path, llp, cwd) == set(oracle.unresolved), path
        lazy = ldd_d(path, llp, cwd)
        assert _unresolved(result, report, lazy_too=False) == set(lazy.unresolved), f"{path}: start-up failures"
        compared += 1
    assert compared, "no file of the scenario could be compared"


def test_scenarios_exercise_the_loader() -> None:
    """The fixtures give the comparison something to find: unresolved functions and data, a missing version."""
    seen_lazy, seen_startup, seen_version = False, False, False
    for name in NAMES:
        _scenario_def, directory, llp = _scenario(name)
        for path in _programs(directory):
            report = ldd_r(path, llp, str(directory))
            startup = ldd_d(path, llp, str(directory))
            seen_lazy |= bool(report.unresolved - startup.unresolved)
            seen_startup |= bool(startup.unresolved)
            seen_version |= bool(report.versions)
    assert seen_lazy and seen_startup and seen_version


# --------------------------------------------------------------------------- (b) system files


def _check_system_file(path: str) -> None:
    oracle = ldd_r(path, cwd="/")
    if oracle.stopped:  # LOADER_REFUSES_MAIN (crt1.o and other ET_REL objects)
        with pytest.raises(ElfdepsError):
            _elfdeps_bind(path, None, "/", _Files.get())
        return
    result, report = _elfdeps_bind(path, None, "/", _Files.get())
    _compare(path, oracle, result, report)
    lazy = ldd_d(path, cwd="/")
    assert _unresolved(result, report, lazy_too=False) == set(lazy.unresolved), f"{path}: start-up failures"


def test_enough_system_files() -> None:
    assert len(SYSTEM_FILES) >= SAMPLE_SIZE


@pytest.mark.parametrize("path", _sample(SYSTEM_FILES, SAMPLE_SIZE))
def test_system_file_unresolved_match_ldd_r(path: str) -> None:
    _check_system_file(path)


@pytest.mark.full
@pytest.mark.parametrize("path", SYSTEM_FILES)
def test_every_system_file_unresolved_match_ldd_r(path: str) -> None:
    _check_system_file(path)


# ------------------------------------------------------------------------ (c) LD_DEBUG=bindings


def _check_bindings(path: str, llp: str | None, cwd: str) -> int:
    result, report = _elfdeps_bind(path, llp, cwd)
    ours: dict[tuple[str, str, str | None], set[str | None]] = defaultdict(set)
    for b in report.bindings:
        key = (
            result.objects[b.requester].path or result.main_path,
            os.fsdecode(b.symbol),
            os.fsdecode(b.version) if b.version else None,
        )
        ours[key].add(result.objects[b.target].path if b.target is not None else None)
    logged = set()
    for line in bindings(path, llp, cwd):
        if line.object in ("linux-vdso.so.1", "linux-gate.so.1"):  # VDSO_SELF_BINDINGS (x86-64, i386)
            continue
        key = (line.object, line.symbol, line.version)
        logged.add((key, line.target))
        assert key in ours, f"{path}: the loader binds {key} to {line.target}; elfdeps has no such reference"
        assert line.target in ours[key], f"{path}: {key} binds to {line.target}, elfdeps says {ours[key]}"
    unlogged = sorted(
        (key, target)
        for key, targets in ours.items()
        for target in targets
        if target is not None and (key, target) not in logged
    )
    assert unlogged == [], f"{path}: elfdeps bindings the loader never made: {unlogged[:10]}"
    return len(logged)


def _stops_the_loader(scenario: AuditScenario) -> bool:
    """The scenario's rule is that the loader stops (LOADER_STOPS): nothing is relocated to compare."""
    return any(want.rule == "loader-error" for want in scenario.findings)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_bindings_match_ld_debug(name: str) -> None:
    scenario, directory, llp = _scenario(name)
    compared = stopped = 0
    for path in _programs(directory):
        if ldd_r(path, llp, str(directory)).stopped:  # LOADER_STOPS
            stopped += 1
            continue
        assert _check_bindings(path, llp, str(directory)) > 0
        compared += 1
    if _stops_the_loader(scenario):
        assert stopped >= 1 and compared == 0, (stopped, compared)
    else:
        assert compared >= 1 and stopped == 0, (stopped, compared)


@pytest.mark.parametrize("path", BINDING_PROGRAMS)
def test_system_program_bindings_match_ld_debug(path: str) -> None:
    assert _check_bindings(path, None, "/") > 100


# ---------------------------------------------------------------------------------- (d) ldd -u


def _audit(path: str, llp: str | None, cwd: str) -> tuple[int, list[dict[str, Any]]]:
    """`elfdeps audit --json` of ``path`` from ``cwd``: the exit code and the findings (none on exit 2)."""
    argv = ["audit", "--json", "--no-env", path]
    if llp is not None:
        argv.append(f"--ld-library-path={llp}")
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(argv, out, err)
    finally:
        os.chdir(previous)
    assert "internal error" not in err.getvalue(), err.getvalue()
    return code, (json.loads(out.getvalue())["findings"] if code != 2 else [])


def _unused_findings(path: str, llp: str | None, cwd: str) -> list[str]:
    _code, findings = _audit(path, llp, cwd)
    return sorted(f["library"] for f in findings if f["rule"] == "unused-dependency" and f["object"] == path)


def _check_unused(path: str, llp: str | None, cwd: str) -> bool:
    """Compare with ldd -u; False when the loader stopped and there was nothing to compare."""
    trace = ldd_r(path, llp, cwd)
    if trace.stopped:  # LOADER_STOPS, LOADER_REFUSES_MAIN: elfdeps must see the same stop
        code, findings = _audit(path, llp, cwd)
        stops = {"loader-error", "malformed-elf"}
        assert code == 2 or any(f["rule"] in stops and f["object"] == path for f in findings), (path, findings)
        return False
    unused = [name for name in ldd_u(path, llp, cwd) if name not in trace.not_found]  # MISSING_IS_NOT_UNUSED
    assert _unused_findings(path, llp, cwd) == sorted(unused), path
    return True


@pytest.mark.parametrize("name", NAMES)
def test_scenario_unused_dependencies_match_ldd_u(name: str) -> None:
    scenario, directory, llp = _scenario(name)
    outcomes = [_check_unused(path, llp, str(directory)) for path in _scenario_files(directory)]
    assert outcomes, "no ELF file in the scenario"
    if _stops_the_loader(scenario):
        assert not all(outcomes), "the scenario's loader error did not stop the loader"
    else:
        assert sum(outcomes) >= 1, "ldd -u could not be compared on any file of the scenario"


def test_some_program_has_an_unused_dependency() -> None:
    _scenario_def, directory, llp = _scenario("unused_direct_dependency")
    assert ldd_u(str(directory / "main"), llp, str(directory)) == [str(directory / "libUnused.so")]


# Programs that have unused direct dependencies on Debian 12 (ldd -u), plus a deterministic sample.
# Installed by scripts/test (libglib2.0-bin, make): never filtered.
_UNUSED_KNOWN = ["/usr/bin/gio", "/usr/bin/gmake", "/usr/bin/gresource"]


@pytest.mark.parametrize("path", sorted({*_UNUSED_KNOWN, *_sample(SYSTEM_FILES, UNUSED_SAMPLE)}))
def test_system_file_unused_dependencies_match_ldd_u(path: str) -> None:
    assert _check_unused(path, None, "/") or path not in _UNUSED_KNOWN


@pytest.mark.full
@pytest.mark.parametrize("path", SYSTEM_FILES)
def test_every_system_file_unused_dependencies_match_ldd_u(path: str) -> None:
    _check_unused(path, None, "/")
