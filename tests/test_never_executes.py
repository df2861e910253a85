"""elfdeps never executes what it analyses (issue 8 part 7, DESIGN.md §5), proven with code that leaves
a mark when it runs.

The fixture (gcc, through the fixture builder) is a sysroot:
    root/lib/fake-ld.so      a real static-pie ELF, the program's PT_INTERP (-Wl,--dynamic-linker=
                             /lib/fake-ld.so): when the kernel starts it, it writes the marker "interpreter"
    root/app/prog            writes "constructor" (__attribute__((constructor))), "init_array" (an
                             .init_array entry) and "preinit_array" (a .preinit_array entry)
    root/app/libctor.so      needed by prog through RUNPATH $ORIGIN: writes "library_constructor"
Each marker is a file in $ELFDEPS_MARKER_DIR, or in <fixture>/markers when that is unset.

The control runs the program for real (through the host's ld.so, and a copy through the fake
interpreter) and sees all five markers appear; then every command (list, tree, symbols, audit; plain,
--json, SARIF; with and without --root) analyses it and no marker appears anywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fuzz.harness import COMMANDS as FUZZ_COMMANDS

from fixtures.builder import Library, Program, build

REPO = Path(__file__).resolve().parent.parent
MARKERS = ("constructor", "init_array", "preinit_array", "library_constructor", "interpreter")
HOST_RTLD = "/lib64/ld-linux-x86-64.so.2"

_MARK = r"""
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
static void mark(const char *name, char **envp) {
    char path[4096] = "@DIR@/markers";
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, "ELFDEPS_MARKER_DIR=", 19) == 0) { strncpy(path, *e + 19, 4000); path[4000] = 0; }
    strcat(path, "/");
    strcat(path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { write(fd, name, strlen(name)); close(fd); }
}
"""
_PROGRAM = (
    _MARK
    + r"""
extern int libctor_value(void);
__attribute__((constructor)) static void ctor(int argc, char **argv, char **envp) { mark("constructor", envp); }
static void from_init_array(int argc, char **argv, char **envp) { mark("init_array", envp); }
static void from_preinit_array(int argc, char **argv, char **envp) { mark("preinit_array", envp); }
__attribute__((section(".init_array"), used)) static void (*init_entry)(int, char **, char **) = from_init_array;
__attribute__((section(".preinit_array"), used))
static void (*preinit_entry)(int, char **, char **) = from_preinit_array;
int main(void) { return libctor_value() - 42; }
"""
)
_LIBRARY = (
    _MARK
    + r"""
