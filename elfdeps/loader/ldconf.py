"""Parses ld.so.conf as glibc 2.36 ldconfig does (elf/ldconfig.c: parse_conf, parse_conf_include).

One directory per line, '#' comments, trailing '/' and an '=TYPE' suffix removed, 'include' with
space-separated glob patterns relative to the including file, processed in sorted order, recursively;
'hwcap' lines are ignored (support was removed in 2.32). ld.so never reads this file: elfdeps uses it
to explain a stale cache and, for a sysroot without ld.so.cache, to build one.
"""

from __future__ import annotations

import os

from elfdeps.loader.fs import RootFS

__all__ = ["read_ld_so_conf"]

MAX_INCLUDE_DEPTH = 16  # include cycles stop here


def read_ld_so_conf(fs: RootFS, path: str) -> tuple[str, ...]:
    directories: list[str] = []
    _parse(fs, path, directories, depth=0, seen=set())
    unique: list[str] = []
    for directory in directories:
        if directory not in unique:
            unique.append(directory)
    return tuple(unique)


def _parse(fs: RootFS, path: str, out: list[str], depth: int, seen: set[str]) -> None:
    if depth > MAX_INCLUDE_DEPTH or path in seen:
        return
    seen.add(path)
    data = fs.read_bytes(path)
    if data is None:
        return
    here = os.path.dirname(path)
    for raw_line in data.decode(errors="surrogateescape").splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        keyword = line.split(None, 1)[0]
        if keyword == "include":
            patterns = line[len("include") :].split()
            for pattern in patterns:
                full = pattern if pattern.startswith("/") else os.path.join(here, pattern)
                for match in fs.glob(full):
                    _parse(fs, match, out, depth + 1, seen)
            continue
        if keyword == "hwcap":
            continue
        directory = line
        if "=" in directory:
            directory = directory.rsplit("=", 1)[0].rstrip()
        while len(directory) > 1 and directory.endswith("/"):
            directory = directory[:-1]
        out.append(directory)
