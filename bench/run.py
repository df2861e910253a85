"""Time `elfdeps list` against lddtree, libtree and ldd in one run, and check DESIGN.md §7's budgets.

Targets: a small system binary (default /usr/bin/ls), and the synthetic trees of 200 and 400 libraries
built by make_tree.py. Tools, each given the target's real path:

    elfdeps list (python -m)   sys.executable -m elfdeps list T      (this checkout, via PYTHONPATH)
    elfdeps list (script)      elfdeps list T                        (only if the console script is ours)
    lddtree -l                 sys.executable /usr/bin/lddtree -l T  (pax-utils; same interpreter as elfdeps)
    libtree                    libtree T
    ldd                        ldd T                                 (glibc's: runs the loader in trace mode)
    elfdeps audit / lddtree    only when `elfdeps audit` exists: DESIGN.md's audit budget (tree-only lddtree)

The audit budgets, each group of commands timed in one hyperfine run:

    rustc (default; --no-rustc skips it): $(rustc --print sysroot)/bin/rustc, librustc_driver + libLLVM
        elfdeps audit --no-env --no-progress R, elfdeps symbols --no-env R   (python -m, the venv's install)
        sys.executable ELFDEPS audit --no-env --no-progress R                (the installed command, if ours)
        sys.executable /usr/bin/lddtree R                                    (tree mode)
        sys.executable -c pass                                               (start-up floor)
      then --pairs N (default 30) alternated pairs of each audit and lddtree (bench/alternate.py): the
      median of the per-pair ratios is checked against the budget beside hyperfine's ratio of means
      (a noisy neighbour moves the means of two separately timed blocks; a pair sees one minute)
    --audit-system [DIR] (default /usr/lib/x86_64-linux-gnu; slow: --audit-runs runs, 1 warm-up)
        elfdeps audit --no-env --no-progress -o /dev/null -j 1|-j 2 DIR      (one run over the directory; the
                                                                     budget: -j 2's text report; JSON beside)
        sh -c 'while IFS= read -r f; do ldd -r "$f" ...; done < LIST'         (every ELF file of the same walk)

lddtree is run by the same interpreter as elfdeps, not through its `#!/usr/bin/env python3` line: on a
pyenv machine that line goes through a bash shim costing ~150 ms per call, which is not lddtree's cost.

The package is byte-compiled first (compileall), so that PYTHONDONTWRITEBYTECODE in the environment
does not make every elfdeps run compile its modules again.

Timing: hyperfine (`-N`, warm-up, at least --runs runs, --export-json) when installed, else a Python loop
(same warm-up and run counts, wall time around subprocess.run). Every command runs with LD_LIBRARY_PATH
and LD_PRELOAD removed from the environment.

Outputs: a markdown table on stdout, bench/out/results.md, bench/out/results.json, and hyperfine's JSON
per measurement (per group for the audit budgets) in bench/out/hyperfine/. Exit status 0, or 1 with
--strict when a budget fails or elfdeps disagrees with ldd.

Usage: python bench/run.py [--runs 10] [--warmup 3] [--small /usr/bin/ls] [--no-hyperfine] [--strict]
                           [--rustc PATH | --no-rustc] [--audit-system [DIR]] [--audit-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import alternate
import make_tree

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT = BENCH_DIR / "out"
# Every timed command runs from "/": from the checkout, `python -m elfdeps` would import the source tree
# instead of the venv's install, and `elfdeps audit` would read the checkout's pyproject.toml as its
# settings file (a project's own configuration is not what the budgets compare).
RUN_DIR = "/"
LDDTREE = "/usr/bin/lddtree"

LIST_BUDGET = 1 / 3  # elfdeps list / lddtree -l, small binary and 200-library tree
AUDIT_BUDGET = 3 / 4  # elfdeps audit / lddtree (tree mode) on rustc's tree (DESIGN.md §7; long term 1/2)
SYSTEM_BUDGET = 0.4  # elfdeps audit -j 2 DIR / `ldd -r` on each ELF file of DIR (DESIGN.md §7)
RUST_BUDGET = 1.0  # elfdeps audit of the 60-dylib workspace / lddtree's tree alone (issue 6)
RUST_WORKSPACE = "rust-60"  # the key of the generated prefer-dynamic workspace's target
VENV = OUT / "venv"  # the plain venv the figures come from (DESIGN.md §7)
SYSTEM_DIR = "/usr/lib/x86_64-linux-gnu"
RUSTC = "rustc"  # the key of rustc's target
SCALING_BUDGET = 2.2  # time(400) / time(200): "doubling the tree at most doubles the time (+10%)"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    path: str


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    argv: tuple[str, ...]  # the target's path is appended
    path_arg: bool = True  # False: argv is the whole command (e.g. a loop reading a file list)

    def command(self, target: Target) -> list[str]:
        return [*self.argv, target.path] if self.path_arg else list(self.argv)


@dataclass
class Measurement:
    tool: str
    tool_label: str
    target: str
    command: str
    exit_code: int
    mean_ms: float
    stddev_ms: float
    median_ms: float
    min_ms: float
    max_ms: float
    runs: int
    timer: str
    hyperfine_json: str | None = None


@dataclass
class Pairs:
    """Two commands timed back to back, alternating (bench/alternate.py): the median of the per-pair ratios
    is what a noisy neighbour moves least (both commands of a pair see the same minute)."""

    tool: str
    peer: str
    target: str
    count: int
    median: float
    low: float
    high: float
    over_limit: int  # pairs whose ratio is above the budget's limit
    tool_ms: float  # medians of each side's times
    peer_ms: float


@dataclass
class Check:
    name: str
    value: float | None
    limit: float
    ok: bool | None  # None: not measured
    detail: str = ""


@dataclass
class Report:
    meta: dict[str, object] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    pairs: list[Pairs] = field(default_factory=list)
    agreement: list[dict[str, object]] = field(default_factory=list)
    budgets: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- environment


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH")}
    if not IN_VENV:  # the venv runs the copy pip installed there; otherwise this checkout
        env["PYTHONPATH"] = str(REPO)
    return env


IN_VENV = os.environ.get("ELFDEPS_BENCH_VENV") == str(VENV)


def enter_venv(install: bool) -> None:
    """Re-run this script in a plain venv (python -m venv, no site hooks of this machine) where this
    checkout is pip-installed as a user would have it (not editable), with pyelftools for lddtree."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log(f"creating the plain venv {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log("installing this checkout into the venv (pip install --no-deps .)")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True, cwd="/")
    if install and subprocess.run([str(python), "-c", "import elftools"], check=False).returncode != 0:
        subprocess.run([*pip, "pyelftools"], check=True)
    env = {**os.environ, "ELFDEPS_BENCH_VENV": str(VENV)}
    env.pop("PYTHONPATH", None)
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


