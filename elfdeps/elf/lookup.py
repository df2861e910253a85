"""Random access to the dynamic symbol table through the file's hash tables, as ld.so's do_lookup_x
reads it: a lookup costs a hash, a Bloom-filter probe and a short chain walk (DT_GNU_HASH, else
DT_HASH), never a decode of every symbol. Also glibc's l_versions table (versym index -> version).
"""

from __future__ import annotations

import struct
import sys

from elfdeps.elf import constants as C
from elfdeps.elf.symbols import Symbol, address_to_offset, can_bind, decode_symbol, dynsym_count
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact

if TYPE_CHECKING:
    from collections.abc import Sequence

    from elfdeps.elf.reader import ElfFile

__all__ = ["SymbolTable", "VersionEntry", "elf_hash", "gnu_hash"]


_NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"


def _powers_of_33(count: int) -> tuple[int, ...]:
    powers = [1]
    for _ in range(count - 1):
        powers.append(powers[-1] * 33 & 0xFFFFFFFF)
    return tuple(powers)


# mod 2**32, for names shorter than 640 bytes: int() reads numerals that long whatever the interpreter's
# int_max_str_digits (640 is the lowest it can be set to). 0.1 ms at import (pow() per item: 0.8 ms).
_POWERS_OF_33 = _powers_of_33(640)
_BASE_33 = b"0123456789abcdefghijklmnopqrstuvw"
_REMAINDER_DIGIT = bytes(_BASE_33[byte % 33] for byte in range(256))  # byte -> its digit c % 33
_QUOTIENT_DIGIT = bytes(_BASE_33[byte // 33] for byte in range(256))  # byte -> its digit c // 33 (0..7)


def gnu_hash(name: bytes) -> int:
    """The DT_GNU_HASH function (dl_new_hash: h = h * 33 + c from 5381, mod 2**32). Binding memoises it
    per run: names recur across objects.

    Unrolled, h is 5381 * 33**n + sum(c_i * 33**(n-1-i)): the sum is the name read as a base-33 number
    whose digits may exceed 32. Splitting each byte into c % 33 and c // 33 gives two proper base-33
    numerals, which int() reads at C speed: 2.3 times faster than the byte loop over rustc's 1,835
    names (84k bytes). Longer names take the loop."""
    size = len(name)
    if 0 < size < len(_POWERS_OF_33):
        remainders = int(name.translate(_REMAINDER_DIGIT), 33)
        quotients = int(name.translate(_QUOTIENT_DIGIT), 33)
        return (5381 * _POWERS_OF_33[size] + remainders + 33 * quotients) & 0xFFFFFFFF
    value = 5381
    for byte in name:
        value = (value * 33 + byte) & 0xFFFFFFFF
    return value


def elf_hash(name: bytes) -> int:
    """The System V DT_HASH function (_dl_elf_hash); also the hash of version names."""
    value = 0
    for byte in name:
        value = ((value << 4) + byte) & 0xFFFFFFFF
        high = value & 0xF0000000
        if high:
            value ^= high >> 24
        value &= ~high & 0xFFFFFFFF
    return value


class VersionEntry(Fact):
    """One slot of glibc's l_versions table: what a versym index means in this file."""

    name: bytes
    hash: int
    hidden: bool
    file: bytes | None  # the needed file for a verneed entry; None for the file's own definitions


class SymbolTable:
    """Random access to .dynsym through the file's hash table, as ld.so's do_lookup_x reads it:
    a lookup costs a hash, a Bloom-filter probe and a short chain walk, never a scan of every symbol
    (libLLVM exports 39k symbols; a program references a few hundred of them)."""

    def __init__(self, elf: ElfFile) -> None:
        self.elf = elf
        self._is_64 = elf.is_64
        self._data = elf.data
        self._view = memoryview(self._data)  # struct reads through a memoryview cost half those through an mmap
        dynamic = elf.dynamic
        symtab_addr = dynamic.value(C.DT_SYMTAB) if dynamic is not None else None
        self.count = dynsym_count(elf) if symtab_addr is not None else 0
        self._entry_size = 24 if elf.is_64 else 16
        self._fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
        # Compiled once per file: binding reads ~150k entries one at a time in a directory audit.
        self._entry = struct.Struct(self._fmt)
        self._symtab = address_to_offset(elf, symtab_addr, "DT_SYMTAB") if self.count and symtab_addr is not None else 0
        if self.count:
            elf.unpack_from(f"{self._entry_size * self.count}x", self._symtab, "the dynamic symbol table")
        versym_addr = dynamic.value(C.DT_VERSYM) if dynamic is not None else None
        self._versym = (
            address_to_offset(elf, versym_addr, "DT_VERSYM") if versym_addr is not None and self.count else None
        )
        self._versyms: Sequence[int] | None = None
        if self._versym is not None:
            elf.unpack_from(f"{2 * self.count}x", self._versym, "DT_VERSYM")
            self._versyms = self._words(self._versym, self.count, 2)
        # The dynamic string table's bounds, looked up once: binding reads thousands of names. (-1, 0)
        # when there is none: every read then goes to ElfFile.dynamic_string, which says so.
        try:
            self._strings = elf.string_table_bounds() if self.count else (-1, 0)
        except ElfFormatError:
            self._strings = (-1, 0)
        self._gnu = self._read_gnu_hash() if dynamic is not None else None
        self._sysv = self._read_sysv_hash() if dynamic is not None and self._gnu is None else None
        self._by_name: dict[bytes, list[int]] | None = None
        self._found: dict[bytes, tuple[int, ...]] = {}
        self._definition_names: frozenset[bytes] | None = None
        self.asked = 0  # names binding has asked this table about in the run (its set pays off beyond)
        self.admitted: set[bytes] = set()  # names the Bloom filter let through when binding asked first
        self._gnu_views: tuple[Sequence[int], Sequence[int], Sequence[int]] | None = None
        self._bloom: Sequence[int] | None = None  # the Bloom words, once bounds-checked
        self._bloom_bits = 64 if elf.is_64 else 32
        self._bloom_words, self._bloom_shift = (self._gnu[2], self._gnu[3]) if self._gnu is not None else (1, 0)
        self._versions: dict[int, VersionEntry] | None = None
        self._symbols: dict[int, Symbol] = {}

    @property
    def has_versym(self) -> bool:
        return self._versym is not None

    def versym(self, index: int) -> int:
        versyms = self._versyms
        return -1 if versyms is None else versyms[index]

    def _name(self, name_index: int) -> bytes:
        """The symbol name at ``name_index`` of the dynamic string table (ElfFile.dynamic_string, the
        table's bounds looked up once; that method reads what is out of bounds and says why)."""
        if not name_index:
            return b""
        start, limit = self._strings
        end = self._data.find(b"\0", start + name_index, limit)
        if end < 0 or start < 0:
            return self.elf.dynamic_string(name_index, "symbol name")
        return self._data[start + name_index : end]

    def symbol(self, index: int) -> Symbol:
        known = self._symbols.get(index)
        if known is None:
            if not 0 <= index < self.count:
                raise ElfFormatError(f"{self.elf.path}: symbol index {index} is outside .dynsym")
            fields = self._entry.unpack_from(self._view, self._symtab + index * self._entry_size)
            versyms = self._versyms
            versym = -1 if versyms is None else versyms[index]
            known = self._symbols[index] = decode_symbol(self._is_64, fields, versym, self._name(fields[0]))
        return known

    def reference(self, index: int) -> tuple[bytes, int, int, int, int]:
        """What binding needs of symbol ``index`` to look it up: (name, binding, visibility, section
        index, version index; 0 without versym), without building a Symbol (a directory audit reads
        150k references this way)."""
        if not 0 <= index < self.count:
            raise ElfFormatError(f"{self.elf.path}: symbol index {index} is outside .dynsym")
        fields = self._entry.unpack_from(self._view, self._symtab + index * self._entry_size)
        if self._is_64:
            name_index, info, other, shndx = fields[0], fields[1], fields[2], fields[3]
        else:
            name_index, info, other, shndx = fields[0], fields[3], fields[4], fields[5]
        versyms = self._versyms
        version = 0 if versyms is None else versyms[index] & C.VERSYM_INDEX_MASK
        return self._name(name_index), info >> 4, other & 0x3, shndx, version

    def _read_gnu_hash(self) -> tuple[int, int, int, int, int, int, int] | None:
        elf = self.elf
        addr = elf.dynamic.value(C.DT_GNU_HASH) if elf.dynamic is not None else None
        if addr is None or not self.count:
            return None
        base = address_to_offset(elf, addr, "DT_GNU_HASH")
        nbuckets, symoffset, bloom_size, shift = elf.unpack_from("IIII", base, "DT_GNU_HASH")
        if not nbuckets or not bloom_size:
            return None
        word = 8 if elf.is_64 else 4
        buckets = base + 16 + bloom_size * word
        elf.unpack_from(f"{4 * nbuckets}x", buckets, "DT_GNU_HASH buckets")
        return nbuckets, symoffset, bloom_size, shift, base + 16, buckets, buckets + 4 * nbuckets

    def _read_sysv_hash(self) -> tuple[int, int, int, int] | None:
        elf = self.elf
        addr = elf.dynamic.value(C.DT_HASH) if elf.dynamic is not None else None
        if addr is None or not self.count:
            return None
        base = address_to_offset(elf, addr, "DT_HASH")
        nbucket, nchain = elf.unpack_from("II", base, "DT_HASH")
        if not nbucket:
            return None
        elf.unpack_from(f"{4 * (nbucket + nchain)}x", base + 8, "DT_HASH table")
        return nbucket, nchain, base + 8, base + 8 + 4 * nbucket

    @property
    def names_ready(self) -> bool:
        """Whether :meth:`definition_names` is built (a set probe is then the cheapest filter)."""
        return self._definition_names is not None

    def definition_names(self) -> frozenset[bytes]:
        """Names that may satisfy a lookup here (``can_bind``, versions aside).

        A superset filter for binding (check_match still decides): one set probe per object in
        scope instead of a hash-table walk, built once per file from one pass over .dynsym.
        """
        if self._definition_names is None:
            names = set()
            if self.count:
                elf, data = self.elf, self.elf.data
                first = self._gnu[1] if self._gnu is not None else 0  # DT_GNU_HASH reaches symoffset.. only
                raw = data[self._symtab + first * self._entry_size : self._symtab + self.count * self._entry_size]
                strtab, strsz = elf.string_table_bounds()
                for fields in struct.iter_unpack(self._fmt, raw):
                    if elf.is_64:
                        name_index, info, other, shndx, value, _size = fields
                    else:
                        name_index, value, _size, info, other, shndx = fields
                    if not name_index or not can_bind(info >> 4, info & 0xF, other & 3, value, shndx):
                        continue
                    start = strtab + name_index
                    end = data.find(b"\0", start, strsz)
                    if end >= 0:
                        names.add(bytes(data[start:end]))
            self._definition_names = frozenset(names)
        return self._definition_names

    def _words(self, offset: int, count: int, size: int) -> Sequence[int]:
        """``count`` words of ``size`` bytes (8, 4 or 2) at ``offset`` as a sequence: a zero-copy view when
        the byte order is native."""
        if self.elf.byte_order == _NATIVE_ORDER and offset % size == 0:
            view = self._view[offset : offset + count * size]
            return view.cast("Q") if size == 8 else view.cast("I") if size == 4 else view.cast("H")
        code = "Q" if size == 8 else "I" if size == 4 else "H"
        return struct.unpack_from(f"{self.elf.byte_order}{count}{code}", self._data, offset)

    def find(self, name: bytes, gnu: int | None = None) -> tuple[int, ...]:
        """Indices of the symbols called ``name`` (defined or not), in table order; memoised."""
        known = self._found.get(name)
        if known is None:
            known = self._found[name] = self._find(name, gnu)
        return known

    def _gnu_tables(
        self, gnu: tuple[int, int, int, int, int, int, int]
    ) -> tuple[Sequence[int], Sequence[int], Sequence[int]]:
        """The Bloom words, buckets and chains of DT_GNU_HASH (bounds-checked once; zero-copy views)."""
        if self._gnu_views is None:
            nbuckets, symoffset, bloom_size, _shift, bloom, buckets, chains = gnu
            word = 8 if self.elf.is_64 else 4
            chain_count = max(self.count - symoffset, 0)
            self.elf.unpack_from(f"{4 * chain_count}x", chains, "DT_GNU_HASH chains")  # bounds check
            self.elf.unpack_from(f"{word * bloom_size}x", bloom, "DT_GNU_HASH Bloom filter")
            self._gnu_views = (
                self._words(bloom, bloom_size, word),
                self._words(buckets, nbuckets, 4),
                self._words(chains, chain_count, 4),
            )
        return self._gnu_views

    def admits(self, gnu: int) -> bool:
        """Whether DT_GNU_HASH's Bloom filter lets a name of GNU hash ``gnu`` through (ld.so's first test
        in do_lookup_x); True for a file without one. Binding asks this before anything costlier."""
        bloom = self._bloom
        if bloom is None:
            if self._gnu is None:
                return True
            bloom = self._bloom = self._gnu_tables(self._gnu)[0]
        bits, shift = self._bloom_bits, self._bloom_shift  # binding asks ~3 times per reference
        mask = (1 << (gnu % bits)) | (1 << ((gnu >> shift) % bits))
        return bloom[(gnu // bits) % self._bloom_words] & mask == mask

    def _find(self, name: bytes, gnu: int | None) -> tuple[int, ...]:
        gnu_table = self._gnu
        if gnu_table is not None:
            h = gnu_hash(name) if gnu is None else gnu
            if name not in self.admitted and not self.admits(h):
                return ()
            _bloom, bucket_words, chain_words = self._gnu_views or self._gnu_tables(gnu_table)
            nbuckets, symoffset, count, odd = gnu_table[0], gnu_table[1], self.count, h | 1
            index = bucket_words[h % nbuckets]
            found = []
            while symoffset <= index < count:
                chain = chain_words[index - symoffset]
                if chain | 1 == odd and self.symbol(index).name == name:
                    found.append(index)
                if chain & 1:
                    break
                index += 1
            return tuple(found)
        if self._sysv is not None:
            nbucket, nchain, buckets, chains = self._sysv
            order, data = self.elf.byte_order, self.elf.data
            (index,) = struct.unpack_from(order + "I", data, buckets + 4 * (elf_hash(name) % nbucket))
            hits, steps = [], 0
            while index and index < min(nchain, self.count) and steps < nchain:
                if self.symbol(index).name == name:
                    hits.append(index)
                (index,) = struct.unpack_from(order + "I", data, chains + 4 * index)
                steps += 1
            return tuple(sorted(hits))
        if self._by_name is None:  # no hash table at all: index every name once
            self._by_name = {}
            for index in range(1, self.count):
                self._by_name.setdefault(self.symbol(index).name, []).append(index)
        return tuple(self._by_name.get(name, ()))

    def versions(self) -> dict[int, VersionEntry]:
        """glibc's l_versions: versym index -> version, from verneed and verdef (dl-version.c)."""
        if self._versions is None:
            table: dict[int, VersionEntry] = {}
            for need in self.elf.version_needs:
                for requirement in need.versions:
                    table[requirement.index & C.VERSYM_INDEX_MASK] = VersionEntry(
                        requirement.name, requirement.hash, bool(requirement.index & C.VERSYM_HIDDEN), need.file
                    )
            for definition in self.elf.version_definitions:
                if not definition.is_base:  # dl-version.c: the base version never matches a symbol
                    table[definition.index] = VersionEntry(definition.name, definition.hash, False, None)
            self._versions = table
        return self._versions
