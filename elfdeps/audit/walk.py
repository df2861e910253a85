"""Which files an audit looks at: the files named, and the ELF programs and libraries under the
directories named, each build once.

A cargo target directory holds every build twice or three times: `target/debug/app` is a hard link
(or a copy) of `deps/app-<hash>`, and each build script is `build/<pkg>-<hash>/build-script-build`
plus a hard link. Files with the same identity (st_dev, st_ino) or the same bytes are one entry (the
path a user runs is kept: outside `deps/`, then the shortest); build-script programs, which cargo runs
at build time and never ships, are left out. Both are counted for the report.
"""

from __future__ import annotations

import os

from elfdeps.elf import constants as C
from elfdeps.elf.cache import read_head
from elfdeps.errors import InputError
from elfdeps.facts import TYPE_CHECKING, Fact

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Walk", "is_build_script", "walk"]


class Walk(Fact):
    files: tuple[str, ...]  # to audit, in walk order
    copies: tuple[tuple[str, str], ...]  # (a path left out, the audited path with the same contents)
    build_scripts: tuple[str, ...]  # cargo build-script programs left out


def _looks_like_loadable_elf(path: str) -> bool:
    """ELF magic and, when the header is there, an executable or shared object: object files (.o),
    core dumps and archives met in a directory walk are not programs to audit. A damaged header
    still counts, so that malformed-elf reports it."""
    head = read_head(path, 18)
    if head is None or head[:4] != C.ELF_MAGIC:
        return False
    if len(head) < 18:
        return True
    e_type = int.from_bytes(head[16:18], "big" if head[5] == C.ELFDATA2MSB else "little")
    return e_type not in (C.ET_REL, C.ET_CORE)


def is_build_script(path: str) -> bool:
    """A cargo build-script program: target/<profile>/build/<package>-<hash>/build-script-build (or
    its hard link build_script_build-<hash>)."""
    directory, name = os.path.split(path)
    package, _, digest = os.path.basename(directory).rpartition("-")
    in_build_dir = os.path.basename(os.path.dirname(directory)) == "build"
    hashed = len(digest) == 16 and all(char in "0123456789abcdef" for char in digest) and bool(package)
    return in_build_dir and hashed and (name == "build-script-build" or name.startswith("build_script_build-"))


def _walked(directory: str) -> list[str]:
    found = []
    for parent, subdirs, names in os.walk(directory):
        subdirs.sort()
        for name in sorted(names):
            candidate = os.path.join(parent, name)
            # Symlinks are skipped: their targets are audited where they are.
            if not os.path.islink(candidate) and _looks_like_loadable_elf(candidate):
                found.append(candidate)
    return found


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            import hashlib  # only files of equal size are compared: most walks never need it

            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _preference(path: str) -> tuple[bool, int, str]:
    return (f"{os.sep}deps{os.sep}" in path, len(path), path)


def _one_per_build(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The paths with one per identity or contents, and the ones left out with what they copy."""
    groups: dict[object, list[str]] = {}
    by_size: dict[int, list[str]] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            groups[("unreadable", path)] = [path]
            continue
        groups.setdefault((st.st_dev, st.st_ino), []).append(path)
        by_size.setdefault(st.st_size, []).append(path)
    # Same size and same bytes, different identities: a copy (cargo uplifts by copy where it cannot link).
    first_of_identity = {members[0]: key for key, members in groups.items()}
    for same_size in by_size.values():
        leaders = [path for path in same_size if path in first_of_identity]
        if len(leaders) < 2:
            continue
        by_digest: dict[str, list[str]] = {}
        for path in leaders:
            digest = _digest(path)
            if digest is not None:
                by_digest.setdefault(digest, []).append(path)
        for same in by_digest.values():
            keep = first_of_identity[same[0]]
            for other in same[1:]:
                groups[keep] += groups.pop(first_of_identity[other])
    kept: set[str] = set()
    copies: list[tuple[str, str]] = []
    for members in groups.values():
        best = min(members, key=_preference)
        kept.add(best)
        copies += [(member, best) for member in members if member != best]
    return [path for path in paths if path in kept], sorted(copies)


def walk(paths: Iterable[str]) -> Walk:
    """The files to audit: files named directly (a missing one raises InputError) and, under named
    directories, each ELF program or library once, build scripts left out."""
    named: list[str] = []
    walked: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            walked += _walked(path)
        elif os.path.lexists(path):
            named.append(path)
        else:
            raise InputError(f"{path}: No such file or directory")
    scripts = [path for path in walked if is_build_script(path)]
    left_out = set(scripts) | set(named)
    unique, copies = _one_per_build([path for path in walked if path not in left_out])
    return Walk((*named, *unique), tuple(copies), tuple(scripts))
