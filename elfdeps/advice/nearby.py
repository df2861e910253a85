"""For each library not found: where a file of that name does exist, and what would make it found.

Looks where such files usually are (loader.md does not: this is elfdeps' advice, not emulation):
the requester's and the main file's directories and their neighbours, a cargo ``target/*/deps``,
the Rust toolchains' ``lib/rustlib/<triple>/lib``, and ld.so.conf directories (a hit there means
a stale ld.so.cache).
"""

from __future__ import annotations

import os

from elfdeps.elf.cache import FileCache
from elfdeps.facts import TYPE_CHECKING
from elfdeps.loader.environment import TargetSystem
from elfdeps.loader.verify import VerdictKind, open_verify
from elfdeps.model import LoadedObject, LoadResult, NearbyMatch

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["explain_missing", "rust_toolchain_dirs"]

MAX_DIRECTORIES = 400
MAX_MATCHES = 5
ANCESTOR_LEVELS = 3
MAX_CLIMB = 2  # as the rpath-absolute audit rule


def _children(target: TargetSystem, directory: str, limit: int = 64) -> list[str]:
    names = target.fs.listdir(directory)[:limit]
    return [os.path.join(directory, name) for name in names if target.fs.is_directory(os.path.join(directory, name))]


def rust_toolchain_dirs(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The library directories of the installed Rust toolchains (``RUSTUP_HOME``, default ~/.rustup)."""
    home = environ.get("RUSTUP_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".rustup")
    toolchains = [os.path.join(home, "toolchains", name) for name in _listdir(os.path.join(home, "toolchains"))]
    dirs = [
        os.path.join(toolchain, "lib", "rustlib", target, "lib")
        for toolchain in toolchains
        for target in _listdir(os.path.join(toolchain, "lib", "rustlib"))
        if os.path.isdir(os.path.join(toolchain, "lib", "rustlib", target, "lib"))
    ]
    dirs += [
        os.path.join(toolchain, "lib") for toolchain in toolchains if os.path.isdir(os.path.join(toolchain, "lib"))
    ]
    return tuple(dirs)


def _listdir(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def _candidate_directories(
    target: TargetSystem, starts: list[str], toolchains: tuple[str, ...], toolchains_first: bool = False
) -> list[str]:
    found: list[str] = []

    seen: set[str] = set()

    def add(directory: str) -> None:
        key = os.path.abspath(directory)
        if key not in seen and len(found) < MAX_DIRECTORIES:
            seen.add(key)
            found.append(directory)

    # A sysroot's programs are not run with this machine's toolchains.
    local_toolchains = toolchains if target.fs.root is None else ()
    if toolchains_first:  # libstd-<hash>.so: the toolchain that built it, before copies in bundles
        for directory in local_toolchains:
            add(directory)
    for start in starts:
        directory = start
        for _level in range(ANCESTOR_LEVELS + 1):
            add(directory)
            for sub in ("lib", "lib64", "deps"):
                add(os.path.join(directory, sub))
            for child in _children(target, directory):
                add(child)
                add(os.path.join(child, "deps"))
                add(os.path.join(child, "lib"))
                if os.path.basename(directory) == "target" or target.fs.exists(os.path.join(directory, "CACHEDIR.TAG")):
                    for grandchild in _children(target, child):  # target/<triple>/<profile>/deps
                        add(os.path.join(grandchild, "deps"))
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    for directory in (*target.conf_dirs, *local_toolchains):
        add(directory)
    return found


def _matches_for(
    obj: LoadedObject,
    requester: LoadedObject,
    result: LoadResult,
    target: TargetSystem,
    files: FileCache,
    toolchains: tuple[str, ...],
) -> tuple[NearbyMatch, ...]:
    from elfdeps.advice.toolchains import is_libstd, toolchain_note  # Rust facts: read only for a miss

    name = obj.display_name
    if "/" in name:
        return ()
    requester_dir = os.path.dirname(requester.path or result.main_path) or "."
    starts = [requester_dir, os.path.dirname(result.main_path) or "."]
    tried = {os.path.normpath(a.directory) for a in obj.attempts if a.directory}
    matches: list[NearbyMatch] = []
    libstd = is_libstd(name)
    for directory in _candidate_directories(target, starts, toolchains, toolchains_first=libstd):
        if os.path.normpath(directory) in tried:
            continue
        path = os.path.join(directory, name)
        if not target.fs.exists(path):
            continue
        verdict = open_verify(files, target.fs, path, target.elf_class, target.machine, target.byte_order)
        relative = os.path.relpath(os.path.abspath(directory), os.path.abspath(requester_dir))
        # Far away (a toolchain, another tree): an $ORIGIN path climbing out of the package would
        # break when it moves (the rpath-absolute rule), so the absolute directory is suggested.
        climbs = relative.split(os.sep).count("..")
        if climbs > MAX_CLIMB:
            runpath = os.path.abspath(directory)
        else:
            runpath = "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}"
        note = None
        if directory in target.conf_dirs:
            ldconfig = f"ldconfig -r {target.fs.root}" if target.fs.root else "ldconfig"
            note = f"{directory} is in ld.so.conf but ld.so.cache has no entry for {name}: run {ldconfig}"
        suitable = verdict.kind is VerdictKind.OK
        if libstd and suitable and note is None:
            note = toolchain_note(target.fs.host_path(path), requester.host_path, files)
        shown = path if os.path.isabs(path) or target.fs.root is not None else os.path.abspath(path)
        matches.append(NearbyMatch(shown, suitable, os.path.abspath(directory), runpath, note))
        if len(matches) >= MAX_MATCHES:
            break
    return tuple(matches)


def explain_missing(
    result: LoadResult, files: FileCache, target: TargetSystem | None, toolchains: tuple[str, ...] = ()
) -> LoadResult:
    """The same result with ``nearby`` filled in for every library not found.

    ``target`` is the system the result was emulated against; ``toolchains`` the Rust toolchain
    library directories to look in (``rust_toolchain_dirs``).
    """
    if target is None or all(obj.found for obj in result.objects):
        return result
    objects = list(result.objects)
    for index, obj in enumerate(objects):
        if obj.found or obj.needed_by is None:
            continue
        from elfdeps.advice.toolchains import is_libstd, missing_libstd_note

        requester = result.objects[obj.needed_by]
        nearby = _matches_for(obj, requester, result, target, files, toolchains)
        note = None
        if is_libstd(obj.display_name) and not any(match.suitable for match in nearby):
            note = missing_libstd_note(obj.display_name, requester.host_path, toolchains, files)
        objects[index] = obj._replace(nearby=nearby, note=note)
    return result._replace(objects=tuple(objects))
