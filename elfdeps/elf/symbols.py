"""The dynamic symbol table (.dynsym) with its version tables (versym, verneed, verdef), located
through the dynamic segment as ld.so does: DT_SYMTAB, DT_HASH/DT_GNU_HASH for the count, DT_VERSYM,
DT_VERNEED(NUM), DT_VERDEF(NUM). Mirrors glibc elf/dl-lookup.c and elf/dl-version.c's view of a file.
"""

from __future__ import annotations

import struct

from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact

if TYPE_CHECKING:
    from elfdeps.elf.reader import ElfFile

__all__ = [
    "DynamicSymbols",
    "Symbol",
    "VersionDefinition",
    "VersionNeed",
    "VersionRequirement",
    "address_to_offset",
    "can_bind",
    "decode_symbol",
    "dynsym_count",
    "is_exported",
    "read_dynamic_symbols",
    "read_version_definitions",
    "read_version_needs",
    "static_definitions",
]

VER_FLG_BASE = 0x1
VER_FLG_WEAK = 0x2
MAX_SYMBOLS = 1 << 24  # bounds a hostile hash table


def is_exported(bind: int, visibility: int) -> bool:
    """Whether another object's lookup can see a definition: global, weak or unique binding with
    default or protected visibility (hidden, internal and local definitions never bind)."""
    return bind in C.EXPORTED_BINDINGS and visibility not in (C.STV_HIDDEN, C.STV_INTERNAL)


def can_bind(bind: int, sym_type: int, visibility: int, value: int, shndx: int) -> bool:
    """The one home of glibc's check_match tests that depend on the definition alone (dl-lookup.c):
    a value (or SHN_ABS, or TLS), a type do_lookup_x accepts, and an exported binding/visibility.

    What depends on the reference (a PLT lookup refuses an undefined symbol; versions) is the
    binder's business (elfdeps.binding).
    """
    if value == 0 and shndx != C.SHN_ABS and sym_type != C.STT_TLS:
        return False
    return sym_type in C.LOOKUP_TYPES and is_exported(bind, visibility)


class Symbol(Fact):
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

    @property
    def is_exported(self) -> bool:
        return is_exported(self.bind, self.visibility)

    @property
    def can_bind(self) -> bool:
        return can_bind(self.bind, self.type, self.visibility, self.value, self.shndx)


class VersionDefinition(Fact):
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: it is the ELF field's name
    flags: int
    hash: int
    name: bytes
    parents: tuple[bytes, ...]

    @property
    def is_base(self) -> bool:
        return bool(self.flags & VER_FLG_BASE)


class VersionRequirement(Fact):
    name: bytes
    hash: int
    flags: int
    index: int  # type: ignore[assignment]  # vna_other: the versym index that refers to it (0x8000 = hidden)

    @property
    def is_weak(self) -> bool:
        return bool(self.flags & VER_FLG_WEAK)


class VersionNeed(Fact):
    file: bytes
    versions: tuple[VersionRequirement, ...]


class DynamicSymbols(Fact):
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
                if requirement.index & C.VERSYM_INDEX_MASK == index:
                    return requirement.name
        return None


def address_to_offset(elf: ElfFile, addr: int, what: str) -> int:
    offset = elf.vaddr_to_offset(addr)
    if offset is None:
        raise ElfFormatError(f"{elf.path}: {what} address {addr:#x} is not inside a PT_LOAD segment")
    return offset


def dynsym_count(elf: ElfFile) -> int:
    """Number of .dynsym entries: DT_HASH's nchain, else the highest index reachable in DT_GNU_HASH."""
    dynamic = elf.dynamic
    assert dynamic is not None
    hash_addr = dynamic.value(C.DT_HASH)
    if hash_addr is not None:
        (_nbucket, nchain) = elf.unpack_from("II", address_to_offset(elf, hash_addr, "DT_HASH"), "DT_HASH")
        return min(nchain, MAX_SYMBOLS)
    gnu_addr = dynamic.value(C.DT_GNU_HASH)
    if gnu_addr is not None:
        base = address_to_offset(elf, gnu_addr, "DT_GNU_HASH")
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
    at = address_to_offset(elf, addr, "DT_VERDEF")
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
    at = address_to_offset(elf, addr, "DT_VERNEED")
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


