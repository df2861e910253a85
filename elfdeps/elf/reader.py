"""Reads what the dynamic loader reads from one ELF file: header, program headers, PT_INTERP and the
dynamic segment (located through PT_LOAD, so stripped files with no section headers work), plus the
section headers when present. ELF32/ELF64, either byte order, any machine.

Names stay ``bytes``: a soname need not be UTF-8 and must still resolve. The file's bytes come from
``elfdeps.elf.cache`` (an mmap), so parsing touches only the pages it needs.
"""

from __future__ import annotations

import struct

from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact, computed_once

if TYPE_CHECKING:
    from elfdeps.elf.lookup import SymbolTable
    from elfdeps.elf.relocations import SymbolReference
    from elfdeps.elf.symbols import DynamicSymbols, VersionDefinition, VersionNeed

__all__ = ["Dynamic", "ElfFile", "Ident", "Section", "Segment", "parse_ident"]

EHDR_SIZE = {C.ELFCLASS32: 52, C.ELFCLASS64: 64}
PHDR_SIZE = {C.ELFCLASS32: 32, C.ELFCLASS64: 56}
SHDR_SIZE = {C.ELFCLASS32: 40, C.ELFCLASS64: 64}
DYN_SIZE = {C.ELFCLASS32: 8, C.ELFCLASS64: 16}
MAX_DYNAMIC_ENTRIES = 1 << 16  # far above any real file; bounds a hostile PT_DYNAMIC


class Ident(Fact):
    """e_ident, undecoded: the loader judges each byte itself (loader.md §3.7)."""

    elf_class: int
    data: int
    version: int
    osabi: int
    abiversion: int
    padding_is_zero: bool

    @property
    def byte_order(self) -> str:
        return ">" if self.data == C.ELFDATA2MSB else "<"


class Segment(Fact):
    type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int


class Section(Fact):
    name: bytes
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


class Dynamic(Fact):
    """The dynamic-section facts the loader acts on, names as bytes."""

    entries: tuple[tuple[int, int], ...]
    dependencies: tuple[tuple[int, bytes], ...]  # (DT_NEEDED | DT_FILTER | DT_AUXILIARY, name), in order
    soname: bytes | None
    rpath: bytes | None
    runpath: bytes | None
    flags: int
    flags_1: int

    @property
    def needed(self) -> tuple[bytes, ...]:
        return tuple(name for tag, name in self.dependencies if tag == C.DT_NEEDED)

    @property
    def nodeflib(self) -> bool:
        return bool(self.flags_1 & C.DF_1_NODEFLIB)

    @property
    def is_pie(self) -> bool:
        return bool(self.flags_1 & C.DF_1_PIE)

    def value(self, tag: int) -> int | None:
        """The value of a tag as the loader's l_info[] keeps it: the last entry wins
        (elf/get-dynamic-info.h stores every entry in turn)."""
        found = None
        for entry_tag, entry_value in self.entries:
            if entry_tag == tag:
                found = entry_value
        return found

    def flag_names(self) -> tuple[str, ...]:
        names = [name for bit, name in C.DT_FLAGS_NAMES.items() if self.flags & bit]
        names += [f"{name}(1)" for bit, name in C.DT_FLAGS_1_NAMES.items() if self.flags_1 & bit]
        if self.value(C.DT_SYMBOLIC) is not None and "SYMBOLIC" not in names:
            names.append("SYMBOLIC")
        if self.value(C.DT_BIND_NOW) is not None and "BIND_NOW" not in names:
            names.append("BIND_NOW")
        return tuple(names)


def parse_ident(data: bytes) -> Ident:
    """Decode e_ident from at least 16 bytes that start with the ELF magic."""
    return Ident(
        elf_class=data[4],
        data=data[5],
        version=data[6],
        osabi=data[7],
        abiversion=data[8],
        padding_is_zero=not any(data[9:16]),
    )


