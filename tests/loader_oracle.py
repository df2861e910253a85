"""The real loader as the oracle of the loader scenarios: its trace (what ldd prints) and its search log.

- ``trace``: `LD_TRACE_LOADED_OBJECTS=1 /lib64/ld-linux-x86-64.so.2 REALPATH` with the environment
  cleared except what the scenario sets, normalised: the ` (0x...)` suffixes and the vDSO line dropped.
- ``lookups``: the same run with `LD_DEBUG=libs`, parsed into one Lookup per "find library=NAME"
  (every search the loader made, in order) with the files it tried and the list each came from.

Tolerances, each written down where it is applied:
- LEGACY_AND_HWCAPS_PROBES: the loader logs a candidate for every glibc-hwcaps and legacy subdirectory
  of each directory; scenario expectations name one candidate per directory, so ``base_tries`` drops
  the subdirectory candidates of a directory whose own candidate follows in the same list.
- SHARED_SEARCH_ELEMENT (avoided, not tolerated): a directory string already in another object's
  list is one shared element (dl-load.c fillin_rpath), and the log labels it with the *first* list
  that named it. Scenarios whose provenance is checked therefore never list one directory string in
  two lists (fixtures/README.md).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

RTLD = "/lib64/ld-linux-x86-64.so.2"
_ADDRESS = re.compile(r" \(0x[0-9a-f]+\)$")
_VDSO = ("linux-vdso.so.1", "linux-gate.so.1")
_DEBUG = re.compile(r"^\s*\d+:\t?(.*)$")
_LABEL = re.compile(r"^(RPATH|RUNPATH) from file (.*)$")
_SOURCES = {"LD_LIBRARY_PATH": "ld_library_path", "system search path": "default"}


@dataclass(frozen=True)
class Trace:
    lines: tuple[str, ...]
    returncode: int
    stderr: str


@dataclass(frozen=True)
class Tried:
    path: str
    source: str  # the elfdeps `via` vocabulary: rpath, runpath, ld_library_path, ld_so_cache, default
    owner: str | None  # first object that listed the directory (SHARED_SEARCH_ELEMENT)


@dataclass(frozen=True)
class Lookup:
    name: str
    tried: tuple[Tried, ...]


def loader_env(ld_library_path: str | None, preload: str | None, **extra: str) -> dict[str, str]:
    env = {"LD_TRACE_LOADED_OBJECTS": "1", **extra}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    if preload is not None:
        env["LD_PRELOAD"] = preload
    return env


def trace(program: str, env: dict[str, str], cwd: str, timeout: float = 20) -> Trace:
    proc = subprocess.run([RTLD, program], env=env, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    lines = []
    for raw in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        line = _ADDRESS.sub("", raw)
        if line.strip() not in _VDSO:
            lines.append(line)
    return Trace(tuple(lines), proc.returncode, proc.stderr.decode("utf-8", "replace"))


def parse_line(line: str) -> tuple[str, str | None]:
    """(requested name, path or None for not found) of one trace line."""
    text = line.strip()
    if " => " not in text:
        return text, text
    name, path = text.split(" => ", 1)
    return name, None if path == "not found" else path


def lookups(program: str, env: dict[str, str], cwd: str, timeout: float = 20) -> tuple[Lookup, ...]:
    proc = subprocess.run(
        [RTLD, program],
        env={**env, "LD_DEBUG": "libs"},
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    found: list[Lookup] = []
    name: str | None = None
    tried: list[Tried] = []
    source, owner = "", None
    for raw in proc.stderr.decode("utf-8", "surrogateescape").splitlines():
        match = _DEBUG.match(raw)
        if not match:
            continue
        text = match[1].strip()
        if text.startswith("find library="):
            if name is not None:
                found.append(Lookup(name, tuple(tried)))
            name, tried = text[len("find library=") :].rsplit(" [", 1)[0], []
        elif name is None:
            continue
        elif text.startswith("search cache="):
            source, owner = "ld_so_cache", None
        elif text.startswith("search path="):
            label = text.rsplit("(", 1)[1].rstrip(")")
            kind = _LABEL.match(label)
            source, owner = (kind[1].lower(), kind[2]) if kind else (_SOURCES[label], None)
        elif text.startswith("trying file="):
            tried.append(Tried(text[len("trying file=") :], source, owner))
        elif not text:
            found.append(Lookup(name, tuple(tried)))
            name = None
    if name is not None:
        found.append(Lookup(name, tuple(tried)))
    return tuple(found)


def base_tries(lookup: Lookup, subdir_names: tuple[str, ...]) -> tuple[Tried, ...]:
    """The lookup's candidates without the hwcaps/legacy subdirectory ones (LEGACY_AND_HWCAPS_PROBES)."""
    legacy = "|".join(re.escape(name) for name in subdir_names)
    subdir = re.compile(rf"^(glibc-hwcaps/[^/]+/|(({legacy})/){{1,3}})$")
    kept = []
    for i, tried in enumerate(lookup.tried):
        later = lookup.tried[i + 1 :]
        if not any(
            other.source == tried.source
            and other.path.endswith(lookup.name)
            and tried.path.startswith(other.path[: -len(lookup.name)])
            and tried.path.endswith(lookup.name)
            and subdir.match(tried.path[len(other.path) - len(lookup.name) : -len(lookup.name)])
            for other in later
        ):
            kept.append(tried)
    return tuple(kept)


def directory_exists(path: str, cwd: str) -> bool:
    """Whether the directory part of a candidate exists, a relative one taken from ``cwd``."""
    return os.path.isdir(os.path.join(cwd, os.path.dirname(path) or "."))
