"""Dynamic string tokens ($ORIGIN, $LIB, $PLATFORM) and path-list splitting, as glibc 2.36 does them.

Mirrors elf/dl-load.c: is_dst, _dl_dst_substitute, fillin_rpath, decompose_rpath (loader.md §3.5, §4):
unbraced tokens must not be followed by [A-Za-z0-9_]; unknown tokens stay literal; an element that
expands to nothing is dropped while an element that was empty means the current directory; in
secure mode $ORIGIN counts only as the first thing of an element followed by '/' or the end, and an
executable's $ORIGIN must land in a trusted directory.
"""

from __future__ import annotations

import os

from elfdeps.facts import Fact

__all__ = ["DstValues", "contains_dst", "expand", "split_path_list"]

_TOKENS = (b"ORIGIN", b"PLATFORM", b"LIB")


class DstValues(Fact):
    origin: bytes | None  # None: unknown, elements using it are dropped
    lib: bytes
    platform: bytes
    secure: bool = False
    origin_is_executable: bool = False  # secure mode then requires a trusted result
    trusted_dirs: tuple[bytes, ...] = ()


def _token_at(text: bytes, index: int) -> tuple[bytes, int] | None:
    """The token starting just after a '$' at ``index``, and its length including braces."""
    rest = text[index:]
    braced = rest.startswith(b"{")
    if braced:
        rest = rest[1:]
    for token in _TOKENS:
        if not rest.startswith(token):
            continue
        if braced:
            if rest[len(token) : len(token) + 1] == b"}":
                return token, len(token) + 2
            return None
        following = rest[len(token) : len(token) + 1]
        if following and (following.isalnum() or following == b"_"):
            return None
        return token, len(token)
    return None


def contains_dst(text: bytes) -> bool:
    index = text.find(b"$")
    while index >= 0:
        if _token_at(text, index + 1) is not None:
            return True
        index = text.find(b"$", index + 1)
    return False


def expand(text: bytes, values: DstValues) -> bytes | None:
    """Substitute the tokens of one element or name; None when the element must be dropped."""
    if b"$" not in text:
        return text
    out = bytearray()
    index = 0
    check_trusted = False
    while index < len(text):
        char = text[index : index + 1]
        if char != b"$":
            out += char
            index += 1
            continue
        found = _token_at(text, index + 1)
        if found is None:
            out += char
            index += 1
            continue
        token, length = found
        after = text[index + 1 + length : index + 2 + length]
        if token == b"ORIGIN":
            if values.secure and (index != 0 or after not in (b"", b"/")):
                return None
            if values.origin is None:
                return None
            replacement = values.origin
            check_trusted = values.secure and values.origin_is_executable
        elif token == b"LIB":
            replacement = values.lib
        else:
            replacement = values.platform
        out += replacement
        index += 1 + length
    result = bytes(out)
    if check_trusted and not _is_trusted(result, values.trusted_dirs):
        return None
    return result


def _is_trusted(path: bytes, trusted_dirs: tuple[bytes, ...]) -> bool:
    """elf/dl-load.c:is_trusted_path_normalize: lexically normalised, directly inside a trusted dir."""
    normal = os.path.normpath(path.decode(errors="surrogateescape")).encode(errors="surrogateescape")
    normal = normal.rstrip(b"/") + b"/"
    return any(normal == d.rstrip(b"/") + b"/" for d in trusted_dirs)


def split_path_list(value: bytes, separators: bytes, values: DstValues) -> tuple[str, ...]:
    """The directories of a path list, each ending in '/' or "" for the current directory.

    Elements are DST-expanded (dropped if they expand to nothing), trailing slashes folded to one,
    duplicates kept once (fillin_rpath). A wholly empty list gives no directories.
    """
    if not value:
        return ()
    elements = [value]
    for separator in separators:
        elements = [part for element in elements for part in element.split(bytes([separator]))]
    directories: list[str] = []
    for element in elements:
        if element:
            expanded = expand(element, values)
            if not expanded:
                continue
            expanded = expanded.rstrip(b"/") or b"/"
            if not expanded.endswith(b"/"):
                expanded += b"/"
            directory = os.fsdecode(expanded)
        else:
            directory = ""  # an empty element: the loader's current directory
        if directory not in directories:
            directories.append(directory)
    return tuple(directories)
