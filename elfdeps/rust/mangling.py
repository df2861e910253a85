"""Crate roots from Rust symbol names: v0 (RFC 2603, ``_R…``) and legacy (``_ZN…17h<16 hex>E``).

Follows the grammar of RFC 2603 as rustc 1.95 / 1.97-nightly emit it (rust.md §1.1), including the
nightly pattern types (``W``), and rustc-demangle's validity rules (ASCII only, back-references point
strictly backwards, a nesting bound). What it extracts, per name, is only what attribution needs:

- the crate of the item path (``owner``): the first crate root of a ``C``/``N``/``M``/``X``/``I`` path,
  the trait's crate for ``Y`` (``<T as Trait>`` default bodies);
- the instantiating crate: the trailing path of a generic instance, i.e. the crate that compiled it;
- every crate root seen, with its StableCrateId (the ``s<base62>_`` disambiguator + 1).

``C3f16``/``C4f128`` (the float types rustc spells as a crate root without disambiguator) are types,
not crates: they are left out of the roots. Legacy names give a crate *name* only (no hash can be
reversed), and for impl paths (``_$LT$…``) not even that reliably: ``owner`` is None there.

Never raises on any input; the work per name is bounded (nesting depth, a step budget), and a name that
looks mangled but does not parse gives None (callers count those).

The v0 grammar lives in :mod:`elfdeps.rust.v0`, the facts in :mod:`elfdeps.rust.names`.

Public API: :func:`parse`, :func:`looks_mangled`, :class:`MangledName`, :class:`Crate`, :class:`Scheme`.
"""

from __future__ import annotations

from elfdeps.rust.names import Crate, MangledName, Scheme, is_legacy_hash
from elfdeps.rust.v0 import parse_v0

__all__ = ["Crate", "MangledName", "Scheme", "looks_mangled", "parse"]

MAX_NAME = 1 << 16  # longer "names" are refused outright


def looks_mangled(name: bytes) -> bool:
    """Whether a name claims to be Rust-mangled (so a failure to parse it is worth counting)."""
    if name.startswith(b"_R"):
        return len(name) > 2 and (65 <= name[2] <= 90 or 48 <= name[2] <= 57)
    return name.startswith(b"_ZN") and _legacy_hash_end(name) > 0


def parse(name: bytes, crates: dict[bytes, Crate | None] | None = None) -> MangledName | None:
    """The crate facts of a Rust symbol name; None when it is not one (or does not parse).

    ``crates`` is an optional memo the caller owns (one per file or per run): encoded crate root ->
    Crate, so the many names of one file that repeat a root decode it once.
    """
    if len(name) > MAX_NAME:
        return None
    if name.startswith(b"_R"):
        return parse_v0(name, {} if crates is None else crates)
    if name.startswith(b"_ZN"):
        return _parse_legacy(name)
    return None


# -- legacy ---------------------------------------------------------------------------------------


def _legacy_hash_end(name: bytes) -> int:
    """Index just past the closing "E" of a legacy Rust name ending in the ``17h<16 hex>`` hash, or 0."""
    end = name.find(b"E", 3)
    while end > 0:
        if end >= 19 and name[end - 19 : end - 17] == b"17" and is_legacy_hash(name[end - 17 : end]):
            tail = name[end + 1 : end + 2]
            if tail in (b"", b"."):
                return end + 1
        end = name.find(b"E", end + 1)
    return 0


def _parse_legacy(name: bytes) -> MangledName | None:
    segments: list[bytes] = []
    pos, size = 3, len(name)
    while pos < size and name[pos] != 69:  # until "E"
        start = pos
        while pos < size and 48 <= name[pos] <= 57:
            pos += 1
        if pos == start or pos - start > 5 or (name[start] == 48 and pos - start > 1):
            return None
        length = int(name[start:pos])
        if not length or pos + length > size:
            return None
        segments.append(name[pos : pos + length])
        pos += length
    if pos >= size or len(segments) < 2:
        return None
    tail = name[pos + 1 :]
    if tail and tail[0] != 46:
        return None
    hash_segment = segments.pop()
    if not is_legacy_hash(hash_segment):
        return None
    if not all(segment.isascii() for segment in segments):
        return None
    first = segments[0]
    owner = None if first.startswith(b"_$") or not _is_identifier(first) else Crate(first, None)
    roots = (owner,) if owner is not None else ()
    return MangledName(Scheme.LEGACY, owner, None, roots, tuple(segments))


def _is_identifier(segment: bytes) -> bool:
    return segment.replace(b"_", b"a").isalnum() and not 48 <= segment[0] <= 57