def has_module(module: str) -> bool:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, check=False)
    return proc.returncode == 0


def ensure_prerequisites(install: bool) -> None:
    """apt-get the missing peers and hyperfine, pip-install pyelftools for lddtree (when allowed)."""
    packages = {"hyperfine": "hyperfine", "lddtree": "pax-utils", "libtree": "libtree", "gcc": "gcc"}
    missing = sorted({pkg for cmd, pkg in packages.items() if shutil.which(cmd) is None})
    if missing:
        if install and shutil.which("apt-get") and os.geteuid() == 0:
            log(f"apt-get install -y {' '.join(missing)}")
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", *missing],
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        else:
            log(f"missing (not installing): {' '.join(missing)}")
    if shutil.which("lddtree") and not has_module("elftools"):
        if install:
            log("pip install pyelftools (for lddtree)")
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyelftools"], check=False)
        else:
            log("pyelftools missing: lddtree will not run")


def compile_package() -> None:
    """Byte-compile elfdeps before timing: with PYTHONDONTWRITEBYTECODE set (some CI images, containers)
    nothing else would write the .pyc files, and every timed run would compile its modules again.
    compileall writes them whatever that variable says; lddtree's pyelftools was compiled by pip."""
    target = str(REPO / "elfdeps")
    if IN_VENV:  # the installed copy: pip compiled it, unless PYTHONDONTWRITEBYTECODE stopped it
        import elfdeps

        target = os.path.dirname(elfdeps.__file__)
    proc = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", target], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        log(f"compileall failed (timing anyway): {(proc.stdout + proc.stderr).strip()[-500:]}")


def tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0] if out else None


