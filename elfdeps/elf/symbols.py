"""The dynamic symbol table (.dynsym) with its version tables (versym, verneed, verdef), located
through the dynamic segment as ld.so does: DT_SYMTAB, DT_HASH/DT_GNU_HASH for the count, DT_VERSYM,
DT_VERNEED(NUM), DT_VERDEF(NUM). Mirrors glibc elf/dl-lookup.c and elf/dl-version.c's view of a file.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError

if TYPE_CHECKING:
    from elfdeps.elf.reader import ElfFile

__all__ = [
    "DynamicSymbols",
    "Symbol",
    "SymbolTable",
    "VersionDefinition",
    "VersionEntry",
    "VersionNeed",
    "VersionRequirement",
    "elf_hash",
    "gnu_hash",
    "read_version_definitions",
    "read_version_needs",
]

VERSYM_HIDDEN = 0x8000
VER_FLG_BASE = 0x1
VER_FLG_WEAK = 0x2
MAX_SYMBOLS = 1 << 24  # bounds a hostile hash table


class Symbol(NamedTuple):
    name: bytes
    value: int
    size: int
    bind: int  # STB_*
    type: int  # STT_*
    visibility: int  # STV_*
    shndx: int
    version_index: int  # versym & 0x7fff; 0/1 = unversioned; -1 = the file has no versym table
    hidden_version: bool  # versym bit 0x8000

    @property
    def is_defined(self) -> bool:
        return self.shndx != C.SHN_UNDEF


class VersionDefinition(NamedTuple):
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: it is the ELF field's name
    flags: int
    hash: int
    name: bytes
    parents: tuple[bytes, ...]

    @property
    def is_base(self) -> bool:
        return bool(self.flags & VER_FLG_BASE)


class VersionRequirement(NamedTuple):
    name: bytes
    hash: int
    flags: int
    index: int  # type: ignore[assignment]  # vna_other: the versym index that refers to it (0x8000 = hidden)

    @property
    def is_weak(self) -> bool:
        return bool(self.flags & VER_FLG_WEAK)


class VersionNeed(NamedTuple):
    file: bytes
    versions: tuple[VersionRequirement, ...]


class DynamicSymbols(NamedTuple):
    symbols: tuple[Symbol, ...]  # index 0 is the null symbol, as in the file
    definitions: tuple[VersionDefinition, ...]
    needs: tuple[VersionNeed, ...]
    has_versym: bool

    def version_name(self, index: int) -> bytes | None:
        """Name of a version index, from the file's own verdef or verneed entries."""
        for definition in self.definitions:
            if definition.index == index:
                return definition.name
        for need in self.needs:
            for requirement in need.versions:
                if requirement.index & 0x7FFF == index:
                    return requirement.name
        return None


def _offset(elf: ElfFile, addr: int, what: str) -> int:
    offset = elf.vaddr_to_offset(addr)
    if offset is None:
        raise ElfFormatError(f"{elf.path}: {what} address {addr:#x} is not inside a PT_LOAD segment")
    return offset


def _symbol_count(elf: ElfFile) -> int:
    """Number of .dynsym entries: DT_HASH's nchain, else the highest index reachable in DT_GNU_HASH."""
    dynamic = elf.dynamic
    assert dynamic is not None
    hash_addr = dynamic.value(C.DT_HASH)
    if hash_addr is not None:
        (_nbucket, nchain) = elf.unpack_from("II", _offset(elf, hash_addr, "DT_HASH"), "DT_HASH")
        return min(nchain, MAX_SYMBOLS)
    gnu_addr = dynamic.value(C.DT_GNU_HASH)
    if gnu_addr is not None:
        base = _offset(elf, gnu_addr, "DT_GNU_HASH")
        nbuckets, symoffset, bloom_size, _shift = elf.unpack_from("IIII", base, "DT_GNU_HASH")
        if nbuckets > MAX_SYMBOLS or bloom_size > MAX_SYMBOLS:
            raise ElfFormatError(f"{elf.path}: DT_GNU_HASH header is implausible")
        buckets_at = base + 16 + bloom_size * (8 if elf.is_64 else 4)
        buckets = elf.unpack_from(f"{nbuckets}I", buckets_at, "DT_GNU_HASH buckets")
        highest = max(buckets, default=0)
        if highest < symoffset:
            return symoffset
        chains_at = buckets_at + 4 * nbuckets
        index = highest
        while index < MAX_SYMBOLS:
            (chain,) = elf.unpack_from("I", chains_at + 4 * (index - symoffset), "DT_GNU_HASH chain")
            if chain & 1:
                return index + 1
            index += 1
        raise ElfFormatError(f"{elf.path}: DT_GNU_HASH chain does not terminate")
    for section in elf.sections:  # no hash table at all: fall back to the section header
        if section.name == b".dynsym" and section.entsize:
            return section.size // section.entsize
    return 0


