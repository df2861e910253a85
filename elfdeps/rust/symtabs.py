"""Rust-mangled names of one file's symbol tables, read raw: ``struct`` over the table, and a name is cut
out of the string table only when its first bytes say ``_R`` or ``_ZN``. Undefined entries are found
through a C-speed search of the ``st_shndx`` column, so imports cost per import, not per symbol. The
dynamic table is located as the loader does (DT_SYMTAB, the hash table's count), ``.symtab`` through the
section headers.

Public API: :func:`dynsym`, :func:`symtab`, :func:`exports_mangled_names`, :class:`RawSymbol`.
"""

from __future__ import annotations

import struct

from elfdeps.elf import constants as C
from elfdeps.elf.symbols import address_to_offset, dynsym_count
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.rust.names import is_legacy_hash

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from elfdeps.elf.reader import ElfFile

__all__ = ["RawSymbol", "dynsym", "exports_mangled_names", "symtab"]

_V0_START = b"\0_R"  # then [A-Z0-9]: a v0 name
_V0_NEXT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LEGACY_HASH = b"17h"  # then 16 hex digits, "E" and the NUL: the end of a legacy name


def exports_mangled_names(elf: ElfFile) -> bool:
    """Whether the dynamic string table holds a Rust-mangled name (C-speed searches of the literal parts,
    as fast as a regular expression's and without importing one)."""
    if elf.dynamic is None or elf.dynamic.value(C.DT_STRTAB) is None:
        return False
    start, end = elf.string_table_bounds()
    start = max(start - 1, 0)
    data = elf.data
    at = data.find(_V0_START, start, end)
    while at >= 0:
        if at + 3 < end and data[at + 3] in _V0_NEXT:
            return True
        at = data.find(_V0_START, at + 1, end)
    at = data.find(_LEGACY_HASH, start, end)
    while at >= 0:
        if at + 20 < end and data[at + 19 : at + 21] == b"E\0" and is_legacy_hash(data[at + 2 : at + 19]):
            return True
        at = data.find(_LEGACY_HASH, at + 1, end)
    return False


# -- raw symbol tables ----------------------------------------------------------------------------


class RawSymbol(Fact):
    name: bytes
    info: int
    other: int
    shndx: int
    value: int


def _entries(elf: ElfFile, offset: int, count: int, strings: tuple[int, int], *, defined: bool) -> Iterator[RawSymbol]:
    """Defined (or undefined) symbols whose name looks Rust-mangled (``_R``, or ``_ZN`` with a ``17h`` in
    it), from a raw table: struct.iter_unpack, and a name is cut out of the string table only when its
    first bytes qualify."""
    data = elf.data
    entry_size = 24 if elf.is_64 else 16
    end = offset + count * entry_size
    if offset < 0 or count < 0 or end > elf.size:
        raise ElfFormatError(f"{elf.path}: a symbol table lies outside the file (offset {offset:#x}, {count} entries)")
    fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
    str_start, str_end = strings
    rows: Iterable[tuple[int, ...]]
    if defined:
        rows = struct.iter_unpack(fmt, data[offset:end])
    else:
        rows = (
            struct.unpack_from(fmt, data, offset + index * entry_size)
            for index in _undefined_indices(elf, offset, count)
        )
    for fields in rows:
        if elf.is_64:
            name_index, info, other, shndx, value, _size = fields
        else:
            name_index, value, _size, info, other, shndx = fields
        if (shndx != C.SHN_UNDEF) is not defined:
            continue
        start = str_start + name_index
        if not name_index or start + 3 > str_end:
            continue
        head = data[start : start + 3]
        if head[:2] != b"_R" and head != b"_ZN":
            continue
        stop = data.find(b"\0", start, str_end)
        if stop < 0:
            continue
        if head == b"_ZN" and data.find(_LEGACY_HASH, start, stop) < 0:
            continue  # C++: a legacy Rust name ends in 17h<16 hex>E (librustc_driver imports 278 C++ names)
        yield RawSymbol(bytes(data[start:stop]), info, other, shndx, value)


def _undefined_indices(elf: ElfFile, offset: int, count: int) -> list[int]:
    """Indices of the entries with st_shndx == SHN_UNDEF, found by C-speed searches of the st_shndx
    column (a strided copy), so that a 20k-symbol library with 50 imports costs 50 steps, not 20k.
    (Zero is zero in either byte order.)"""
    if not count:
        return []
    entry_size, field = (24, 6) if elf.is_64 else (16, 14)
    with memoryview(elf.data) as view:
        column = view[offset + field : offset + count * entry_size : entry_size].tobytes()
    # ``column`` holds the first byte of each st_shndx; the second byte is checked when it is zero
    found = []
    at = column.find(0)
    while at >= 0:
        if elf.data[offset + at * entry_size + field + 1] == 0:
            found.append(at)
        at = column.find(0, at + 1)
    return found


def dynsym(elf: ElfFile, *, defined: bool) -> Iterator[RawSymbol]:
    dynamic = elf.dynamic
    if dynamic is None:
        return iter(())
    symtab = dynamic.value(C.DT_SYMTAB)
    if symtab is None or dynamic.value(C.DT_STRTAB) is None:
        return iter(())
    count = dynsym_count(elf)
    strings = elf.string_table_bounds()
    return _entries(elf, address_to_offset(elf, symtab, "DT_SYMTAB"), count, strings, defined=defined)


def symtab(elf: ElfFile) -> Iterator[RawSymbol]:
    sections = elf.sections
    symtab = next((section for section in sections if section.name == b".symtab"), None)
    if symtab is None or not symtab.entsize or symtab.link >= len(sections):
        return iter(())
    strings = sections[symtab.link]
    entry_size = 24 if elf.is_64 else 16
    bounds = (strings.offset, min(strings.offset + strings.size, elf.size))
    return _entries(elf, symtab.offset, symtab.size // entry_size, bounds, defined=True)