def machine_meta() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "elfdeps"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_1min_at_start": load,
        "kernel": platform.release(),
        "python": f"{sys.executable} ({platform.python_version()})",
        "elfdeps_commit": (commit + ("+dirty" if dirty else "")) or None,
        "hyperfine": tool_version(["hyperfine", "--version"]),
        "libtree": tool_version(["libtree", "--version"]),
        "ldd": tool_version(["ldd", "--version"]),
        "pyelftools": subprocess.run(
            [sys.executable, "-c", "import elftools; print(elftools.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or None,
    }


# ---------------------------------------------------------------- tools


def probe(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str] | None:
    """One run to collect the output and exit code; None if it takes over `timeout` s (a hang: not timed)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=RUN_DIR, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def select_tools(env: dict[str, str], report: Report) -> list[Tool]:
    """The tools that work on this machine; elfdeps' own only if it lists /usr/bin/true."""
    tools: list[Tool] = []
    sentinel = os.path.realpath("/usr/bin/true")
    module = Tool("elfdeps", "elfdeps list (python -m)", (sys.executable, "-m", "elfdeps", "list"))
    ref = probe([*module.argv, sentinel], env)
    if ref is not None and ref.returncode == 0 and ref.stdout.strip():
        tools.append(module)
    else:
        err = "timed out" if ref is None else (ref.stderr.strip().splitlines() or ["no output"])[-1]
        report.notes.append(f"elfdeps list does not work yet ({err}); only the peers were timed")
    # The console script pip installed for this interpreter; PATH may reach it only through a slow shim.
    sibling = Path(sys.executable).parent / "elfdeps"
    script = str(sibling) if os.access(sibling, os.X_OK) else shutil.which("elfdeps", path=env.get("PATH"))
    if script and tools:
        # PyPI's unrelated `elfdeps` package also installs an `elfdeps` command: use it only if it is ours.
        out = probe([script, "list", sentinel], env)
        if out is not None and out.returncode == 0 and out.stdout == ref.stdout:
            tools.append(Tool("elfdeps-script", "elfdeps list (script)", (script, "list")))
            report.meta["elfdeps_script"] = script
        else:
            report.notes.append(f"{script} is not this elfdeps (output differs); console script not timed")
    elif tools:
        report.notes.append("console script `elfdeps` not installed (pip install -e .); timed python -m only")
    if shutil.which("lddtree") and has_module("elftools"):
        tools.append(Tool("lddtree", "lddtree -l", (sys.executable, LDDTREE, "-l")))
    else:
        report.notes.append("lddtree (pax-utils) or pyelftools missing: lddtree not timed")
    if shutil.which("libtree"):
        tools.append(Tool("libtree", "libtree", ("libtree",)))
    else:
        report.notes.append("libtree missing: not timed")
    if shutil.which("ldd"):
        tools.append(Tool("ldd", "ldd", ("ldd",)))
    # Reference, not a peer: the interpreter's own start-up (site, .pth files) that elfdeps and lddtree
    # both pay. The target path is passed as an ignored argument.
    tools.append(Tool("python-floor", "python -c pass (start-up floor)", (sys.executable, "-c", "pass")))
    if tools and tools[0].key == "elfdeps":
        audit = probe([sys.executable, "-m", "elfdeps", "audit", "--help"], env)
        if audit is not None and audit.returncode == 0 and any(t.key == "lddtree" for t in tools):
            tools.append(Tool("elfdeps-audit", "elfdeps audit", (sys.executable, "-m", "elfdeps", "audit")))
            tools.append(Tool("lddtree-tree", "lddtree (tree)", (sys.executable, LDDTREE)))
    return tools


def find_rustc(given: str | None) -> str | None:
    """The real path of rustc's own binary: the given one, or `$(rustc --print sysroot)/bin/rustc` (the
    `rustc` on PATH is usually rustup's proxy, which links nothing of interest)."""
    if given:
        return os.path.realpath(given) if os.path.isfile(given) else None
    if shutil.which("rustc") is None:
        return None
    proc = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=False)
    path = Path(proc.stdout.strip()) / "bin" / "rustc"
    return os.path.realpath(path) if proc.returncode == 0 and path.is_file() else None


def elfdeps_has(command: str, env: dict[str, str]) -> bool:
    out = probe([sys.executable, "-m", "elfdeps", command, "--help"], env)
    return out is not None and out.returncode == 0


def rustc_tools(env: dict[str, str], report: Report) -> list[Tool]:
    """Full symbol binding of rustc's tree against lddtree's tree mode, plus the start-up floor."""
    elfdeps = (sys.executable, "-m", "elfdeps")
    tools: list[Tool] = []
    if elfdeps_has("audit", env):
        tools.append(Tool("elfdeps-audit", "elfdeps audit", (*elfdeps, "audit", "--no-env", "--no-progress")))
        script = report.meta.get("elfdeps_script")
        if isinstance(script, str):  # the command a user types, run by the same interpreter
            argv = (sys.executable, script, "audit", "--no-env", "--no-progress")
            tools.append(Tool("elfdeps-audit-script", "elfdeps audit (script)", argv))
    if elfdeps_has("symbols", env):
        tools.append(Tool("elfdeps-symbols", "elfdeps symbols", (*elfdeps, "symbols", "--no-env")))
    if not tools:
        report.notes.append("elfdeps has neither audit nor symbols: rustc not timed")
        return []
    if not (shutil.which("lddtree") and has_module("elftools")):
        report.notes.append("lddtree (pax-utils) or pyelftools missing: rustc not timed")
        return []
    tools.append(Tool("lddtree-tree", "lddtree (tree)", (sys.executable, LDDTREE)))
    tools.append(Tool("python-floor", "python -c pass (start-up floor)", (sys.executable, "-c", "pass")))
    return tools


def system_tools(env: dict[str, str], report: Report, file_list: Path) -> list[Tool]:
    """`elfdeps audit DIR` (one and two processes) against `ldd -r` on each ELF file the same walk
    finds (one shell loop)."""
    if not elfdeps_has("audit", env):
        report.notes.append("elfdeps audit does not exist: the system directory was not timed")
        return []
    if shutil.which("ldd") is None:
        report.notes.append("ldd missing: the system directory was not timed")
        return []
    # The budget times the report a user gets (text, like ldd -r's); the JSON report (16 MB for this
    # directory: every object's search) is timed beside it, for information.
    audit = (sys.executable, "-m", "elfdeps", "audit", "--no-env", "--no-progress", "-o", os.devnull)
    loop = 'while IFS= read -r f; do ldd -r "$f" >/dev/null 2>&1; done < "$1"'
    return [
        Tool("elfdeps-audit-j1", "elfdeps audit -j 1 DIR", (*audit, "-j", "1")),
        Tool("elfdeps-audit", "elfdeps audit -j 2 DIR", (*audit, "-j", "2")),
        Tool("elfdeps-audit-json", "elfdeps audit -j 2 --format json DIR", (*audit, "-j", "2", "--format", "json")),
        Tool("ldd-r-loop", "ldd -r, each ELF file", ("sh", "-c", loop, "ldd-r-loop", str(file_list)), False),
    ]