def read_version_definitions(elf: ElfFile) -> tuple[VersionDefinition, ...]:
    dynamic = elf.dynamic
    assert dynamic is not None
    addr, count = dynamic.value(C.DT_VERDEF), dynamic.value(C.DT_VERDEFNUM)
    if addr is None or not count:
        return ()
    definitions = []
    at = _offset(elf, addr, "DT_VERDEF")
    for _ in range(min(count, 1 << 16)):
        _version, flags, index, aux_count, vd_hash, aux, next_ = elf.unpack_from("HHHHIII", at, "verdef")
        names = []
        aux_at = at + aux
        for _aux in range(min(aux_count, 1 << 16)):
            name_index, aux_next = elf.unpack_from("II", aux_at, "verdaux")
            names.append(elf.dynamic_string(name_index, "verdaux"))
            if not aux_next:
                break
            aux_at += aux_next
        if names:
            definitions.append(VersionDefinition(index, flags, vd_hash, names[0], tuple(names[1:])))
        if not next_:
            break
        at += next_
    return tuple(definitions)


def read_version_needs(elf: ElfFile) -> tuple[VersionNeed, ...]:
    dynamic = elf.dynamic
    assert dynamic is not None
    addr, count = dynamic.value(C.DT_VERNEED), dynamic.value(C.DT_VERNEEDNUM)
    if addr is None or not count:
        return ()
    needs = []
    at = _offset(elf, addr, "DT_VERNEED")
    for _ in range(min(count, 1 << 16)):
        _version, aux_count, file_index, aux, next_ = elf.unpack_from("HHIII", at, "verneed")
        requirements = []
        aux_at = at + aux
        for _aux in range(min(aux_count, 1 << 16)):
            vna_hash, vna_flags, vna_other, name_index, aux_next = elf.unpack_from("IHHII", aux_at, "vernaux")
            requirements.append(
                VersionRequirement(elf.dynamic_string(name_index, "vernaux"), vna_hash, vna_flags, vna_other)
            )
            if not aux_next:
                break
            aux_at += aux_next
        needs.append(VersionNeed(elf.dynamic_string(file_index, "verneed"), tuple(requirements)))
        if not next_:
            break
        at += next_
    return tuple(needs)


def _make_symbol(elf: ElfFile, fields: tuple[int, ...], versym: int) -> Symbol:
    """One .dynsym entry from its unpacked fields ("IBBHQQ" on ELF64, "IIIBBH" on ELF32)."""
    if elf.is_64:
        name_index, info, other, shndx, value, size = fields
    else:
        name_index, value, size, info, other, shndx = fields
    return Symbol(
        name=elf.dynamic_string(name_index, "symbol name") if name_index else b"",
        value=value,
        size=size,
        bind=info >> 4,
        type=info & 0xF,
        visibility=other & 0x3,
        shndx=shndx,
        version_index=versym & 0x7FFF if versym >= 0 else -1,
        hidden_version=versym >= 0 and bool(versym & VERSYM_HIDDEN),
    )


def read_dynamic_symbols(elf: ElfFile) -> DynamicSymbols:
    """Parse .dynsym and its version tables; a file without a dynamic segment has none."""
    dynamic = elf.dynamic
    if dynamic is None:
        return DynamicSymbols((), (), (), has_versym=False)
    symtab_addr = dynamic.value(C.DT_SYMTAB)
    count = _symbol_count(elf) if symtab_addr is not None else 0
    entry_size = 24 if elf.is_64 else 16
    symbols: list[Symbol] = []
    versym_addr = dynamic.value(C.DT_VERSYM)
    versyms: tuple[int, ...] | None = None
    if count and symtab_addr is not None:
        symtab_at = _offset(elf, symtab_addr, "DT_SYMTAB")
        elf.unpack_from(f"{entry_size * count}x", symtab_at, "the dynamic symbol table")  # bounds check
        if versym_addr is not None:
            versyms = elf.unpack_from(f"{count}H", _offset(elf, versym_addr, "DT_VERSYM"), "DT_VERSYM")
        raw = elf.data[symtab_at : symtab_at + entry_size * count]
        fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
        for index, fields in enumerate(struct.iter_unpack(fmt, raw)):
            symbols.append(_make_symbol(elf, fields, versyms[index] if versyms is not None else -1))
    return DynamicSymbols(
        symbols=tuple(symbols),
        definitions=read_version_definitions(elf),
        needs=read_version_needs(elf),
        has_versym=versyms is not None,
    )


_NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"
_GNU_HASHES: dict[bytes, int] = {}


def gnu_hash(name: bytes) -> int:
    """The DT_GNU_HASH function (dl_new_hash), memoised: the same names recur across objects."""
    known = _GNU_HASHES.get(name)
    if known is None:
        known = _GNU_HASHES[name] = _gnu_hash(name)
    return known


def _gnu_hash(name: bytes) -> int:
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


class VersionEntry(NamedTuple):
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
        dynamic = elf.dynamic
        symtab_addr = dynamic.value(C.DT_SYMTAB) if dynamic is not None else None
        self.count = _symbol_count(elf) if symtab_addr is not None else 0
        self._entry_size = 24 if elf.is_64 else 16
        self._fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
        self._symtab = _offset(elf, symtab_addr, "DT_SYMTAB") if self.count and symtab_addr is not None else 0
        if self.count:
            elf.unpack_from(f"{self._entry_size * self.count}x", self._symtab, "the dynamic symbol table")
        versym_addr = dynamic.value(C.DT_VERSYM) if dynamic is not None else None
        self._versym = _offset(elf, versym_addr, "DT_VERSYM") if versym_addr is not None and self.count else None
        if self._versym is not None:
            elf.unpack_from(f"{2 * self.count}x", self._versym, "DT_VERSYM")
        self._gnu = self._read_gnu_hash() if dynamic is not None else None
        self._sysv = self._read_sysv_hash() if dynamic is not None and self._gnu is None else None
        self._by_name: dict[bytes, list[int]] | None = None
        self._found: dict[bytes, tuple[int, ...]] = {}
        self._definition_names: frozenset[bytes] | None = None
        self._gnu_views: tuple[Sequence[int], Sequence[int], Sequence[int]] | None = None
        self._versions: dict[int, VersionEntry] | None = None
        self._symbols: dict[int, Symbol] = {}

    @property
    def has_versym(self) -> bool:
        return self._versym is not None

    def versym(self, index: int) -> int:
        if self._versym is None:
            return -1
        (value,) = struct.unpack_from(self.elf.byte_order + "H", self.elf.data, self._versym + 2 * index)
        return int(value)

    def symbol(self, index: int) -> Symbol:
        known = self._symbols.get(index)
        if known is None:
            if not 0 <= index < self.count:
                raise ElfFormatError(f"{self.elf.path}: symbol index {index} is outside .dynsym")
            fields = struct.unpack_from(self._fmt, self.elf.data, self._symtab + index * self._entry_size)
            known = self._symbols[index] = _make_symbol(self.elf, fields, self.versym(index))
        return known

    def _read_gnu_hash(self) -> tuple[int, int, int, int, int, int, int] | None:
        elf = self.elf
        addr = elf.dynamic.value(C.DT_GNU_HASH) if elf.dynamic is not None else None
        if addr is None or not self.count:
            return None
        base = _offset(elf, addr, "DT_GNU_HASH")
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
        base = _offset(elf, addr, "DT_HASH")
        nbucket, nchain = elf.unpack_from("II", base, "DT_HASH")
        if not nbucket:
            return None
        elf.unpack_from(f"{4 * (nbucket + nchain)}x", base + 8, "DT_HASH table")
        return nbucket, nchain, base + 8, base + 8 + 4 * nbucket

    def definition_names(self) -> frozenset[bytes]:
        """Names that may satisfy a lookup here: global/weak/unique symbols with a value, not hidden.

        A superset filter for binding (check_match still decides): one set probe per object in
        scope instead of a hash-table walk, built once per file from one pass over .dynsym.
        """
        if self._definition_names is None:
            names = set()
            if self.count:
                elf, data = self.elf, self.elf.data
                raw = data[self._symtab : self._symtab + self.count * self._entry_size]
                strtab, strsz = elf.string_table_bounds()
                for fields in struct.iter_unpack(self._fmt, raw):
                    if elf.is_64:
                        name_index, info, other, shndx, value, _size = fields
                    else:
                        name_index, value, _size, info, other, shndx = fields
                    if not name_index or (info >> 4) not in (1, 2, 10) or (other & 3) in (1, 2):
                        continue
                    if value == 0 and shndx != C.SHN_ABS and (info & 0xF) != 6:
                        continue
                    start = strtab + name_index
                    end = data.find(b"\0", start, strsz)
                    if end >= 0:
                        names.add(bytes(data[start:end]))
            self._definition_names = frozenset(names)
        return self._definition_names

    def _words(self, offset: int, count: int, size: int) -> Sequence[int]:
        """``count`` words at ``offset`` as a sequence: a zero-copy view when the byte order is native."""
        if self.elf.byte_order == _NATIVE_ORDER and offset % size == 0:
            view = memoryview(self.elf.data)[offset : offset + count * size]
            return view.cast("Q") if size == 8 else view.cast("I")
        code = "Q" if size == 8 else "I"
        return struct.unpack_from(f"{self.elf.byte_order}{count}{code}", self.elf.data, offset)

    def _name_is(self, index: int, name: bytes) -> bool:
        """Whether symbol ``index`` is called ``name``, without decoding the whole entry."""
        return self.symbol(index).name == name

    def find(self, name: bytes, gnu: int | None = None) -> tuple[int, ...]:
        """Indices of the symbols called ``name`` (defined or not), in table order; memoised."""
        known = self._found.get(name)
        if known is None:
            known = self._found[name] = self._find(name, gnu)
        return known

    def _find(self, name: bytes, gnu: int | None) -> tuple[int, ...]:
        if self._gnu is not None:
            nbuckets, symoffset, bloom_size, shift, bloom, buckets, chains = self._gnu
            if self._gnu_views is None:
                word = 8 if self.elf.is_64 else 4
                chain_count = max(self.count - symoffset, 0)
                self.elf.unpack_from(f"{4 * chain_count}x", chains, "DT_GNU_HASH chains")  # bounds check
                self.elf.unpack_from(f"{word * bloom_size}x", bloom, "DT_GNU_HASH Bloom filter")
                self._gnu_views = (
                    self._words(bloom, bloom_size, word),
                    self._words(buckets, nbuckets, 4),
                    self._words(chains, chain_count, 4),
                )
            bloom_words, bucket_words, chain_words = self._gnu_views
            h = gnu_hash(name) if gnu is None else gnu
            bits = 64 if self.elf.is_64 else 32
            mask = (1 << (h % bits)) | (1 << ((h >> shift) % bits))
            if bloom_words[(h // bits) % bloom_size] & mask != mask:
                return ()
            index = bucket_words[h % nbuckets]
            found = []
            while symoffset <= index < self.count:
                chain = chain_words[index - symoffset]
                if (chain | 1) == (h | 1) and self._name_is(index, name):
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
                if self._name_is(index, name):
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
                    table[requirement.index & 0x7FFF] = VersionEntry(
                        requirement.name, requirement.hash, bool(requirement.index & 0x8000), need.file
                    )
            for definition in self.elf.version_definitions:
                table[definition.index] = VersionEntry(definition.name, definition.hash, False, None)
            self._versions = table
        return self._versions


def static_definitions(elf: ElfFile) -> dict[bytes, tuple[int, int]]:
    """Defined symbols of the section-header symbol table (.symtab), name -> (binding, visibility).

    Not what the loader reads: elfdeps consults it only to explain a missing symbol that a loaded
    object defines but keeps local or hidden (e.g. a C wrapper linked in without being exported).
    """
    symtab = next((section for section in elf.sections if section.name == b".symtab"), None)
    if symtab is None or not symtab.entsize or symtab.link >= len(elf.sections):
        return {}
    strings = elf.sections[symtab.link]
    elf.unpack_from(f"{symtab.size}x", symtab.offset, ".symtab")
    fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
    raw = elf.data[symtab.offset : symtab.offset + symtab.size - symtab.size % symtab.entsize]
    found: dict[bytes, tuple[int, int]] = {}
    end = strings.offset + strings.size
    for fields in struct.iter_unpack(fmt, raw):
        if elf.is_64:
            name_index, info, other, shndx, _value, _size = fields
        else:
            name_index, _value, _size, info, other, shndx = fields
        if not name_index or shndx == C.SHN_UNDEF or (info & 0xF) not in (0, 1, 2, 10):
            continue
        start = strings.offset + name_index
        stop = elf.data.find(b"\0", start, end)
        if stop > start:
            found.setdefault(bytes(elf.data[start:stop]), (info >> 4, other & 3))
    return found