def decode_symbol(is_64: bool, fields: tuple[int, ...], versym: int, name: bytes) -> Symbol:
    """One .dynsym entry from its unpacked fields ("IBBHQQ" on ELF64, "IIIBBH" on ELF32; st_name, always
    the first, is the caller's to read: ``name``)."""
    if is_64:
        _, info, other, shndx, value, size = fields
    else:
        _, value, size, info, other, shndx = fields
    return Symbol._make(  # field order: name, value, size, bind, type, visibility, shndx, version, hidden
        (
            name,
            value,
            size,
            info >> 4,
            info & 0xF,
            other & 0x3,
            shndx,
            versym & C.VERSYM_INDEX_MASK if versym >= 0 else -1,
            versym >= 0 and bool(versym & C.VERSYM_HIDDEN),
        )
    )


def read_dynamic_symbols(elf: ElfFile) -> DynamicSymbols:
    """Parse .dynsym and its version tables; a file without a dynamic segment has none."""
    dynamic = elf.dynamic
    if dynamic is None:
        return DynamicSymbols((), (), (), has_versym=False)
    symtab_addr = dynamic.value(C.DT_SYMTAB)
    count = dynsym_count(elf) if symtab_addr is not None else 0
    entry_size = 24 if elf.is_64 else 16
    symbols: list[Symbol] = []
    versym_addr = dynamic.value(C.DT_VERSYM)
    versyms: tuple[int, ...] | None = None
    if count and symtab_addr is not None:
        symtab_at = address_to_offset(elf, symtab_addr, "DT_SYMTAB")
        elf.unpack_from(f"{entry_size * count}x", symtab_at, "the dynamic symbol table")  # bounds check
        if versym_addr is not None:
            versyms = elf.unpack_from(f"{count}H", address_to_offset(elf, versym_addr, "DT_VERSYM"), "DT_VERSYM")
        raw = elf.data[symtab_at : symtab_at + entry_size * count]
        fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
        for index, fields in enumerate(struct.iter_unpack(fmt, raw)):
            name = elf.dynamic_string(fields[0], "symbol name") if fields[0] else b""
            symbols.append(decode_symbol(elf.is_64, fields, versyms[index] if versyms is not None else -1, name))
    return DynamicSymbols(
        symbols=tuple(symbols),
        definitions=read_version_definitions(elf),
        needs=read_version_needs(elf),
        has_versym=versyms is not None,
    )


_CODE_AND_DATA_TYPES = frozenset({C.STT_NOTYPE, C.STT_OBJECT, C.STT_FUNC, C.STT_GNU_IFUNC})


def static_definitions(elf: ElfFile) -> dict[bytes, tuple[int, int]]:
    """Defined symbols of the section-header symbol table (.symtab), name -> (binding, visibility).

    Not what the loader reads: elfdeps consults it only to explain a missing symbol that a loaded
    object defines but keeps local or hidden (e.g. a C wrapper linked in without being exported).
    """
    # By type as well as name: any section can be renamed ".symtab" through its sh_name.
    symtab = next((s for s in elf.sections if s.name == b".symtab" and s.type == C.SHT_SYMTAB), None)
    if symtab is None or not symtab.entsize or symtab.link >= len(elf.sections):
        return {}
    strings = elf.sections[symtab.link]
    elf.unpack_from(f"{symtab.size}x", symtab.offset, ".symtab")
    fmt = elf.byte_order + ("IBBHQQ" if elf.is_64 else "IIIBBH")
    entry_size = struct.calcsize(fmt)  # what is decoded, whatever sh_entsize claims
    raw = elf.data[symtab.offset : symtab.offset + symtab.size - symtab.size % entry_size]
    found: dict[bytes, tuple[int, int]] = {}
    end = strings.offset + strings.size
    for fields in struct.iter_unpack(fmt, raw):
        if elf.is_64:
            name_index, info, other, shndx, _value, _size = fields
        else:
            name_index, _value, _size, info, other, shndx = fields
        if not name_index or shndx == C.SHN_UNDEF or (info & 0xF) not in _CODE_AND_DATA_TYPES:
            continue
        start = strings.offset + name_index
        stop = elf.data.find(b"\0", start, end)
        if stop > start:
            found.setdefault(bytes(elf.data[start:stop]), (info >> 4, other & 3))
    return found