def rust_workspace_tools(env: dict[str, str], report: Report) -> list[Tool]:
    """A prefer-dynamic workspace of 60 dylib crates: elfdeps' whole audit (tree, binding, crates)
    against lddtree drawing the tree alone, both with the workspace's LD_LIBRARY_PATH."""
    if not elfdeps_has("audit", env) or not (shutil.which("lddtree") and has_module("elftools")):
        report.notes.append("elfdeps audit or lddtree missing: the Rust workspace was not timed")
        return []
    elfdeps = (sys.executable, "-m", "elfdeps", "audit", "--no-progress")
    return [
        Tool("elfdeps-audit", "elfdeps audit (tree, binding, crates)", elfdeps),
        Tool("lddtree-tree", "lddtree (tree)", (sys.executable, LDDTREE)),
        Tool("python-floor", "python -c pass (start-up floor)", (sys.executable, "-c", "pass")),
    ]


def list_elf_files(directory: str, env: dict[str, str], dest: Path) -> int | None:
    """Write the ELF files elfdeps audit would walk in `directory`, one a line; their number, or None."""
    code = "import sys\nfrom elfdeps.audit.walk import walk\nprint(*walk(sys.argv[1:]).files, sep='\\n')"
    proc = subprocess.run(
        [sys.executable, "-c", code, directory], capture_output=True, text=True, env=env, cwd=RUN_DIR, check=False
    )
    if proc.returncode != 0:
        log(f"the walk failed: {proc.stderr.strip()[-500:]}")
        return None
    files = [line for line in proc.stdout.splitlines() if line]
    dest.write_text("".join(f + "\n" for f in files))
    return len(files)


# ---------------------------------------------------------------- timing


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def time_hyperfine(
    tool: Tool, target: Target, env: dict[str, str], runs: int, warmup: int, exit_code: int
) -> Measurement:
    json_file = OUT / "hyperfine" / f"{slug(tool.key)}--{slug(target.key)}.json"
    return time_hyperfine_group([tool], target, env, runs, warmup, {tool.key: exit_code}, json_file)[0]


