"""Demangled spellings of symbol names, for display only: Rust v0 and legacy, and Itanium C++.

Uses the pure-Python PyPI package ``demangle`` (rust.md §1.3: the only pure-Python demangler that reads
every v0 and legacy name correctly), imported on first use so that commands which display no names never
pay its import (~25 ms). Its "gnu" style spells C++ exactly as GNU c++filt does; Rust names come without
the ``[StableCrateId]`` and ``::h<hash>`` that c++filt prints (crate identity is never read from
demangled text: see :mod:`elfdeps.rust.mangling`).

Never raises: a name that is not mangled, or that the package cannot read, comes back unchanged. Bytes
in, bytes out: the renderers escape names at the one boundary where text meets a terminal.

Public API: :func:`demangle`, :func:`demangle_all`, :func:`readable`, :func:`spelled_as`, :func:`is_mangled`.
"""

from __future__ import annotations

import os

from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["demangle", "demangle_all", "is_mangled", "readable", "spelled_as"]

MAX_NAME = 1 << 16  # the package's own input bound; longer names are shown as they are
_PREFIXES = (b"_Z", b"_R", b"__Z", b"__R")


def demangle(name: bytes) -> bytes:
    """The readable spelling of ``name`` (Rust or C++), or ``name`` itself."""
    return demangle_all((name,))[0]


def readable(names: Iterable[str]) -> list[str]:
    """:func:`demangle_all` for names already decoded with ``os.fsdecode`` (the audit's messages)."""
    return [os.fsdecode(name) for name in demangle_all(os.fsencode(name) for name in names)]


def demangle_all(names: Iterable[bytes]) -> list[bytes]:
    """:func:`demangle` over many names, in order; the package is imported once, only if one is mangled."""
    names = list(names)
    if not any(name.startswith(_PREFIXES) for name in names):
        return names
    try:
        import demangle as package
    except ImportError:  # a broken install must not break a report: show the raw names
        return names
    spelled: list[bytes] = []
    for name in names:
        if not name.startswith(_PREFIXES) or len(name) > MAX_NAME:
            spelled.append(name)
            continue
        try:
            spelled.append(package.demangleb(name, style="gnu"))
        except Exception:  # display only: any failure shows the mangled name
            spelled.append(name)
    return spelled


def is_mangled(name: bytes) -> bool:
    """Whether ``name`` is spelled as a Rust or C++ mangled name."""
    return name.startswith(_PREFIXES)


def spelled_as(spelling: bytes, names: Iterable[bytes]) -> list[bytes]:
    """The mangled names among ``names`` whose readable spelling is ``spelling`` (``mid::shout``), in
    order. Only names holding the spelling's last identifier are demangled: a mangled name spells
    every identifier out, so the others cannot match."""
    identifier = _last_identifier(spelling)
    candidates = [
        name for name in dict.fromkeys(names) if name.startswith(_PREFIXES) and (not identifier or identifier in name)
    ]
    return [name for name, spelled in zip(candidates, demangle_all(candidates), strict=True) if spelled == spelling]


def _last_identifier(spelling: bytes) -> bytes:
    """The last identifier of the path, outside generic arguments and parameters (which mangling may
    spell as codes: ``int`` is ``i``); empty when there is none, it is a number (``{closure#0}``), or
    the spelling is not ASCII (v0 writes such identifiers in Punycode)."""
    if not spelling.isascii():
        return b""
    path = spelling.split(b"(", 1)[0]
    outside, depth = bytearray(), 0
    for byte in path:
        depth += (byte == 0x3C) - (byte == 0x3E)  # '<' and '>'
        if depth == 0 and byte != 0x3E:
            outside.append(byte)
    end = len(outside)
    while end and not (chr(outside[end - 1]).isalnum() or outside[end - 1] == 0x5F):
        end -= 1
    start = end
    while start and (chr(outside[start - 1]).isalnum() or outside[start - 1] == 0x5F):
        start -= 1
    identifier = bytes(outside[start:end])
    return b"" if identifier.isdigit() else identifier
