"""Which installed Rust toolchain a missing ``libstd-<hash>.so`` belongs to (issue 6).

The hash in the file name identifies one build of std, so a file of that name in a toolchain's
``lib/rustlib/<target>/lib`` (what ``rustc +<toolchain> --print target-libdir`` prints) is the right
one; its rustc version is compared with the version that built the program (`.comment`, `.rustc`).
When no installed toolchain has the file, the advice says which rustc built the program and which
toolchains are installed (and with which versions).
"""

from __future__ import annotations

import os

from elfdeps.elf.cache import FileCache
from elfdeps.errors import ElfFormatError
from elfdeps.rust.names import is_lower_hex
from elfdeps.rust.objects import rust_facts

__all__ = ["is_libstd", "missing_libstd_note", "toolchain_note"]


def is_libstd(name: str) -> bool:
    """``libstd-<16 hex>.so``: the toolchain's libstd."""
    if len(name) != 26 or not (name.startswith("libstd-") and name.endswith(".so")):
        return False
    return is_lower_hex(os.fsencode(name[7:-3]))


def toolchain_name(directory: str) -> str | None:
    """``stable-x86_64-unknown-linux-gnu`` of ``.../toolchains/stable-x86_64-unknown-linux-gnu/lib/...``."""
    parts = directory.split(os.sep)
    if "toolchains" in parts[:-1]:
        return parts[parts.index("toolchains") + 1]
    return None


def _versions(files: FileCache, path: str | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        return tuple(version.decode("utf-8", "replace") for version in rust_facts(files.elf(path)).versions)
    except ElfFormatError:
        return ()


def _release(version: str) -> str:
    return version.split(" ", maxsplit=1)[0]


def toolchain_note(copy: str, requester: str | None, files: FileCache) -> str | None:
    """What to say of a copy of libstd found in a toolchain directory; None outside toolchains."""
    name = toolchain_name(os.path.dirname(copy))
    if name is None:
        return None
    theirs, ours = _versions(files, copy), _versions(files, requester)
    built = ""
    if theirs and ours:
        same = {_release(version) for version in theirs} & {_release(version) for version in ours}
        built = ", the rustc that built it" if same else f", not the rustc {ours[0]} that built it"
    version = f" (rustc {theirs[0]}{built})" if theirs else ""
    return f"the libstd of toolchain {name}{version}: `rustc +{name} --print target-libdir` prints its directory"


def missing_libstd_note(name: str, requester: str | None, toolchains: tuple[str, ...], files: FileCache) -> str:
    """Why no toolchain has ``name``: which rustc built the requester, which toolchains are here."""
    ours = _versions(files, requester)
    installed = []
    for directory in toolchains:
        toolchain = toolchain_name(directory)
        if toolchain is None or "rustlib" not in directory:
            continue
        try:
            stds = sorted(entry for entry in os.listdir(directory) if is_libstd(entry))
        except OSError:
            continue
        versions = _versions(files, os.path.join(directory, stds[0])) if stds else ()
        installed.append(f"{toolchain} ({_release(versions[0]) if versions else 'version unknown'})")
    built = f"it was built by rustc {ours[0]}" if ours else "its rustc version is not recorded"
    here = ", ".join(installed) if installed else "none"
    wanted = f"; install that toolchain (rustup toolchain install {_release(ours[0])})" if ours else ""
    return f"no installed Rust toolchain has {name}: {built}; toolchains here: {here}{wanted}"
