"""The facts a Rust symbol name gives about crates (shared by the v0 and legacy parsers)."""

from __future__ import annotations

from elfdeps.facts import Fact, Symbolic

__all__ = ["LOWER_HEX", "Crate", "MangledName", "Scheme", "is_legacy_hash", "is_lower_hex"]

LOWER_HEX = b"0123456789abcdef"  # the digits of legacy hashes, StableCrateIds and rustc commits


def is_lower_hex(text: bytes) -> bool:
    """Whether ``text`` holds only the digits 0-9a-f (an empty text does)."""
    return not text.strip(LOWER_HEX)


def is_legacy_hash(segment: bytes) -> bool:
    """``h<16 hex>``: the last path segment of a legacy Rust name (``17h…E``)."""
    return len(segment) == 17 and segment[:1] == b"h" and is_lower_hex(segment[1:])


class Scheme(Symbolic):
    V0 = "v0"
    LEGACY = "legacy"


class Crate(Fact):
    """One crate build as names identify it: its name and StableCrateId (None: the scheme has none)."""

    name: bytes
    scid: int | None

    def __str__(self) -> str:
        name = self.name.decode("utf-8", "replace")
        return name if self.scid is None else f"{name}[{self.scid:016x}]"


class MangledName(Fact):
    """What a Rust symbol name says about crates."""

    scheme: Scheme
    owner: Crate | None  # crate of the item path; None for a legacy impl path (ambiguous)
    instantiating: Crate | None  # v0 generic instances: the crate that compiled this copy
    roots: tuple[Crate, ...]  # every crate root seen, first-seen order, no repeats
    segments: tuple[bytes, ...]  # legacy: the path segments as mangled (hash dropped); v0: ()

    @property
    def generic(self) -> bool | None:
        """v0: whether this is a generic instance (it names its instantiating crate); legacy: unknown."""
        return self.instantiating is not None if self.scheme is Scheme.V0 else None

    @property
    def compiled_in(self) -> Crate | None:
        """The crate whose compilation produced this code: the instantiating crate, else the owner."""
        return self.instantiating if self.instantiating is not None else self.owner
