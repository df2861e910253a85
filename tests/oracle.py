"""The real loader as an oracle: ld.so in trace mode (what ldd runs), with the environment controlled.

`LD_TRACE_LOADED_OBJECTS=1 /lib64/ld-linux-x86-64.so.2 FILE` maps FILE and its dependencies and
prints the list; it relocates and runs nothing of FILE (elfdeps itself never does even that).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RTLD = "/lib64/ld-linux-x86-64.so.2"
_ADDRESS = re.compile(r" \(0x[0-9a-f]+\)$")


@dataclass(frozen=True)
class Trace:
    lines: tuple[str, ...]  # normalised: no load addresses, no vDSO line
    returncode: int
    stderr: str


def trace(path: str, env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 20) -> Trace:
    """ld.so's trace of ``path`` (give the real path: ld.so takes $ORIGIN from the path as given)."""
    environment = {"PATH": "/usr/bin:/bin", "LD_TRACE_LOADED_OBJECTS": "1", **(env or {})}
    proc = subprocess.run([RTLD, path], env=environment, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    lines = []
    for raw in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        line = _ADDRESS.sub("", raw)
        if line.strip() in ("linux-vdso.so.1", "linux-gate.so.1"):
            continue
        lines.append(line)
    return Trace(tuple(lines), proc.returncode, proc.stderr.decode("utf-8", "replace"))


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


_ROOTS = ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu")


@functools.cache
def system_elf_files(roots: tuple[str, ...] = _ROOTS) -> list[str]:
    """Every regular ELF file below the roots (symlinks skipped: their targets are listed themselves).

    Cheap at collection time: walked once per process, and whether a file is ELF is remembered across
    runs (in the fixture cache, by path, size and mtime), so a file's first bytes are read only when
    it is new or changed. Listing directories and stat'ing entries is all a rerun costs.
    """
    remembered = _load_magic_cache()
    known: dict[str, list[int | bool]] = {}
    found = []
    stack = list(roots)
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
                continue
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            old = remembered.get(entry.path)
            if old is not None and old[:2] == [stat.st_size, stat.st_mtime_ns]:
                elf = bool(old[2])
            else:
                elf = is_elf(entry.path)
            known[entry.path] = [stat.st_size, stat.st_mtime_ns, elf]
            if elf:
                found.append(entry.path)
    if known != remembered:
        _store_magic_cache(known)
    return sorted(found)


def _magic_cache_path() -> Path:
    from fixtures.builder import cache_root

    return cache_root() / "system-elf-files.json"


def _load_magic_cache() -> dict[str, list[int | bool]]:
    try:
        loaded = json.loads(_magic_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _store_magic_cache(known: dict[str, list[int | bool]]) -> None:
    """Written to a temporary file renamed into place: parallel workers never see half a file."""
    target = _magic_cache_path()
    with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=".system-elf-files-", delete=False) as handle:
        json.dump(known, handle)
    os.replace(handle.name, target)