__attribute__((constructor)) static void ctor(int argc, char **argv, char **envp) { mark("library_constructor", envp); }
int libctor_value(void) { return 42; }
"""
)
# The fake interpreter is what the kernel starts first, before any loader exists: no libc, raw x86-64
# system calls, envp found on the initial stack.
_INTERPRETER = r"""
static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
static int starts(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
__attribute__((used)) void fake_main(long *sp) {
    char **envp = (char **)(sp + 1 + sp[0] + 1);
    const char *dir = "@DIR@/markers", *name = "/interpreter";
    char path[4096];
    int n = 0;
    for (char **e = envp; *e; e++) if (starts(*e, "ELFDEPS_MARKER_DIR=")) dir = *e + 19;
    while (*dir && n < 4000) path[n++] = *dir++;
    while (*name) path[n++] = *name++;
    path[n] = 0;
    long fd = sys(2, (long)path, 01 | 0100 | 01000, 0644);  /* open(O_WRONLY | O_CREAT | O_TRUNC) */
    if (fd >= 0) { sys(1, fd, (long)"interpreter", 11); sys(3, fd, 0, 0); }
    sys(60, 0, 0, 0);  /* exit(0) */
}
__asm__(".text\n.globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call fake_main\n hlt\n");
"""
_INTERPRETER_FLAGS = ("-nostdlib", "-static-pie", "-ffreestanding", "-fno-stack-protector", "-O1", "-Wl,-e,_start")

RECIPE = (
    Program("root/lib/fake-ld.so", source=_INTERPRETER, flags=_INTERPRETER_FLAGS),
    Library("root/app/libctor.so", source=_LIBRARY),
    Program(
        "root/app/prog",
        source=_PROGRAM,
        link=("root/app/libctor.so",),
        runpath="$ORIGIN",
        flags=("-Wl,--dynamic-linker=/lib/fake-ld.so",),
    ),
)


@pytest.fixture(scope="module")
def fixture_dir() -> Path:
    directory = build("never_executes", RECIPE)
    (directory / "markers").mkdir(exist_ok=True)
    return directory


def _markers(*directories: Path) -> list[str]:
    return sorted(f"{d.name}/{p.name}" for d in directories if d.is_dir() for p in d.iterdir())


def test_markers_appear_when_the_program_really_runs(fixture_dir: Path, tmp_path: Path) -> None:
    """The control: each piece of code does run and mark when the program is started for real."""
    env = {"PATH": "/usr/bin:/bin", "ELFDEPS_MARKER_DIR": str(tmp_path)}
    program = fixture_dir / "root/app/prog"
    # The host's ld.so runs it (its own PT_INTERP, /lib/fake-ld.so, exists only inside the root).
    proc = subprocess.run([HOST_RTLD, str(program)], env=env, capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(MARKERS[:4])
    # The kernel starts the interpreter a program names: a copy pointing at the fake ld.so's host path.
    copy = tmp_path / "prog-with-host-interpreter"
    shutil.copy2(program, copy)
    interpreter = str(fixture_dir / "root/lib/fake-ld.so")
    subprocess.run(["patchelf", "--set-interpreter", interpreter, str(copy)], check=True, timeout=60)
    proc = subprocess.run([str(copy)], env=env, capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name in MARKERS) == sorted(MARKERS)
    assert _markers(fixture_dir / "markers") == [], "the control wrote where the analysis looks"


# Every command and output format the fuzz harness runs, and the one lookup by name it has no name for.
COMMANDS = (*FUZZ_COMMANDS, ("symbols", "--defines", "libctor_value"))


def _analyses(root: Path) -> list[tuple[str, list[str], int]]:
    """(what, argv, expected exit code) for every command, with and without --root, and directory audits."""
    runs = []
    for command in COMMANDS:
        # On the host: the interpreter /lib/fake-ld.so does not exist here; libctor.so and libc resolve.
        runs.append((f"{command} host", [*command, "--no-env", str(root / "app/prog")], 0))
        # In the root: its interpreter is read from inside it (never run); the root has no libc.so.6
        # (which --defines does not need).
        code = 0 if "--defines" in command else 1
        runs.append((f"{command} --root", [*command, "--no-env", "--root", str(root), "/app/prog"], code))
    for audit in (("audit",), ("audit", "--json"), ("audit", "--format", "sarif")):
        runs.append((f"{audit} of the root", [*audit, "--no-env", "--root", str(root), str(root)], 1))
        runs.append((f"{audit} of app/", [*audit, "--no-env", str(root / "app")], 0))
    return runs


def test_audit_under_root_analyses_the_root(fixture_dir: Path) -> None:
    """Expected once audit maps paths into --root as list/tree/symbols do: the root's program is audited
    (libc.so.6 is missing in this root: exit 1), whether named inside the root or by its host path."""
    import io

    from elfdeps.cli import main

    root = fixture_dir / "root"
    for target in ("/app/prog", str(root / "app/prog"), str(root)):
        out, err = io.StringIO(), io.StringIO()
        code = main(["audit", "--no-env", "--root", str(root), target], out, err)
        assert code == 1 and "missing-library" in out.getvalue(), (target, code, err.getvalue())


def test_no_command_runs_anything(fixture_dir: Path, tmp_path: Path) -> None:
    root = fixture_dir / "root"
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "ELFDEPS_MARKER_DIR": str(markers),
    }
    runs = _analyses(root)

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "elfdeps", *argv]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, [argv for _what, argv, _code in runs]))
    outcomes = {what: (proc.returncode, proc.stderr) for (what, _argv, _code), proc in zip(runs, results, strict=True)}
    expected = {what: code for what, _argv, code in runs}
    assert {what: code for what, (code, _err) in outcomes.items()} == expected, outcomes
    assert all("Traceback" not in err for _code, err in outcomes.values())
    assert _markers(markers, fixture_dir / "markers") == []
    assert len(runs) == 2 * len(COMMANDS) + 6
    # what was analysed is what would have run: the program, its library and (with --root) the interpreter
    listed = results[[what for what, _argv, _code in runs].index("('list',) host")].stdout
    assert "libctor.so => " in listed
    rooted = results[[what for what, _argv, _code in runs].index("('tree', '--json') --root")].stdout
    assert '"/lib/fake-ld.so"' in rooted
    assert os.listdir(markers) == []