class ElfFile:
    """One ELF file, parsed once. Heavy parts (symbols, sections) are read on first use."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self._data = data
        size = len(data)
        if size < 16 or data[:4] != C.ELF_MAGIC:
            raise ElfFormatError(f"{path}: not an ELF file")
        self.ident = parse_ident(data[:16])
        if self.ident.elf_class not in EHDR_SIZE:
            raise ElfFormatError(f"{path}: unknown ELF class {self.ident.elf_class}")
        if self.ident.data not in (C.ELFDATA2LSB, C.ELFDATA2MSB):
            raise ElfFormatError(f"{path}: unknown ELF data encoding {self.ident.data}")
        self.is_64 = self.ident.elf_class == C.ELFCLASS64
        self.byte_order = self.ident.byte_order
        if size < EHDR_SIZE[self.ident.elf_class]:
            raise ElfFormatError(f"{path}: truncated ELF header ({size} bytes)")
        header_format = self.byte_order + ("HHIQQQIHHHHHH" if self.is_64 else "HHIIIIIHHHHHH")
        (
            self.e_type,
            self.e_machine,
            self.e_version,
            self.e_entry,
            self.e_phoff,
            self.e_shoff,
            self.e_flags,
            self.e_ehsize,
            self.e_phentsize,
            self.e_phnum,
            self.e_shentsize,
            self.e_shnum,
            self.e_shstrndx,
        ) = struct.unpack_from(header_format, data, 16)
        self.segments = self._read_segments()
        self.interpreter = self._read_interpreter()
        self.dynamic = self._read_dynamic()

    # -- bounds-checked access -------------------------------------------------------------------

    @property
    def data(self) -> bytes:
        return self._data

    @property
    def size(self) -> int:
        return len(self._data)

    def _check_range(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or offset + length > len(self._data):
            raise ElfFormatError(
                f"{self.path}: {what} lies outside the file (offset {offset:#x}, {length} bytes,"
                f" file is {len(self._data)} bytes): truncated or corrupt"
            )

    def unpack_from(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        full = self.byte_order + fmt
        try:
            size = struct.calcsize(full)
        except struct.error as error:  # a count from the file too large for any format ("total struct size too long")
            raise ElfFormatError(f"{self.path}: {what} is implausibly large: truncated or corrupt") from error
        self._check_range(offset, size, what)
        return struct.unpack_from(full, self._data, offset)

    def cstring(self, offset: int, limit: int, what: str) -> bytes:
        """A NUL-terminated string starting at ``offset`` and ending before ``limit``."""
        limit = min(limit, len(self._data))
        if offset < 0 or offset >= limit:
            raise ElfFormatError(f"{self.path}: {what} string offset {offset:#x} lies outside its table")
        end = self._data.find(b"\0", offset, limit)
        if end < 0:
            raise ElfFormatError(f"{self.path}: {what} string at {offset:#x} is not terminated")
        return bytes(self._data[offset:end])

    def vaddr_to_offset(self, vaddr: int) -> int | None:
        """File offset of a virtual address, through the PT_LOAD segments as the loader maps them."""
        for seg in self.segments:
            if seg.type == C.PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        return None

    # -- program headers and the dynamic segment -------------------------------------------------

    def _read_segments(self) -> tuple[Segment, ...]:
        if self.e_phnum == 0:
            return ()
        entry_size = PHDR_SIZE[self.ident.elf_class]
        if self.e_phentsize < entry_size:
            raise ElfFormatError(f"{self.path}: program header entry size {self.e_phentsize} is too small")
        self._check_range(self.e_phoff, self.e_phnum * self.e_phentsize, "the program header table")
        fmt = self.byte_order + ("IIQQQQQQ" if self.is_64 else "IIIIIIII")
        segments = []
        for index in range(self.e_phnum):
            fields = struct.unpack_from(fmt, self._data, self.e_phoff + index * self.e_phentsize)
            if self.is_64:
                p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = fields
            else:
                p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_flags, _align = fields
            segments.append(Segment(p_type, p_offset, p_vaddr, p_filesz, p_memsz, p_flags))
        return tuple(segments)

    def _segment(self, p_type: int) -> Segment | None:
        return next((seg for seg in self.segments if seg.type == p_type), None)

    def _read_interpreter(self) -> bytes | None:
        seg = self._segment(C.PT_INTERP)
        if seg is None:
            return None
        self._check_range(seg.offset, seg.filesz, "PT_INTERP")
        raw = bytes(self._data[seg.offset : seg.offset + seg.filesz])
        return raw.split(b"\0", 1)[0]

    def _read_dynamic(self) -> Dynamic | None:
        seg = self._segment(C.PT_DYNAMIC)
        if seg is None:
            return None
        self._check_range(seg.offset, seg.filesz, "PT_DYNAMIC")
        entry_size = DYN_SIZE[self.ident.elf_class]
        fmt = self.byte_order + ("QQ" if self.is_64 else "II")
        entries: list[tuple[int, int]] = []
        count = min(seg.filesz // entry_size, MAX_DYNAMIC_ENTRIES)
        for tag, value in struct.iter_unpack(fmt, self._data[seg.offset : seg.offset + count * entry_size]):
            if tag == C.DT_NULL:
                break
            entries.append((tag, value))
        return self._decode_dynamic(tuple(entries))

    def _decode_dynamic(self, entries: tuple[tuple[int, int], ...]) -> Dynamic:
        strtab_addr = strsz = None
        for tag, value in entries:  # the last entry of a tag wins, as in l_info[]
            if tag == C.DT_STRTAB:
                strtab_addr = value
            elif tag == C.DT_STRSZ:
                strsz = value
        string_tags = {C.DT_NEEDED, C.DT_SONAME, C.DT_RPATH, C.DT_RUNPATH, C.DT_FILTER, C.DT_AUXILIARY}
        needs_strings = any(tag in string_tags for tag, _ in entries)
        # The string table serves the symbols too, so it is located even when no library name needs it.
        strtab_offset = self.vaddr_to_offset(strtab_addr) if strtab_addr is not None else None
        if needs_strings:
            if strtab_addr is None:
                raise ElfFormatError(f"{self.path}: the dynamic section names libraries but has no DT_STRTAB")
            if strtab_offset is None:
                raise ElfFormatError(f"{self.path}: DT_STRTAB {strtab_addr:#x} is not inside a PT_LOAD segment")
        self._strtab = (strtab_offset, strsz)

        dependencies: list[tuple[int, bytes]] = []
        soname = rpath = runpath = None
        flags = flags_1 = 0
        for tag, value in entries:
            if tag in (C.DT_NEEDED, C.DT_FILTER, C.DT_AUXILIARY):
                dependencies.append((tag, self.dynamic_string(value, "DT_NEEDED")))
            elif tag == C.DT_SONAME:  # single-valued tags: the last entry wins, as in l_info[]
                soname = self.dynamic_string(value, "DT_SONAME")
            elif tag == C.DT_RPATH:
                rpath = self.dynamic_string(value, "DT_RPATH")
            elif tag == C.DT_RUNPATH:
                runpath = self.dynamic_string(value, "DT_RUNPATH")
            elif tag == C.DT_FLAGS:
                flags = value
            elif tag == C.DT_FLAGS_1:
                flags_1 = value
        return Dynamic(entries, tuple(dependencies), soname, rpath, runpath, flags, flags_1)

    def string_table_bounds(self) -> tuple[int, int]:
        """File offsets where the dynamic string table starts and ends."""
        offset, strsz = self._strtab
        if offset is None:
            raise ElfFormatError(f"{self.path}: the file has symbols but no dynamic string table")
        return offset, min(offset + strsz, len(self._data)) if strsz is not None else len(self._data)

    def dynamic_string(self, index: int, what: str) -> bytes:
        """A string of the dynamic string table (DT_STRTAB), bounded by DT_STRSZ: one ``find`` and one
        slice when it is well-formed (binding reads ~270k names in a directory audit); ``cstring``
        says what is wrong otherwise."""
        offset, strsz = self._strtab
        if offset is None:
            raise ElfFormatError(f"{self.path}: {what} needs a string table and there is none")
        limit = offset + strsz if strsz is not None else len(self._data)
        start = offset + index
        end = self._data.find(b"\0", start, limit)
        if end < 0:
            return self.cstring(start, limit, what)  # outside the table, or not terminated: raises
        return self._data[start:end]

    # -- lazily read parts -----------------------------------------------------------------------

    @computed_once
    def symbols(self) -> DynamicSymbols:
        """The dynamic symbol table with its version tables (read on first use)."""
        from elfdeps.elf.symbols import read_dynamic_symbols

        return read_dynamic_symbols(self)

    @computed_once
    def version_needs(self) -> tuple[VersionNeed, ...]:
        """DT_VERNEED: the versions this file requires, per needed file (read once)."""
        from elfdeps.elf.symbols import read_version_needs

        return read_version_needs(self) if self.dynamic is not None else ()

    @computed_once
    def version_definitions(self) -> tuple[VersionDefinition, ...]:
        """DT_VERDEF: the versions this file defines (read once)."""
        from elfdeps.elf.symbols import read_version_definitions

        return read_version_definitions(self) if self.dynamic is not None else ()

    @computed_once
    def static_definitions(self) -> dict[bytes, tuple[int, int]]:
        """.symtab definitions, name -> (binding, visibility): only to explain a missing symbol."""
        from elfdeps.elf.symbols import static_definitions

        return static_definitions(self)

    @computed_once
    def symbol_table(self) -> SymbolTable:
        """Random access to .dynsym through its hash table (what binding uses)."""
        from elfdeps.elf.lookup import SymbolTable

        return SymbolTable(self)

    @computed_once
    def symbol_references(self) -> tuple[SymbolReference, ...]:
        """The relocations that name a symbol (what the loader looks up)."""
        from elfdeps.elf.relocations import read_symbol_references

        return read_symbol_references(self)

    @computed_once
    def sections(self) -> tuple[Section, ...]:
        """Section headers when the file has them (stripped-of-sections files return ())."""
        if self.e_shoff == 0 or self.e_shnum == 0:
            return ()
        entry_size = SHDR_SIZE[self.ident.elf_class]
        if self.e_shentsize < entry_size:
            raise ElfFormatError(f"{self.path}: section header entry size {self.e_shentsize} is too small")
        self._check_range(self.e_shoff, self.e_shnum * self.e_shentsize, "the section header table")
        fmt = self.byte_order + ("IIQQQQIIQQ" if self.is_64 else "IIIIIIIIII")
        # One copy of the table and of the name table, then plain bytes operations: reading through the
        # mmap entry by entry costs a buffer acquisition per field access (~3 us per section).
        table = self._data[self.e_shoff : self.e_shoff + self.e_shnum * self.e_shentsize]
        if self.e_shentsize == entry_size:
            raw = list(struct.iter_unpack(fmt, table))
        else:
            raw = [struct.unpack_from(fmt, table, i * self.e_shentsize) for i in range(self.e_shnum)]
        names: bytes | None = None
        names_offset = limit = 0
        if self.e_shstrndx < len(raw):
            _, _, _, _, names_offset, names_size, *_ = raw[self.e_shstrndx]
            limit = min(names_offset + names_size, len(self._data))
            names = self._data[names_offset:limit] if names_offset < limit else b""
        sections = []
        for name_index, sh_type, sh_flags, addr, offset, size, link, info, _align, entsize in raw:
            name = b""
            if names is not None:  # what cstring(names_offset + name_index, names_end) checks
                start = names_offset + name_index
                if start >= limit:
                    raise ElfFormatError(f"{self.path}: section name string offset {start:#x} lies outside its table")
                end = names.find(b"\0", name_index)
                if end < 0:
                    raise ElfFormatError(f"{self.path}: section name string at {start:#x} is not terminated")
                name = names[name_index:end]
            sections.append(Section(name, sh_type, sh_flags, addr, offset, size, link, info, entsize))
        return tuple(sections)

    def section_bytes(self, name: bytes) -> bytes | None:
        """Contents of the first section called ``name``, or None (absent, or no file bytes)."""
        for section in self.sections:
            if section.name == name and section.type != C.SHT_NOBITS:
                self._check_range(section.offset, section.size, f"section {name.decode()}")
                return bytes(self._data[section.offset : section.offset + section.size])
        return None

    @computed_once
    def comment(self) -> tuple[bytes, ...]:
        """The ``.comment`` strings (compiler and toolchain versions), if sections exist."""
        raw = self.section_bytes(b".comment")
        if raw is None:
            return ()
        return tuple(part for part in raw.split(b"\0") if part)

    @property
    def machine_name(self) -> str:
        return C.MACHINE_NAMES.get(self.e_machine, f"EM_{self.e_machine}")

    @property
    def elf_class_bits(self) -> int:
        return 64 if self.is_64 else 32

    def __repr__(self) -> str:
        return f"ElfFile({self.path!r}, {self.elf_class_bits}-bit {self.machine_name})"
