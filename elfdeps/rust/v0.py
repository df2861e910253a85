"""The v0 mangling grammar (RFC 2603, ``_R…``) as rustc 1.95 / 1.97-nightly emit it (rust.md §1.1),
including the nightly pattern types (``W``), with rustc-demangle's validity rules (ASCII only,
back-references point strictly backwards). A recursive descent bounded by MAX_DEPTH (nesting) and by a
node budget proportional to the name's length; chains of nested paths (``NvNtNtC…``, the common case)
are walked in a loop. Only what attribution needs is kept: each path's crate, the crate roots seen.

Public API: :func:`parse_v0` (used by :func:`elfdeps.rust.mangling.parse`).
"""

from __future__ import annotations

import codecs

from elfdeps.rust.names import LOWER_HEX, Crate, MangledName, Scheme

__all__ = ["MAX_DEPTH", "parse_v0"]

MAX_DEPTH = 160  # grammar nesting; real names stay below 30 (rustc_driver), Python frames stay safe
MAX_PUNYCODE = 256  # a crate name longer than this is not decoded (punycode decoding is quadratic)


_BASIC_TYPES = frozenset(b"abcdefhijlmnopstuvxyz")
_UNSIGNED = frozenset(b"htmyoj")
_SIGNED = frozenset(b"aslxni")
_B62 = {c: i for i, c in enumerate(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_MAX_LENGTH_DIGITS = 6  # an identifier's length: 0, or up to 6 digits without a leading zero


class _Invalid(Exception):
    """The name does not follow the grammar (or exceeds a bound)."""


# The lexical pieces, scanned by hand (importing and compiling regular expressions cost an audit more
# than all its v0 names take to parse). Each returns where the piece ends; _Invalid if it is not there.


def _run_before_underscore(s: bytes, pos: int, alphabet: bytes | None) -> int:
    """The end of ``<digits>_`` at ``pos``: digits alphanumeric (``alphabet`` None) or from ``alphabet``;
    the index of the ``_``."""
    end = s.find(b"_", pos)
    if end < 0:
        raise _Invalid
    if end > pos:
        run = s[pos:end]
        if not (run.isalnum() if alphabet is None else not run.strip(alphabet)):
            raise _Invalid
    return end


def _length(s: bytes, pos: int, size: int) -> tuple[int, int]:
    """``(0 | [1-9][0-9]{0,5}) _?`` at ``pos``: (the decimal's value, where the identifier's bytes start)."""
    if pos >= size or not 48 <= s[pos] <= 57:
        raise _Invalid
    end = pos + 1
    if s[pos] != 48:
        limit = min(pos + _MAX_LENGTH_DIGITS, size)
        while end < limit and 48 <= s[end] <= 57:
            end += 1
    value = int(s[pos:end])
    return value, end + 1 if end < size and s[end] == 95 else end


_PATH, _TYPE, _CONST = 0, 1, 2


def _base62_value(digits: bytes) -> int:
    """A <base-62-number>'s value: "" (written "_") is 0, digits are worth their value + 1."""
    if not digits:
        return 0
    value = 0
    for byte in digits:
        value = value * 62 + _B62[byte]
    if value >= 1 << 64:
        raise _Invalid
    return value + 1


class _V0:
    """One recursive-descent pass over the part after ``_R``, nesting bounded by MAX_DEPTH and the
    number of grammar nodes by a budget proportional to the name's length (back-references revisit)."""

    __slots__ = ("budget", "crates", "depth", "memo", "pos", "roots", "s", "size")

    def __init__(self, s: bytes, crates: dict[bytes, Crate | None]) -> None:
        self.s = s
        self.size = len(s)
        self.pos = 0
        self.depth = 0
        self.budget = 4 * len(s) + 64
        self.crates = crates
        self.roots: dict[Crate, None] = {}
        self.memo: dict[tuple[int, int], Crate | None] = {}

    def next(self) -> int:
        pos = self.pos
        if pos >= self.size:
            raise _Invalid
        self.pos = pos + 1
        return self.s[pos]

    def eat(self, byte: int) -> bool:
        pos = self.pos
        if pos < self.size and self.s[pos] == byte:
            self.pos = pos + 1
            return True
        return False

    def base62(self) -> int:
        start = self.pos
        end = _run_before_underscore(self.s, start, None)
        self.pos = end + 1
        return _base62_value(self.s[start:end])

    def identifier(self) -> tuple[bytes | None, int, int, bool]:
        """``[s <base62> _] [u] <length> [_] <bytes>``: (the disambiguator's digits or None, start and
        end of the bytes, punycode or not)."""
        s, pos, size = self.s, self.pos, self.size
        digits = None
        if pos < size and s[pos] == 115:  # s: disambiguator
            end = _run_before_underscore(s, pos + 1, None)
            digits = s[pos + 1 : end]
            pos = end + 1
        punycode = pos < size and s[pos] == 117  # u
        length, start = _length(s, pos + punycode, size)
        end = start + length
        if end > size:
            raise _Invalid
        self.pos = end
        return digits, start, end, punycode

    def skip_identifier(self) -> None:
        """An identifier with its optional disambiguator (only skipped: its text is not needed)."""
        self.identifier()

    def undisambiguated(self) -> tuple[int, int, bool]:
        """An identifier without disambiguator: (start, end, punycode) of its bytes."""
        s, pos, size = self.s, self.pos, self.size
        punycode = pos < size and s[pos] == 117  # u
        length, start = _length(s, pos + punycode, size)
        end = start + length
        if end > size:
            raise _Invalid
        self.pos = end
        return start, end, punycode

    def backref(self, kind: int) -> Crate | None:
        start = self.pos - 1  # the "B"
        target = self.base62()
        if target >= start:
            raise _Invalid
        key = (kind, target)
        if key in self.memo:
            return self.memo[key]
        saved = self.pos
        self.pos = target
        if kind == _PATH:
            result = self.path()
        elif kind == _TYPE:
            result = self.type()
        else:
            self.const()
            result = None
        self.pos = saved
        return result

    def path(self) -> Crate | None:
        """A path; returns its crate (None for the float pseudo-roots ``C3f16``).

        A chain of nested paths (``NvNtNtC…``, the common case) is walked in a loop, not recursively:
        each ``N`` prefix is remembered, the inner path parsed once, then the identifiers skipped.
        """
        s, size = self.s, self.size
        pos = self.pos
        nested: list[int] = []
        while pos + 1 < size and s[pos] == 78:  # N <namespace>
            if not 65 <= (s[pos + 1] & 0xDF) <= 90:
                raise _Invalid
            nested.append(pos)
            pos += 2
        self.depth += 1
        self.budget -= 1 + len(nested)
        if self.depth > MAX_DEPTH or self.budget < 0 or pos >= size:
            raise _Invalid
        inner = pos
        tag = s[pos]
        self.pos = pos + 1
        crate: Crate | None
        if tag == 67:  # C: crate root
            crate = self.crate_root()
        elif tag == 77:  # M: inherent impl: the impl's own path names its crate
            self.opt_disambiguator()
            crate = self.path()
            self.type()
        elif tag == 88:  # X: trait impl
            self.opt_disambiguator()
            crate = self.path()
            self.type()
            self.path()
        elif tag == 89:  # Y: <T as Trait>: the trait's crate
            self.type()
            crate = self.path()
        elif tag == 73:  # I: generic arguments
            crate = self.path()
            while not self.eat(69):
                self.generic_arg()
        elif tag == 66:  # B: back-reference
            crate = self.backref(_PATH)
        else:
            raise _Invalid
        memo = self.memo
        memo[(_PATH, inner)] = crate
        for nested_start in nested:  # N's identifiers, innermost first: each N path shares the crate
            self.skip_identifier()
            memo[(_PATH, nested_start)] = crate
        self.depth -= 1
        return crate

    def opt_disambiguator(self) -> None:
        if self.eat(115):
            self.base62()

    def crate_root(self) -> Crate | None:
        begin = self.pos
        digits, first, end, punycode = self.identifier()
        key = self.s[begin:end]
        if key in self.crates:
            crate = self.crates[key]
        else:
            raw = self.s[first:end]
            if punycode:
                raw = _punycode(raw)
            # C3f16, C4f128 (no disambiguator): a type spelled as a crate root by rustc's v0 encoder
            crate = None if digits is None or not raw else Crate(raw, _base62_value(digits) + 1)
            self.crates[key] = crate
        if crate is not None:
            self.roots[crate] = None
        return crate

    def generic_arg(self) -> None:
        if self.eat(76):  # L: lifetime
            self.base62()
        elif self.eat(75):  # K: const
            self.const()
        else:
            self.type()

    def type(self) -> Crate | None:
        """A type; returns the crate of a path type (what a ``Y`` owner or a back-reference needs)."""
        pos = self.pos
        if pos >= self.size:
            raise _Invalid
        tag = self.s[pos]
        if tag in _BASIC_TYPES:
            self.pos = pos + 1
            return None
        self.depth += 1
        self.budget -= 1
        if self.depth > MAX_DEPTH or self.budget < 0:
            raise _Invalid
        self.pos = pos + 1
        crate: Crate | None = None
        if tag in (82, 81):  # R, Q: references
            if self.eat(76):
                self.base62()
            self.type()
        elif tag in (80, 79, 83):  # P, O: raw pointers; S: slice
            self.type()
        elif tag == 65:  # A: array
            self.type()
            self.const()
        elif tag == 84:  # T: tuple
            while not self.eat(69):
                self.type()
        elif tag == 70:  # F: fn pointer
            if self.eat(71):
                self.base62()
            self.eat(85)
            if self.eat(75) and not self.eat(67):
                first, end, punycode = self.undisambiguated()
                if first == end or punycode:
                    raise _Invalid
            while not self.eat(69):
                self.type()
            self.type()
        elif tag == 68:  # D: dyn Trait
            if self.eat(71):
                self.base62()
            while not self.eat(69):
                self.path()
                while self.eat(112):  # p: associated type binding
                    self.undisambiguated()
                    self.type()
            if not self.eat(76):
                raise _Invalid
            self.base62()
        elif tag == 87:  # W: pattern type (nightly)
            self.type()
            self.pattern()
        elif tag == 66:  # B: back-reference
            crate = self.backref(_TYPE)
        else:
            self.pos = pos
            crate = self.path()
        self.memo[(_TYPE, pos)] = crate
        self.depth -= 1
        return crate

    def pattern(self) -> None:
        self.depth += 1
        self.budget -= 1
        if self.depth > MAX_DEPTH or self.budget < 0:
            raise _Invalid
        tag = self.next()
        if tag == 82:  # R: range start..=end
            self.const()
            self.const()
        elif tag == 79:  # O: or-pattern
            while not self.eat(69):
                self.pattern()
        elif tag != 78:  # N: not null
            raise _Invalid
        self.depth -= 1

    def const(self) -> None:
        self.depth += 1
        self.budget -= 1
        if self.depth > MAX_DEPTH or self.budget < 0:
            raise _Invalid
        pos = self.pos
        tag = self.next()
        if tag == 66:  # B: back-reference
            self.backref(_CONST)
        elif tag == 112:  # p: placeholder
            pass
        elif tag in _UNSIGNED or tag in (98, 99, 101):  # integers, b: bool, c: char, e: str
            self.hex()
        elif tag in _SIGNED:
            self.eat(110)
            self.hex()
        elif tag in (82, 81):  # R, Q: reference to a const
            self.const()
        elif tag in (65, 84):  # A: array, T: tuple
            while not self.eat(69):
                self.const()
        elif tag == 86:  # V: ADT value
            self.path()
            shape = self.next()
            if shape == 84:  # T: tuple-like fields
                while not self.eat(69):
                    self.const()
            elif shape == 83:  # S: named fields
                while not self.eat(69):
                    self.skip_identifier()
                    self.const()
            elif shape != 85:  # U: unit
                raise _Invalid
        else:
            raise _Invalid
        self.memo[(_CONST, pos)] = None
        self.depth -= 1

    def hex(self) -> None:
        self.pos = _run_before_underscore(self.s, self.pos, LOWER_HEX) + 1


def _punycode(raw: bytes) -> bytes:
    """A v0 punycode identifier ("ascii_deltas") decoded to UTF-8; raises _Invalid if it is not one."""
    if len(raw) > MAX_PUNYCODE:
        raise _Invalid
    ascii_part, _, deltas = raw.rpartition(b"_")
    if not deltas:
        raise _Invalid
    standard = ascii_part + b"-" + deltas if ascii_part else deltas
    try:
        return codecs.decode(standard, "punycode").encode("utf-8")
    except (UnicodeError, ValueError, OverflowError):
        raise _Invalid from None


def parse_v0(name: bytes, crates: dict[bytes, Crate | None]) -> MangledName | None:
    """The crate facts of a ``_R…`` name, or None when it does not parse."""
    s = name[2:]
    if not s or not 65 <= s[0] <= 90 or not s.isascii():
        return None
    parser = _V0(s, crates)
    try:
        owner = parser.path()
        instantiating = None
        if parser.pos < len(s) and 65 <= s[parser.pos] <= 90:
            instantiating = parser.path()
            if instantiating is None:
                return None
    except (_Invalid, RecursionError):
        return None
    rest = s[parser.pos :]
    if rest and rest[0] not in (46, 36):  # a vendor suffix starts with "." or "$"
        return None
    if owner is None:
        return None
    return MangledName(Scheme.V0, owner, instantiating, tuple(parser.roots), ())
