"""The real loader as an oracle: ld.so in trace mode (what ldd runs), with the environment controlled.

`LD_TRACE_LOADED_OBJECTS=1 /lib64/ld-linux-x86-64.so.2 FILE` maps FILE and its dependencies and
prints the list; it relocates and runs nothing of FILE (elfdeps itself never does even that).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

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


def system_elf_files(
    roots: tuple[str, ...] = ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu"),
) -> list[str]:
    """Every regular ELF file below the roots (symlinks skipped: their targets are listed themselves)."""
    found = []
    for root in roots:
        for directory, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                if not os.path.islink(path) and os.path.isfile(path) and is_elf(path):
                    found.append(path)
    return sorted(found)
