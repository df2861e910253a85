"""Mutations of a real ELF file, aimed by its layout (seeds.py): each returns the damaged bytes and a
one-line description that is enough to rebuild the mutant by hand.

Every choice goes through a ``Chooser``, so one mutator serves two drivers: hypothesis in the test
suite (``DrawChooser``: shrinking, a derandomised CI budget) and ``random.Random`` in the long run
(``RandomChooser``: one seed per mutant, so `scripts/fuzz --replay SEED:N` rebuilds mutant N exactly,
and memory stays flat over 100,000 mutants, which hypothesis' example tree would not).

Operators (``OPERATORS``, weights in ``WEIGHTS``):
  truncate     cut the file at a structure boundary (+-1): ELF header, each program header, the dynamic
               segment and each of its entries, dynstr, dynsym, hash tables, version tables,
               relocations, section headers and their names
  flip         1-8 bit flips, biased to the ELF header, program headers, dynamic segment, section headers
  field        an integer field set to a hostile value: 0, all ones, the sign bit, a huge count, the file
               size or just past it, a small odd value; string indexes set out of range
  no_dt_null   every DT_NULL retagged DT_DEBUG: the table ends only with PT_DYNAMIC's size
  inject       a name (DT_NEEDED, SONAME, RPATH/RUNPATH, symbol, version, verneed file, interpreter)
               overwritten in place with control characters (ESC [2J, ESC ]0;..BEL, C1 0x80-0x9f, DEL,
               CR/LF, a bidi override) or invalid UTF-8, NUL-terminated inside the original string
A mutant gets 1-3 operators; a truncation, when drawn, is applied last.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from fuzz.seeds import Layout

__all__ = ["HOSTILE_NAMES", "OPERATORS", "Chooser", "DrawChooser", "RandomChooser", "mutate"]

T = TypeVar("T")

HOSTILE_NAMES: tuple[bytes, ...] = (
    b"\x1b[2J",  # clear screen
    b"\x1b]0;owned\x07",  # set the window title, BEL-terminated
    b"\x1b]0;owned\x1b\\",  # the same, ST-terminated
    b"\x1b[31mred\x1b[0m",
    b"\x9b2J",  # C1 CSI as a raw byte (invalid UTF-8 on its own)
    b"\xc2\x9b2J",  # C1 CSI, valid UTF-8 (U+009B)
    b"\xc2\x85next",  # U+0085 NEL
    b"\x7f\x7f",  # DEL
    b"a\rb\nc",  # forged lines
    b"\x08\x08\x08",  # backspaces
    b"\xff\xfe",  # invalid UTF-8
    b"\xc3",  # a truncated sequence
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xe2\x80\xae",  # U+202E RIGHT-TO-LEFT OVERRIDE
    b"\x00\x01\x02\x03",  # NUL first: an empty name
)
C1_BYTES = bytes(range(0x80, 0xA0))


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int: ...  # inclusive
    def choice(self, items: Sequence[T]) -> T: ...


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]


class DrawChooser:
    """Choices drawn through hypothesis (``data.draw``), so failures shrink."""

    def __init__(self, draw: Callable[..., object]) -> None:
        from hypothesis import strategies as st

        self._st = st
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        return int(self.draw(self._st.integers(low, high)))  # type: ignore[call-overload,no-any-return]

    def choice(self, items: Sequence[T]) -> T:
        return items[self.integer(0, len(items) - 1)]


def _weighted(chooser: Chooser, weights: dict[str, int]) -> str:
    names = [name for name, weight in weights.items() for _ in range(weight)]
    return chooser.choice(names)


# ------------------------------------------------------------------------------------------ operators


def truncate(data: bytearray, layout: Layout, chooser: Chooser) -> str:
    cut = chooser.choice(layout.boundaries) + chooser.integer(-1, 1)
    if chooser.integer(0, 9) == 0:
        cut = chooser.integer(0, 80)  # somewhere inside the ELF header, or just past it
    cut = max(0, min(cut, len(data)))
    del data[cut:]
    return f"truncate {cut}"


FLIP_BIAS = {"ehdr": 6, "phdrs": 6, "dynamic": 6, "shdrs": 4, "dynstr": 1, "dynsym": 2, "gnu_hash": 2,
             "hash": 2, "versym": 1, "verneed": 2, "verdef": 2, "reloc": 1, "jmprel": 1, "shstrtab": 1}  # fmt: skip


def flip(data: bytearray, layout: Layout, chooser: Chooser) -> str:
    bias = {name: weight for name, weight in FLIP_BIAS.items() if name in layout.regions}
    done = []
    for _ in range(chooser.integer(1, 8)):
        region = _weighted(chooser, bias)
        start, end = layout.regions[region]
        offset = chooser.integer(start, max(start, min(end, len(data)) - 1))
        if offset >= len(data):
            continue
        bit = chooser.integer(0, 7)
        data[offset] ^= 1 << bit
        done.append(f"{region}@{offset:#x}.{bit}")
    return "flip " + " ".join(done)


def _hostile_value(field_kind: str, width: int, size: int, chooser: Chooser) -> int:
    top = (1 << (8 * width)) - 1
    common = [0, top, 1 << (8 * width - 1), top >> 1]
    by_kind = {
        "count": [0xFFFF, 0x7FFFFFFF, 1 << 16, 1 << 24, 255, 2, 1],
        "offset": [size, size + 1, size - 1, size - 4, size * 2, 1, 3],
        "address": [size, size - 8, 1 << 40, 0x1000, 8],
        "size": [size, size * 4, 1, 7, 1 << 31],
        "string": [size, 0xFFFF, 0x7FFFFFFF, 1],
        "index": [0xFFFF, 0xFFF0, 0xFF00, 1, 2, 7, 100],
        "entsize": [1, 8, 0xFFFF, 3],
        "tag": [0, 1, 2, 3, 6, 7, 0x6FFFFFFF],
        "value": [1, 2, 0xFFFF, 1 << 32],
    }
    value = chooser.choice([*common, *by_kind.get(field_kind, [])])
    return value & top


def field(data: bytearray, layout: Layout, chooser: Chooser) -> str:
    target = chooser.choice(layout.fields)
    value = _hostile_value(target.kind, target.size, layout.size, chooser)
    if target.offset + target.size > len(data):
        return f"field {target.name} (cut off)"
    codes = {1: "B", 2: "H", 4: "I", 8: "Q"}
    struct.pack_into(layout.order + codes[target.size], data, target.offset, value)
    return f"field {target.name} = {value:#x}"


def no_dt_null(data: bytearray, layout: Layout, _chooser: Chooser) -> str:
    word = 8 if layout.is_64 else 4
    retagged = 0
    for tag, at in layout.dyn_entries:
        if tag == 0 and at + word <= len(data):
            struct.pack_into(layout.order + ("q" if layout.is_64 else "i"), data, at, 21)  # DT_DEBUG
            retagged += 1
    if "dynamic" in layout.regions:  # the padding after DT_NULL is zeros: more DT_NULLs
        start, end = layout.regions["dynamic"]
        for at in range(start, min(end, len(data)) - 2 * word + 1, 2 * word):
            if not any(data[at : at + word]):
                struct.pack_into(layout.order + ("q" if layout.is_64 else "i"), data, at, 21)
                retagged += 1
    return f"no_dt_null ({retagged} entries retagged DT_DEBUG)"


def inject(data: bytearray, layout: Layout, chooser: Chooser) -> str:
    names = [name for name in layout.names if name.length > 0]
    target = chooser.choice(names)
    kind = chooser.integer(0, 3)
    if kind == 0:
        payload = bytes(chooser.choice(C1_BYTES) for _ in range(chooser.integer(1, 4)))
    else:
        payload = chooser.choice(HOSTILE_NAMES)
    at = target.offset + chooser.integer(0, max(0, target.length - 1)) if chooser.integer(0, 1) else target.offset
    room = target.offset + target.length - at  # keep the string's own NUL: neighbours stay intact
    payload = payload[:room]
    data[at : at + len(payload)] = payload
    return f"inject {target.kind}@{target.offset:#x}+{at - target.offset} {payload!r}"


OPERATORS: dict[str, Callable[[bytearray, Layout, Chooser], str]] = {
    "truncate": truncate,
    "flip": flip,
    "field": field,
    "no_dt_null": no_dt_null,
    "inject": inject,
}
WEIGHTS = {"truncate": 3, "flip": 4, "field": 6, "no_dt_null": 1, "inject": 5}


def mutate(data: bytes, layout: Layout, chooser: Chooser) -> tuple[bytes, list[str]]:
    """A damaged copy of ``data``: 1-3 operators, a truncation last."""
    content = bytearray(data)
    chosen = [_weighted(chooser, WEIGHTS) for _ in range(chooser.integer(1, 3))]
    chosen.sort(key=lambda name: name == "truncate")
    steps = [OPERATORS[name](content, layout, chooser) for name in chosen]
    return bytes(content), steps
