"""Loader scenarios (fixtures/): the rule's expectation, the real loader and elfdeps must all agree.

For every scenario, built at test time from its recipe:
1. test_expectation_matches_loader: the expectation written from the rule holds for the real loader
   (its trace gives names, paths, order, counts and fatal errors; its LD_DEBUG=libs log gives how each
   library was found and the candidates tried; the file system confirms each candidate's outcome), so
   a wrong expectation cannot pass silently.
2. test_list_matches_loader: `elfdeps list --no-env` prints the loader's trace line for line, with the
   loader's exit semantics; where the loader stops with a fatal error, elfdeps exits 1 and names the
   same error.
3. test_provenance: `elfdeps list --json` reports each expected library's path, via, via_owner and
   searched candidates.

Tolerances (named where applied; the oracle's own are in loader_oracle.py):
- FATAL_STDOUT: on a fatal error the loader's trace prints no list, while elfdeps prints the objects
  loaded before the error (docs/cli-contract.md); only the exit status and the message are compared.
- NO_DIRECTORY_IS_ABSENT: elfdeps' outcome "no-directory" (the directory itself is missing) counts as
  the expectation's "absent"; the loader treats both as ENOENT.
- MISSING_DIRECTORIES_UNLOGGED: the loader remembers a missing directory and stops logging it, so
  candidates in missing directories are left out when expectations are compared with its log.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from loader_oracle import (
    RTLD,
    Lookup,
    Trace,
    Tried,
    base_tries,
    directory_exists,
    loader_env,
    lookups,
    parse_line,
    trace,
)

from fixtures import SCENARIOS, Expect, Scenario, Try, build, by_name, fill, loader_facts
from fixtures.model import DEFAULT_DIRS

REPO = Path(__file__).resolve().parent.parent
SEARCH_SOURCES = ("rpath", "runpath", "ld_library_path", "ld_so_cache", "default")
NAMES = [scenario.name for scenario in SCENARIOS]


@dataclass(frozen=True)
class Prepared:
    scenario: Scenario
    directory: Path
    cwd: str
    program: str  # as elfdeps is given it
    ld_library_path: str | None
    preload: str | None
    trace: Trace
    lookups: tuple[Lookup, ...]

    def fill(self, text: str) -> str:
        return fill(text, self.directory, loader_facts())

    def expect(self, expected: Expect) -> Expect:
        searched = None
        if expected.searched is not None:
            searched = tuple(
                Try(self.fill(t.path), t.source, t.outcome, None if t.owner is None else self.fill(t.owner))
                for t in expected.searched
            )
        return Expect(
            self.fill(expected.name),
            None if expected.path is None else self.fill(expected.path),
            expected.via,
            None if expected.owner is None else self.fill(expected.owner),
            searched,
            expected.occurrence,
        )


@functools.cache
def prepared(name: str) -> Prepared:
    scenario = by_name(name)
    directory = build(scenario.name, scenario.recipe)
    facts = loader_facts()
    llp = None if scenario.ld_library_path is None else fill(scenario.ld_library_path, directory, facts)
    preload = None if scenario.preload is None else fill(scenario.preload, directory, facts)
    cwd = str(directory / scenario.cwd)
    program = str(directory / scenario.program)
    env = loader_env(llp, preload)
    real = os.path.realpath(program)
    return Prepared(scenario, directory, cwd, program, llp, preload, trace(real, env, cwd), lookups(real, env, cwd))


def _elfdeps(run: Prepared, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "elfdeps", "list", run.program, "--no-env", *extra]
    if run.ld_library_path is not None:
        args.append(f"--ld-library-path={run.ld_library_path}")
    if run.preload is not None:
        args.append(f"--preload={run.preload}")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    return subprocess.run(args, cwd=run.cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def _nth(lines: tuple[str, ...], name: str, occurrence: int) -> str | None:
    hits = [line for line in lines if parse_line(line)[0] == name]
    return hits[occurrence] if occurrence < len(hits) else None


# ------------------------------------------------------------------------------- scenario catalogue


def test_enough_scenarios_each_named_once() -> None:
    assert len(SCENARIOS) >= 30
    assert len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_asserts_something(name: str) -> None:
    scenario = by_name(name)
    assert scenario.expect or scenario.order or scenario.counts or scenario.fatal, name
    assert not (scenario.fatal and scenario.expect), "a fatal scenario has no list to expect things of"


def test_machine_provides_what_the_scenarios_need() -> None:
    """Everything scripts/test installs that the suite needs by name (no test shrinks without it)."""
    for tool in ("gcc", "patchelf", "readelf", "aarch64-linux-gnu-gcc", "ldconfig", "chroot"):
        assert shutil.which(tool), f"{tool} is missing (see the package list of scripts/test)"
    for program in ("/usr/bin/ssh", "/usr/bin/python3.11", "/usr/bin/gio", "/usr/bin/gresource", "/usr/bin/gmake"):
        assert os.access(program, os.X_OK), f"{program} is missing (see the package list of scripts/test)"
    assert os.path.exists("/usr/include/elf.h"), "glibc's elf.h is the relocation oracle (Debian libc6-dev)"
    assert os.access("/lib/ld-linux.so.2", os.X_OK), "the i386 loader (Debian libc6-i386, via gcc-12-multilib)"
    cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    assert "\tlibfakeroot-0.so " in cache, "the Debian package libfakeroot is missing"
    assert os.path.exists("/usr/lib32/crt1.o"), "gcc -m32 needs the Debian package gcc-12-multilib"
    assert os.path.isdir("/usr/include/asm"), "gcc -m32 needs /usr/include/asm (scripts/test links it)"


def test_readme_lists_every_scenario() -> None:
    readme = (REPO / "fixtures" / "README.md").read_text()
    assert [name for name in NAMES if f"`{name}`" not in readme] == []


# ------------------------------------------------------------------------ 1. expectation vs loader


def _outcome_holds(t: Try, cwd: str) -> bool:
    """The file system agrees with a non-"found" outcome of an expected candidate."""
    path = os.path.join(cwd, t.path)
    if t.outcome == "rejected-nodeflib":
        return t.source == "ld_so_cache" and any(t.path.startswith(d + "/") for d in DEFAULT_DIRS)
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError as error:
        # the loader goes on after ENOENT/EACCES, and after any error in an absolute directory that
        # is no directory (stat marks it nonexistent); other errors abandon the list (3.6, BZ 31035)
        goes_on = error.errno in (errno.ENOENT, errno.EACCES) or (
            os.path.isabs(t.path) and not os.path.isdir(os.path.dirname(t.path))
        )
        return t.outcome == ("absent" if goes_on else "error")
    if t.outcome == "wrong-class":
        return header[:4] == b"\x7fELF" and header[4] != 2
    if t.outcome == "wrong-machine":
        return header[:4] == b"\x7fELF" and header[4] == 2 and int.from_bytes(header[18:20], "little") != 62
    return False


def _lookup_for(run: Prepared, expected: Expect) -> Lookup | None:
    mine = [lookup for lookup in run.lookups if lookup.name == expected.name]
    if expected.path is None:
        return mine[expected.occurrence] if expected.occurrence < len(mine) else None
    return next((lookup for lookup in mine if lookup.tried and lookup.tried[-1].path == expected.path), None)


def _check_against_log(run: Prepared, expected: Expect) -> None:
    subdirs = ("tls", loader_facts().platform, "x86_64", "avx512_1", "haswell", "xeon_phi")
    lookup = _lookup_for(run, expected)
    if expected.via == "direct":
        assert lookup is None, f"{expected.name}: the loader searched for a name it should open as is"
        return
    if expected.via not in SEARCH_SOURCES and expected.searched is None:
        return
    assert lookup is not None, f"{expected.name}: no matching search in the loader's LD_DEBUG log"
    tried = base_tries(lookup, subdirs)
    if expected.via in SEARCH_SOURCES:
        last = lookup.tried[-1]
        assert _same_list(last, expected.via, expected.owner), f"{expected.name}: loader log says {last}"
    if expected.searched is not None:
        logged_paths = {t.path for t in tried}
        wanted = [  # MISSING_DIRECTORIES_UNLOGGED
            t
            for t in expected.searched
            if t.source == "ld_so_cache" or directory_exists(t.path, run.cwd) or t.path in logged_paths
        ]
        assert [t.path for t in wanted] == [t.path for t in tried], (wanted, tried)
        for want, log in zip(wanted, tried, strict=True):
            assert _same_list(log, want.source, want.owner), (want, log)
        for t in expected.searched:
            if t.outcome == "found":
                assert t is expected.searched[-1] and expected.path is not None
            else:
                assert _outcome_holds(t, run.cwd), f"{t.path}: the file system contradicts {t.outcome!r}"


def _same_list(logged: Tried, source: str | None, owner: str | None) -> bool:
    return logged.source == source and (owner is None or logged.owner == owner)


@pytest.mark.parametrize("name", NAMES)
def test_expectation_matches_loader(name: str) -> None:
    run = prepared(name)
    scenario = run.scenario
    if scenario.fatal:
        needle = f"{run.fill(scenario.fatal.subject)}: {scenario.fatal.message}"
        assert run.trace.returncode != 0 and needle in run.trace.stderr, run.trace.stderr
        return
    assert run.trace.returncode == 0, run.trace.stderr
    for raw in scenario.expect:
        expected = run.expect(raw)
        line = _nth(run.trace.lines, expected.name, expected.occurrence)
        assert line is not None, f"{expected.name} (#{expected.occurrence}) not in {run.trace.lines}"
        assert parse_line(line)[1] == expected.path, line
        if expected.via == "preload":  # preloads are the first objects after main (and the vDSO)
            assert run.trace.lines.index(line) < len(re.split(r"[ :]+", run.preload or "")), line
        _check_against_log(run, expected)
    names = [parse_line(line)[0] for line in run.trace.lines]
    order = [run.fill(name) for name in scenario.order]
    assert [n for n in names if n in order] == order, names
    for name_, count in scenario.counts:
        assert names.count(run.fill(name_)) == count, (name_, names)


# ---------------------------------------------------------------------------- 2. list vs loader


@pytest.mark.parametrize("name", NAMES)
def test_list_matches_loader(name: str) -> None:
    run = prepared(name)
    proc = _elfdeps(run)
    assert "Traceback" not in proc.stderr, proc.stderr
    if run.scenario.fatal:  # FATAL_STDOUT
        fatal = run.scenario.fatal
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        assert f"{run.fill(fatal.subject)}: {fatal.message}" in proc.stderr, proc.stderr
        return
    assert tuple(proc.stdout.splitlines()) == run.trace.lines, (
        f"\nelfdeps: {proc.stdout.splitlines()}\nld.so:   {list(run.trace.lines)}\n{proc.stderr}"
    )
    assert proc.returncode == (0 if _program_would_start(run) else 1), (proc.returncode, proc.stderr)


def _program_would_start(run: Prepared) -> bool:
    """The loader outside trace mode (`ld.so --list`) stops at the first library it really needs and
    cannot find, and ignores what it may ignore (a missing DT_AUXILIARY filtee): elfdeps' exit code
    follows that, not the count of "not found" lines of the trace."""
    env = {k: v for k, v in loader_env(run.ld_library_path, run.preload).items() if k != "LD_TRACE_LOADED_OBJECTS"}
    proc = subprocess.run(
        [RTLD, "--list", os.path.realpath(run.program)], env=env, cwd=run.cwd, capture_output=True, check=False
    )
    return proc.returncode == 0


# ------------------------------------------------------------------------------- 3. provenance


def _normalised(entry: dict[str, object]) -> tuple[object, object, object]:
    outcome = "absent" if entry["outcome"] == "no-directory" else entry["outcome"]  # NO_DIRECTORY_IS_ABSENT
    return entry["path"], entry["source"], outcome


@pytest.mark.parametrize("name", NAMES)
def test_provenance(name: str) -> None:
    run = prepared(name)
    proc = _elfdeps(run, "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)["files"][0]
    if run.scenario.fatal:
        fatal = run.scenario.fatal
        error = report["load_error"]
        assert error is not None and error["message"] == fatal.message, error
        assert run.fill(fatal.subject) in (error["name"], error["path"]), error
        return
    objects = report["objects"][1:]
    for raw in run.scenario.expect:
        expected = run.expect(raw)
        hits = [o for o in objects if o["name"] == expected.name]
        assert expected.occurrence < len(hits), f"{expected.name} not among {[o['name'] for o in objects]}"
        got = hits[expected.occurrence]
        assert (got["path"], got["found"]) == (expected.path, expected.path is not None), got
        assert got["via"] == expected.via, got
        if expected.owner is not None:
            assert got["via_owner"] == expected.owner
        if expected.searched is not None:
            assert [_normalised(entry) for entry in got["searched"]] == [
                (t.path, t.source, t.outcome) for t in expected.searched
            ]
            owners = [(entry["path"], entry["owner"]) for entry in got["searched"]]
            for t in expected.searched:
                if t.owner is not None:
                    assert (t.path, t.owner) in owners, (t, owners)
