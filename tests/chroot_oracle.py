"""A sysroot's own loader as the oracle: the host's glibc (libc, ld.so) copied into a directory, run
under chroot(1) in trace mode (the tests run as root, as CI does). elfdeps analyses the same
directory with --root.

`env -i` inside the root sets LD_TRACE_LOADED_OBJECTS for the root's ld.so only (set outside, the
host's loader would trace chroot(1) itself); options go to ld.so before the program
(`--inhibit-cache`, `--glibc-hwcaps-mask LIST`, `--preload LIST`, ...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["HOST_LIBS", "RTLD", "chroot_trace", "make_base_sysroot"]

HOST_LIBS = "/lib/x86_64-linux-gnu"
RTLD = "/lib64/ld-linux-x86-64.so.2"


def make_base_sysroot(root: Path, libraries: tuple[str, ...] = ("libc.so.6",)) -> None:
    """A Debian-layout root: the host's ld.so and ``libraries`` in /lib/x86_64-linux-gnu, the absolute
    /lib64 symlink to the interpreter, /usr/bin/env, an empty /etc."""
    for directory in ("lib64", "lib/x86_64-linux-gnu", "usr/bin", "etc"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    for name in (*libraries, "ld-linux-x86-64.so.2"):
        shutil.copy2(os.path.realpath(f"{HOST_LIBS}/{name}"), root / "lib/x86_64-linux-gnu" / name)
    shutil.copy2("/usr/bin/env", root / "usr/bin/env")
    os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2")


def chroot_trace(root: Path, program: str, *options: str) -> list[str]:
    """The root's ld.so trace of ``program`` (a path inside the root): lines without load addresses
    and without the vDSO line."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    proc = subprocess.run(
        [chroot, str(root), "/usr/bin/env", "-i", "LD_TRACE_LOADED_OBJECTS=1", RTLD, *options, program],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [line.split(" (0x")[0] for line in proc.stdout.splitlines()]
    return [line for line in lines if line.strip() != "linux-vdso.so.1"]
