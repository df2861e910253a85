"""Demangled spellings of symbol names, for display only: Rust v0 and legacy, and Itanium C++.

Uses the pure-Python PyPI package ``demangle`` (rust.md §1.3: the only pure-Python demangler that reads
every v0 and legacy name correctly), imported on first use so that commands which display no names never
pay its import (~25 ms). Its "gnu" style spells C++ exactly as GNU c++filt does; Rust names come without
the ``[StableCrateId]`` and ``::h<hash>`` that c++filt prints (crate identity is never read from
demangled text: see :mod:`elfdeps.rust.mangling`).

Never raises: a name that is not mangled, or that the package cannot read, comes back unchanged. Bytes
in, bytes out: the renderers escape names at the one boundary where text meets a terminal.

Public API: :func:`demangle`, :func:`demangle_all`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["demangle", "demangle_all"]

MAX_NAME = 1 << 16  # the package's own input bound; longer names are shown as they are
_PREFIXES = (b"_Z", b"_R", b"__Z", b"__R")


def demangle(name: bytes) -> bytes:
    """The readable spelling of ``name`` (Rust or C++), or ``name`` itself."""
    return demangle_all((name,))[0]


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