def time_hyperfine_group(
    tools: list[Tool],
    target: Target,
    env: dict[str, str],
    runs: int,
    warmup: int,
    exit_codes: dict[str, int],
    json_file: Path,
    exact: bool = False,
) -> list[Measurement]:
    """One hyperfine run timing each tool in turn on the target (`exact`: --runs instead of --min-runs)."""
    json_file.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "hyperfine", "-N", "--style", "basic", "--warmup", str(warmup), "--runs" if exact else "--min-runs",
        str(runs), "--export-json", str(json_file),
    ]  # fmt: skip
    if any(exit_codes[t.key] != 0 for t in tools):
        argv.append("--ignore-failure")  # e.g. a "not found": still a valid timing of the same work
    for tool in tools:
        argv += ["--command-name", f"{tool.label} {target.key}"]
    argv += [shlex.join(tool.command(target)) for tool in tools]
    proc = subprocess.run(argv, env=env, cwd=RUN_DIR, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        labels = ", ".join(t.label for t in tools)
        raise SystemExit(f"hyperfine failed for {labels} on {target.path}:\n{proc.stderr}")
    results = json.loads(json_file.read_text())["results"]
    return [
        Measurement(
            tool=tool.key,
            tool_label=tool.label,
            target=target.key,
            command=shlex.join(tool.command(target)),
            exit_code=exit_codes[tool.key],
            mean_ms=res["mean"] * 1e3,
            stddev_ms=(res["stddev"] or 0.0) * 1e3,
            median_ms=res["median"] * 1e3,
            min_ms=res["min"] * 1e3,
            max_ms=res["max"] * 1e3,
            runs=len(res["times"]),
            timer="hyperfine",
            hyperfine_json=str(json_file.relative_to(BENCH_DIR)),
        )
        for tool, res in zip(tools, results, strict=True)
    ]


def time_loop(tool: Tool, target: Target, env: dict[str, str], runs: int, warmup: int, exit_code: int) -> Measurement:
    argv = tool.command(target)
    for _ in range(warmup):
        subprocess.run(argv, env=env, cwd=RUN_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times: list[float] = []
    started = time.perf_counter()
    # Like hyperfine: at least `runs` runs and, for fast commands, at least 3 s of them (at most 1000).
    while len(times) < runs or (time.perf_counter() - started < 3.0 and len(times) < 1000):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, cwd=RUN_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return Measurement(
        tool=tool.key,
        tool_label=tool.label,
        target=target.key,
        command=shlex.join(argv),
        exit_code=exit_code,
        mean_ms=statistics.fmean(times) * 1e3,
        stddev_ms=statistics.stdev(times) * 1e3 if len(times) > 1 else 0.0,
        median_ms=statistics.median(times) * 1e3,
        min_ms=min(times) * 1e3,
        max_ms=max(times) * 1e3,
        runs=len(times),
        timer="python-loop",
    )


def measure_group(
    tools: list[Tool],
    target: Target,
    env: dict[str, str],
    report: Report,
    use_hyperfine: bool,
    runs: int,
    warmup: int,
    exact: bool = False,
    timeout: float = 120,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Probe each tool once (output, exit code, hang), then time those that finished in one hyperfine run
    (or the Python loop, tool after tool). Returns the probes' outputs."""
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    for tool in tools:
        out = probe(tool.command(target), env, timeout)
        if out is None:
            report.notes.append(f"{tool.label} on {target.key} ran over {timeout:.0f} s: not timed")
            continue
        outputs[tool.key] = out
    live = [t for t in tools if t.key in outputs]
    if not live:
        return outputs
    exit_codes = {key: out.returncode for key, out in outputs.items()}
    log(f"timing {', '.join(f'{t.label} (exit {exit_codes[t.key]})' for t in live)} on {target.key}")
    if use_hyperfine:
        json_file = OUT / "hyperfine" / f"group--{slug(target.key)}.json"
        report.measurements += time_hyperfine_group(live, target, env, runs, warmup, exit_codes, json_file, exact)
    else:
        for tool in live:
            report.measurements.append(time_loop(tool, target, env, runs, warmup, exit_codes[tool.key]))
    return outputs


def measure_pairs(tool: Tool, peer: Tool, target: Target, env: dict[str, str], count: int, limit: float) -> Pairs:
    """``tool`` and ``peer`` on ``target``, timed back to back ``count`` times, alternating."""
    log(f"timing {count} alternated pairs of {tool.label} and {peer.label} on {target.key}")
    timed = list(alternate.pairs(tool.command(target), peer.command(target), count, env))
    ratios = [a / b for a, b in timed]
    return Pairs(
        tool.key,
        peer.key,
        target.key,
        count,
        statistics.median(ratios),
        min(ratios),
        max(ratios),
        sum(ratio > limit for ratio in ratios),
        statistics.median(a for a, _ in timed) * 1000,
        statistics.median(b for _, b in timed) * 1000,
    )


# ---------------------------------------------------------------- agreement


def agreement(target: Target, outputs: dict[str, subprocess.CompletedProcess[str]]) -> dict[str, object]:
    """elfdeps list vs ldd (strict: the same set of resolved paths); lddtree/libtree: informational."""
    row: dict[str, object] = {"target": target.key}
    ldd = outputs.get("ldd")
    if ldd is None:
        row["elfdeps_vs_ldd"] = "ldd not run"
        return row
    ldd_entries = make_tree.parse_trace(ldd.stdout)
    ldd_paths = {p for _, p in ldd_entries if p}
    row["ldd_objects"] = len(ldd_entries)
    row["ldd_not_found"] = sorted(n for n, p in ldd_entries if p is None)
    for key in ("elfdeps", "elfdeps-script"):
        out = outputs.get(key)
        if out is None:
            continue
        entries = make_tree.parse_trace(out.stdout)
        paths = {p for _, p in entries if p}
        same = paths == ldd_paths and sorted(n for n, p in entries if p is None) == row["ldd_not_found"]
        row[f"{key}_objects"] = len(entries)
        row[f"{key}_same_paths"] = same
        row[f"{key}_same_order"] = entries == ldd_entries
        if not same:
            row[f"{key}_only"] = sorted(paths - ldd_paths)[:20]
            row[f"{key}_missing"] = sorted(ldd_paths - paths)[:20]
            canon = {os.path.realpath(p) for p in paths} == {os.path.realpath(p) for p in ldd_paths}
            row[f"{key}_same_after_realpath"] = canon
    lddtree = outputs.get("lddtree")
    if lddtree is not None:
        # lddtree -l prints the target itself first and normalises paths: compare real paths.
        listed = {os.path.realpath(p) for p in lddtree.stdout.split()[1:]}
        row["lddtree_same_realpaths"] = listed == {os.path.realpath(p) for p in ldd_paths}
    libtree = outputs.get("libtree")
    if libtree is not None:
        row["libtree_all_found"] = libtree.returncode == 0 and "not found" not in libtree.stdout
    return row


# ---------------------------------------------------------------- budgets and rendering


def find(report: Report, tool: str, target: str) -> Measurement | None:
    for m in report.measurements:
        if m.tool == tool and m.target == target:
            return m
    return None


def ratio_check(report: Report, name: str, num: tuple[str, str], den: tuple[str, str], limit: float) -> Check:
    a, b = find(report, *num), find(report, *den)
    if a is None or b is None:
        return Check(name, None, limit, None, "missing measurement")
    value = a.mean_ms / b.mean_ms
    return Check(name, value, limit, value <= limit, f"{a.mean_ms:.1f} ms / {b.mean_ms:.1f} ms")


def budgets(report: Report, small: str) -> list[Check]:
    specs: list[tuple[str, tuple[str, str], tuple[str, str], float]] = []
    variants = [k for k in ("elfdeps", "elfdeps-script") if any(m.tool == k for m in report.measurements)]
    for key in variants or ["elfdeps"]:
        label = "python -m" if key == "elfdeps" else "script"
        for target in (small, "tree-200"):
            name = f"list ({label}) <= 1/3 lddtree -l, {target}"
            specs.append((name, (key, target), ("lddtree", target), LIST_BUDGET))
        name = f"list ({label}) time(400) <= 2.2 x time(200)"
        specs.append((name, (key, "tree-400"), (key, "tree-200"), SCALING_BUDGET))
    for key, what in (
        ("elfdeps-audit", "audit"),
        ("elfdeps-audit-script", "audit (script)"),
        ("elfdeps-symbols", "symbols"),
    ):
        if find(report, key, RUSTC):
            name = f"{what} <= 3/4 lddtree (tree), {RUSTC}"
            specs.append((name, (key, RUSTC), ("lddtree-tree", RUSTC), AUDIT_BUDGET))
    if find(report, "elfdeps-audit", RUST_WORKSPACE):
        name = f"audit <= lddtree (tree), {RUST_WORKSPACE}"
        specs.append((name, ("elfdeps-audit", RUST_WORKSPACE), ("lddtree-tree", RUST_WORKSPACE), RUST_BUDGET))
    for target in dict.fromkeys(m.target for m in report.measurements if m.tool == "ldd-r-loop"):
        name = f"audit -j 2 DIR <= 0.4 ldd -r on each file, {target}"
        specs.append((name, ("elfdeps-audit", target), ("ldd-r-loop", target), SYSTEM_BUDGET))
        name = f"audit -j 2 DIR faster than -j 1, {target}"
        specs.append((name, ("elfdeps-audit", target), ("elfdeps-audit-j1", target), 1.0))
    return [ratio_check(report, *spec) for spec in specs] + [pairs_check(pairs) for pairs in report.pairs]


def pairs_check(pairs: Pairs) -> Check:
    what = "audit (script)" if pairs.tool == "elfdeps-audit-script" else "audit"
    name = f"{what} <= 3/4 lddtree (tree), {pairs.target}, median of {pairs.count} alternated pairs"
    detail = (
        f"pairs {pairs.low:.2f}-{pairs.high:.2f}, {pairs.over_limit} over the limit; "
        f"medians {pairs.tool_ms:.1f} ms / {pairs.peer_ms:.1f} ms"
    )
    return Check(name, pairs.median, AUDIT_BUDGET, pairs.median <= AUDIT_BUDGET, detail)


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def render(report: Report, targets: list[Target]) -> str:
    lines = ["# elfdeps benchmark", ""]
    meta = report.meta
    lines.append(
        f"{meta.get('date')} · {meta.get('cpu')} x {meta.get('cpus')} · kernel {meta.get('kernel')} · "
        f"Python {platform.python_version()} · elfdeps {meta.get('elfdeps_commit')} · timer: "
        f"{meta.get('timer')} (warm-up {meta.get('warmup')}, ≥{meta.get('min_runs')} runs)"
    )
    lines.append("")
    lines.append("Targets: " + "; ".join(f"`{t.key}` = {t.label}" for t in targets))
    lines.append("")
    lines.append("| tool | target | mean ± sd (ms) | min (ms) | runs | elfdeps/peer |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: |")
    for target in targets:
        primary = find(report, "elfdeps", target.key)
        for m in report.measurements:
            if m.target != target.key:
                continue
            if m.tool.startswith("elfdeps") or m.tool == "python-floor":
                ratio = "—"
            elif m.tool in ("lddtree-tree", "ldd-r-loop"):
                ratios = [
                    f"{e.mean_ms / m.mean_ms:.2f} ({what})"
                    for key, what in (
                        ("elfdeps-audit", "audit"),
                        ("elfdeps-audit-script", "audit, script"),
                        ("elfdeps-symbols", "symbols"),
                    )
                    if (e := find(report, key, target.key))
                ]
                ratio = ", ".join(ratios) or "—"
            else:
                ratio = f"{primary.mean_ms / m.mean_ms:.2f}" if primary else "—"
            flag = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
            lines.append(
                f"| {m.tool_label}{flag} | {m.target} | {fmt_ms(m.mean_ms)} ± {fmt_ms(m.stddev_ms)} | "
                f"{fmt_ms(m.min_ms)} | {m.runs} | {ratio} |"
            )
    lines += ["", "## Budgets (DESIGN.md §7; rustc and system directory: the audit issue's)", ""]
    lines += ["| check | value | limit | result |", "| --- | ---: | ---: | --- |"]
    for c in report.budgets:
        value = "—" if c.value is None else f"{c.value:.2f}"
        result = "not measured" if c.ok is None else ("PASS" if c.ok else "FAIL") + f" ({c.detail})"
        lines.append(f"| {c.name} | {value} | {c.limit:.2f} | {result} |")
    lines += ["", "## Output agreement", ""]
    for row in report.agreement:
        parts = [f"ldd: {row.get('ldd_objects')} objects"]
        for key in ("elfdeps", "elfdeps-script"):
            if f"{key}_same_paths" in row:
                same = "same paths" if row[f"{key}_same_paths"] else "DIFFERENT paths"
                order = "same order" if row[f"{key}_same_order"] else "different order"
                parts.append(f"{key}: {row[f'{key}_objects']} objects, {same}, {order}")
        if "lddtree_same_realpaths" in row:
            same_files = row["lddtree_same_realpaths"]
            parts.append("lddtree -l: " + ("same files" if same_files else "different files"))
        if "libtree_all_found" in row:
            parts.append("libtree: " + ("all found" if row["libtree_all_found"] else "something not found"))
        lines.append(f"- `{row['target']}`: " + "; ".join(parts))
    if report.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="minimum timed runs per measurement (≥10)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--small", default="/usr/bin/ls", help="the small system binary")
    parser.add_argument("--sizes", default="200,400", help="tree sizes; the budgets need 200 and 400")
    parser.add_argument("--no-hyperfine", action="store_true", help="use the Python timing loop")
    parser.add_argument("--no-install", action="store_true", help="never apt-get/pip install")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget fails or outputs differ")
    parser.add_argument("--rustc", metavar="PATH", help="rustc binary (default: $(rustc --print sysroot)/bin/rustc)")
    parser.add_argument("--no-rustc", action="store_true", help="skip the rustc symbol-binding budget")
    parser.add_argument(
        "--pairs", type=int, default=30, help="alternated pairs of the rustc audit and lddtree (0: none)"
    )
    parser.add_argument(
        "--audit-system",
        nargs="?",
        const=SYSTEM_DIR,
        metavar="DIR",
        help=f"also time `elfdeps audit DIR` against `ldd -r` on each of its ELF files (DIR: {SYSTEM_DIR}; slow)",
    )
    parser.add_argument("--audit-runs", type=int, default=3, help="timed runs of --audit-system (1 warm-up)")
    parser.add_argument("--no-rust-workspace", action="store_true", help="skip the 60-dylib Rust workspace")
    parser.add_argument("--no-venv", action="store_true", help="time with this interpreter, not the plain venv")
    args = parser.parse_args(argv)
    args.runs = max(args.runs, 10)
    if not args.no_venv and not IN_VENV:
        enter_venv(install=not args.no_install)

    ensure_prerequisites(install=not args.no_install)
    log("byte-compiling elfdeps")
    compile_package()
    OUT.mkdir(parents=True, exist_ok=True)
    env = clean_env()
    report = Report()
    report.meta = machine_meta()
    use_hyperfine = shutil.which("hyperfine") is not None and not args.no_hyperfine
    report.meta.update(timer="hyperfine" if use_hyperfine else "python-loop", warmup=args.warmup)
    report.meta["min_runs"] = args.runs

    small = os.path.realpath(args.small)
    targets = [Target(Path(small).name, f"{args.small} (small system binary)", small)]
    for n in (int(s) for s in args.sizes.split(",") if s):
        log(f"building/reusing the {n}-library tree")
        exe = make_tree.build(n)
        targets.append(Target(f"tree-{n}", f"{n}-library synthetic tree ({exe})", os.path.realpath(exe)))

    tools = select_tools(env, report)
    timer = time_hyperfine if use_hyperfine else time_loop
    for target in targets:
        outputs: dict[str, subprocess.CompletedProcess[str]] = {}
        for tool in tools:
            if tool.key == "python-floor" and target is not targets[0]:
                continue  # measured once
            out = probe(tool.command(target), env)
            if out is None:
                report.notes.append(f"{tool.label} on {target.key} ran over 2 minutes: not timed")
                continue
            outputs[tool.key] = out
            log(f"timing {tool.label} on {target.key} (exit {out.returncode})")
            report.measurements.append(timer(tool, target, env, args.runs, args.warmup, out.returncode))
        report.agreement.append(agreement(target, outputs))

    if not args.no_rustc:
        rustc = find_rustc(args.rustc)
        tools = rustc_tools(env, report) if rustc else []
        if rustc is None:
            report.notes.append(f"rustc {'(' + args.rustc + ') ' if args.rustc else ''}not found: rustc not timed")
        elif tools:
            report.meta["rustc"] = tool_version([rustc, "--version"])
            targets.append(Target(RUSTC, f"rustc's own tree ({rustc}: librustc_driver + libLLVM)", rustc))
            measure_group(tools, targets[-1], env, report, use_hyperfine, args.runs, args.warmup)
            peer = next((tool for tool in tools if tool.key == "lddtree-tree"), None)
            for tool in tools if peer is not None and args.pairs else ():
                if tool.key in ("elfdeps-audit", "elfdeps-audit-script"):
                    report.pairs.append(measure_pairs(tool, peer, targets[-1], env, args.pairs, AUDIT_BUDGET))

    if not args.no_rust_workspace and shutil.which("cargo"):
        import make_rust_workspace

        log("building/reusing the 60-dylib Rust workspace")
        workspace = make_rust_workspace.build(60)
        tools = rust_workspace_tools(env, report)
        if tools:
            rust_env = {**env, "LD_LIBRARY_PATH": workspace.ld_library_path}
            label = f"prefer-dynamic workspace of 60 dylib crates ({workspace.exe}, LD_LIBRARY_PATH given)"
            targets.append(Target(RUST_WORKSPACE, label, str(workspace.exe)))
            measure_group(tools, targets[-1], rust_env, report, use_hyperfine, args.runs, args.warmup)

    if args.audit_system:
        directory = os.path.realpath(args.audit_system)
        file_list = OUT / f"files--{slug(directory)}.txt"
        count = list_elf_files(directory, env, file_list) if os.path.isdir(directory) else None
        tools = system_tools(env, report, file_list) if count else []
        if not count:
            report.notes.append(f"--audit-system: no ELF file found in {directory}: not timed")
        elif tools:
            label = f"{directory}, {count} ELF files (list: {file_list.relative_to(BENCH_DIR)})"
            targets.append(Target(slug(directory), label, directory))
            report.meta["audit_system"] = {"dir": directory, "elf_files": count, "runs": args.audit_runs}
            runs = max(args.audit_runs, 1)
            measure_group(tools, targets[-1], env, report, use_hyperfine, runs, 1, exact=True, timeout=600)

    report.meta["targets"] = {t.key: t.path for t in targets}
    report.budgets = budgets(report, targets[0].key)
    for row in report.agreement:
        for key in ("elfdeps", "elfdeps-script"):
            if row.get(f"{key}_same_paths") is False:
                msg = (
                    f"WARNING: {key} list and ldd resolve different paths on {row['target']}: "
                    f"only elfdeps {row.get(f'{key}_only')}, only ldd {row.get(f'{key}_missing')}"
                )
                report.notes.append(msg)
                print(msg, file=sys.stderr)
    for c in report.budgets:
        if c.name.startswith("list") and "time(400)" in c.name:
            # Informational: the same ratio with the small binary's time (start-up) subtracted.
            key = "elfdeps" if "python -m" in c.name else "elfdeps-script"
            s, a, b = (find(report, key, t) for t in (targets[0].key, "tree-200", "tree-400"))
            if s and a and b and a.median_ms > s.median_ms:
                marginal = (b.median_ms - s.median_ms) / (a.median_ms - s.median_ms)
                report.notes.append(
                    f"{key}: marginal scaling (median minus the small binary's median), 400 vs 200 libs: "
                    f"{marginal:.2f}x (~2 linear, ~4 quadratic; indicative only: noisy when the tree costs "
                    "little more than start-up)"
                )

    # (elfdeps - floor) / (peer - floor); rustc's rows use the floor timed in their own hyperfine run.
    pairs = [("elfdeps", "lddtree", target, "elfdeps/lddtree") for target in (targets[0].key, "tree-200")]
    pairs += [("elfdeps-audit", "lddtree-tree", t, "audit/lddtree (tree)") for t in (targets[0].key, "tree-200")]
    pairs += [
        (key, "lddtree-tree", RUSTC, f"{what}/lddtree (tree)")
        for key, what in (("elfdeps-audit", "audit"), ("elfdeps-symbols", "symbols"))
    ]
    pairs.append(("elfdeps-audit", "lddtree-tree", RUST_WORKSPACE, "audit/lddtree (tree)"))
    for key, peer, target, what in pairs:
        floor = find(report, "python-floor", target) or find(report, "python-floor", targets[0].key)
        e, p = find(report, key, target), find(report, peer, target)
        if floor and e and p and p.mean_ms > floor.mean_ms:
            net = (e.mean_ms - floor.mean_ms) / (p.mean_ms - floor.mean_ms)
            report.notes.append(
                f"{what} on {target} net of the interpreter start-up floor ({floor.mean_ms:.1f} ms): {net:.2f}"
            )

    md = render(report, targets)
    (OUT / "results.md").write_text(md)
    data = {
        "meta": report.meta,
        "measurements": [asdict(m) for m in report.measurements],
        "agreement": report.agreement,
        "pairs": [asdict(p) for p in report.pairs],
        "budgets": [asdict(c) for c in report.budgets],
        "notes": report.notes,
    }
    (OUT / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    print(md)
    log(f"wrote {OUT / 'results.md'} and {OUT / 'results.json'}")
    failed = any(c.ok is False for c in report.budgets) or any(
        row.get(f"{k}_same_paths") is False for row in report.agreement for k in ("elfdeps", "elfdeps-script")
    )
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
