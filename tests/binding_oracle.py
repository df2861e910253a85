"""The real loader as the oracle of symbol binding: what `ldd -r`, `ldd -d`, `ldd -u` and
`LD_DEBUG=bindings` say about a file, obtained the way /usr/bin/ldd gets it (loader.md 10.7):

    LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes /lib64/ld-linux-x86-64.so.2 FILE   (ldd -r)
    LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes /lib64/ld-linux-x86-64.so.2 FILE                   (ldd -d)
    LD_TRACE_LOADED_OBJECTS=1 LD_DEBUG=unused /lib64/ld-linux-x86-64.so.2 FILE                (ldd -u)

Trace mode maps and relocates (with IFUNC resolvers suppressed) but never runs FILE. The environment is
cleared except what the caller sets. Give the real path: ld.so names the main program as given.
An ELFCLASS32 file is given to the i386 loader, /lib/ld-linux.so.2 (Debian libc6-i386, which
gcc-12-multilib installs): `LD_TRACE_LOADED_OBJECTS=1 LD_WARN=1 LD_BIND_NOW=1 /lib/ld-linux.so.2 FILE` is
ldd -r for it, as /usr/bin/ldd's RTLDLIST would choose it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

__all__ = [
    "RTLD",
    "RTLD32",
    "Binding",
    "LoaderReport",
    "Unresolved",
    "VersionMissing",
    "bindings",
    "ldd_d",
    "ldd_r",
    "ldd_u",
    "loader_for",
]

RTLD = "/lib64/ld-linux-x86-64.so.2"
RTLD32 = "/lib/ld-linux.so.2"
_UNDEFINED = re.compile(r"^undefined symbol: (\S+?)(?:, version (\S+))?\t\((.*)\)$")
_VERSION = re.compile(r"^.*: (.*): version `(.*)' not found \(required by (.*)\)$")
_BINDING = re.compile(
    r"^\s*\d+:\s+binding file (.*) \[\d+\] to (.*) \[\d+\]: (normal|protected) symbol `(.*)'(?: \[(.*)\])?$"
)


@dataclass(frozen=True)
class Unresolved:
    object: str  # the referencing object's l_name (main: the path given)
    symbol: str
    version: str | None


@dataclass(frozen=True)
class VersionMissing:
    requester: str
    library: str  # the providing object's l_name
    version: str


@dataclass(frozen=True)
class Binding:
    object: str
    target: str
    symbol: str
    version: str | None


@dataclass(frozen=True)
class LoaderReport:
    returncode: int
    stdout: str
    stderr: str
    unresolved: frozenset[Unresolved]
    versions: frozenset[VersionMissing]

    @property
    def not_found(self) -> frozenset[str]:
        """The names the trace lists as `NAME => not found`."""
        return frozenset(
            line.strip()[: -len(" => not found")] for line in self.stdout.splitlines() if line.endswith(" => not found")
        )

    @property
    def stopped(self) -> bool:
        """The loader stopped with a fatal error (a bad candidate, ...), so nothing was relocated."""
        return self.returncode != 0


def loader_for(path: str) -> str:
    """The loader that runs ``path``: the i386 one for an ELFCLASS32 file, else the x86-64 one."""
    with open(path, "rb") as handle:
        return RTLD32 if handle.read(5)[4:] == b"\x01" else RTLD


def _run(path: str, env: dict[str, str], cwd: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "LD_TRACE_LOADED_OBJECTS": "1", **env}
    return subprocess.run(
        [loader_for(path), path],
        env=environment,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
        encoding="utf-8",
        errors="surrogateescape",
    )


def _report(proc: subprocess.CompletedProcess[str]) -> LoaderReport:
    unresolved, versions = set(), set()
    for line in (proc.stderr + proc.stdout).splitlines():
        if match := _UNDEFINED.match(line):
            unresolved.add(Unresolved(match[3], match[1], match[2]))
        elif match := _VERSION.match(line):
            versions.add(VersionMissing(match[3], match[1], match[2]))
    return LoaderReport(proc.returncode, proc.stdout, proc.stderr, frozenset(unresolved), frozenset(versions))


def ldd_r(path: str, ld_library_path: str | None = None, cwd: str | None = None, timeout: float = 60) -> LoaderReport:
    """Every relocation of every object but ld.so processed at once: all unresolved strong references."""
    env = {"LD_WARN": "yes", "LD_BIND_NOW": "yes"}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    return _report(_run(path, env, cwd, timeout))


def ldd_d(path: str, ld_library_path: str | None = None, cwd: str | None = None, timeout: float = 60) -> LoaderReport:
    """Lazy mode: only what fails at start-up (data, GLOB_DAT, -z now objects), not lazy PLT calls."""
    env = {"LD_WARN": "yes"}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    return _report(_run(path, env, cwd, timeout))


def ldd_u(path: str, ld_library_path: str | None = None, cwd: str | None = None, timeout: float = 60) -> list[str]:
    """The l_names ldd -u prints under "Unused direct dependencies:" (main's DT_NEEDED only)."""
    env = {"LD_DEBUG": "unused"}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    proc = _run(path, env, cwd, timeout)
    lines = (proc.stdout + proc.stderr).splitlines()
    if "Unused direct dependencies:" not in lines:
        return []
    start = lines.index("Unused direct dependencies:") + 1
    return [line.strip() for line in lines[start:] if line.startswith("\t")]


def bindings(
    path: str, ld_library_path: str | None = None, cwd: str | None = None, timeout: float = 60
) -> list[Binding]:
    """Every `binding file A to B: normal symbol 'S' [V]` line of LD_DEBUG=bindings under ldd -r."""
    env = {"LD_WARN": "yes", "LD_BIND_NOW": "yes", "LD_DEBUG": "bindings"}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    proc = _run(path, env, cwd, timeout)
    found = []
    for line in proc.stderr.splitlines():
        if match := _BINDING.match(line):
            found.append(Binding(match[1], match[2], match[4], match[5]))
    return found
