"""The facts elfdeps' ELF reader returns, extracted in one comparable shape from elfdeps' reader and from
the two independent reference readers (pyelftools, LIEF), for test_reader_differential.

Each ``*_facts(path)`` function asks its reader only through that reader's public API, so a difference
is a difference between readers, not between two copies of our own decoding. Names are bytes in every
``Facts``; how each reference reader's ``str`` becomes bytes is spelled out where it happens, and the
lossy cases are tolerances named in test_reader_differential.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from elfdeps.elf.cache import FileCache, OpenFailure

__all__ = [
    "Definition",
    "Facts",
    "LookupFacts",
    "LookupInputs",
    "Need",
    "Relocation",
    "Requirement",
    "SymbolFacts",
    "lief_facts",
    "lief_lookup_inputs",
    "our_facts",
    "our_lookup_facts",
    "pyelftools_dynsym_section_count",
    "pyelftools_facts",
    "pyelftools_lookup_inputs",
    "readelf_relocations",
]

VERSYM_HIDDEN = 0x8000


@dataclass(frozen=True, slots=True)
class SymbolFacts:
    name: bytes
    value: int
    size: int
    bind: int
    type: int
    visibility: int
    shndx: int
    version: int | None  # versym & 0x7fff; None when the file has no versym table
    hidden: bool  # versym bit 0x8000


@dataclass(frozen=True, slots=True)
class Requirement:  # one vernaux
    name: bytes
    hash: int
    flags: int
    other: int  # vna_other, the versym index naming it


@dataclass(frozen=True, slots=True)
class Need:  # one verneed
    file: bytes
    versions: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class Definition:  # one verdef: its own name first, then the parents
    index: int
    flags: int
    hash: int
    names: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Facts:
    interpreter: bytes | None
    has_dynamic: bool
    needed: tuple[bytes, ...]
    soname: bytes | None
    rpath: bytes | None
    runpath: bytes | None
    flags: int
    flags_1: int
    symbols: tuple[SymbolFacts, ...]  # index 0 is the null symbol, as in the file
    needs: tuple[Need, ...]
    definitions: tuple[Definition, ...]
    has_versions: bool  # False: this reader did not read versym/verneed/verdef (see the tolerances)
    comment: tuple[bytes, ...]

    def map_names(self, convert: Callable[[bytes], bytes]) -> Facts:
        """The same facts with every name passed through ``convert`` (applies a decoding tolerance).
        ``.comment`` is not a name: every reader hands out its raw bytes."""

        def name(value: bytes | None) -> bytes | None:
            return None if value is None else convert(value)

        return dataclasses.replace(
            self,
            interpreter=name(self.interpreter),
            needed=tuple(convert(n) for n in self.needed),
            soname=name(self.soname),
            rpath=name(self.rpath),
            runpath=name(self.runpath),
            symbols=tuple(dataclasses.replace(s, name=convert(s.name)) for s in self.symbols),
            needs=tuple(
                Need(
                    convert(n.file),
                    tuple(dataclasses.replace(r, name=convert(r.name)) for r in n.versions),
                )
                for n in self.needs
            ),
            definitions=tuple(
                dataclasses.replace(d, names=tuple(convert(x) for x in d.names)) for d in self.definitions
            ),
        )

    def without_versions(self) -> Facts:
        """The facts a reader that reads no version tables would report."""
        return dataclasses.replace(
            self,
            symbols=tuple(dataclasses.replace(s, version=None, hidden=False) for s in self.symbols),
            needs=(),
            definitions=(),
            has_versions=False,
        )


# ------------------------------------------------------------------------------------------ elfdeps


def our_facts(path: str) -> Facts:
    opened = FileCache().open(path)
    assert not isinstance(opened, OpenFailure), opened
    elf = opened.elf()
    dynamic = elf.dynamic
    table = elf.symbols
    symbols = tuple(
        SymbolFacts(
            s.name,
            s.value,
            s.size,
            s.bind,
            s.type,
            s.visibility,
            s.shndx,
            None if s.version_index < 0 else s.version_index,
            s.hidden_version,
        )
        for s in table.symbols
    )
    needs = tuple(
        Need(n.file, tuple(Requirement(r.name, r.hash, r.flags, r.index) for r in n.versions)) for n in table.needs
    )
    definitions = tuple(Definition(d.index, d.flags, d.hash, (d.name, *d.parents)) for d in table.definitions)
    return Facts(
        interpreter=elf.interpreter,
        has_dynamic=dynamic is not None,
        needed=dynamic.needed if dynamic else (),
        soname=dynamic.soname if dynamic else None,
        rpath=dynamic.rpath if dynamic else None,
        runpath=dynamic.runpath if dynamic else None,
        flags=dynamic.flags if dynamic else 0,
        flags_1=dynamic.flags_1 if dynamic else 0,
        symbols=symbols,
        needs=needs,
        definitions=definitions,
        has_versions=True,
        comment=elf.comment,
    )


# --------------------------------------------------------------------------------------- pyelftools


def _utf8(text: str) -> bytes:
    """pyelftools hands out ``str``: UTF-8 decoded, with U+FFFD for bytes that are not UTF-8 when the
    string comes from a section's string table (tolerance NON_UTF8_REPLACED in the test)."""
    return text.encode("utf-8")


def _enum(table: Mapping[str, int], value: object) -> int:
    """pyelftools names known enum values ('STB_GLOBAL') and passes unknown ones through as ints."""
    return value if isinstance(value, int) else table[str(value)]


# When a string tag repeats, the last entry counts: glibc's elf_get_dynamic_info stores each entry in
# l_info[tag] as it walks the table (elf/get-dynamic-info.h), so the later one overwrites the earlier.
# Both reference readers list every entry; the loops below keep the last, as ld.so does.


def pyelftools_facts(path: str) -> Facts:
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.enums import (
        ENUM_ST_INFO_BIND,
        ENUM_ST_INFO_TYPE,
        ENUM_ST_SHNDX,
        ENUM_ST_VISIBILITY,
        ENUM_VERSYM,
    )
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVerSymSection
    from elftools.elf.segments import InterpSegment

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        interpreter = None
        dynamic = None
        for segment in elf.iter_segments():
            if isinstance(segment, InterpSegment) and interpreter is None:
                interpreter = _utf8(segment.get_interp_name() or "")
            elif isinstance(segment, DynamicSegment) and dynamic is None:
                dynamic = segment

        needed: list[bytes] = []
        soname = rpath = runpath = None
        flags = flags_1 = 0
        symbols: list[SymbolFacts] = []
        if dynamic is not None:
            has_symtab = False
            tag: Any  # pyelftools sets .needed, .soname, .rpath, .runpath on a tag at run time
            for tag in dynamic.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(_utf8(tag.needed))
                elif kind == "DT_SONAME":
                    soname = _utf8(tag.soname)
                elif kind == "DT_RPATH":
                    rpath = _utf8(tag.rpath)
                elif kind == "DT_RUNPATH":
                    runpath = _utf8(tag.runpath)
                elif kind == "DT_FLAGS":
                    flags = tag.entry.d_val
                elif kind == "DT_FLAGS_1":
                    flags_1 = tag.entry.d_val
                elif kind == "DT_SYMTAB":
                    has_symtab = True
            raw_symbols = dynamic.iter_symbols() if has_symtab else ()
            for sym in raw_symbols:
                symbols.append(
                    SymbolFacts(
                        _utf8(sym.name),
                        sym["st_value"],
                        sym["st_size"],
                        _enum(ENUM_ST_INFO_BIND, sym["st_info"]["bind"]),
                        _enum(ENUM_ST_INFO_TYPE, sym["st_info"]["type"]),
                        _enum(ENUM_ST_VISIBILITY, sym["st_other"]["visibility"]),
                        _enum(ENUM_ST_SHNDX, sym["st_shndx"]),
                        None,
                        False,
                    )
                )

        # pyelftools reads the version tables only through section headers (tolerance
        # PYELFTOOLS_VERSIONS_NEED_SECTIONS); without them it reports no versions at all.
        has_versions = elf.num_sections() > 0
        needs: list[Need] = []
        definitions: list[Definition] = []
        for section in elf.iter_sections():
            if isinstance(section, GNUVerSymSection) and symbols:
                from elftools.common.utils import struct_parse

                for index in range(min(section.num_symbols(), len(symbols))):
                    raw = struct_parse(
                        section.structs.Elf_Versym,
                        section.stream,
                        stream_pos=section["sh_offset"] + index * section["sh_entsize"],
                    )["ndx"]
                    value = _enum(ENUM_VERSYM, raw)
                    symbols[index] = dataclasses.replace(
                        symbols[index], version=value & 0x7FFF, hidden=bool(value & VERSYM_HIDDEN)
                    )
            elif isinstance(section, GNUVerNeedSection):
                for verneed, auxiliaries in section.iter_versions():
                    versions = tuple(
                        Requirement(_utf8(aux.name), aux["vna_hash"], aux["vna_flags"], aux["vna_other"])
                        for aux in auxiliaries
                    )
                    assert verneed.name is not None, f"{path}: pyelftools found a verneed without a file name"
                    needs.append(Need(_utf8(verneed.name), versions))
            elif isinstance(section, GNUVerDefSection):
                for verdef, auxiliaries in section.iter_versions():
                    names = tuple(_utf8(aux.name) for aux in auxiliaries)
                    definitions.append(Definition(verdef["vd_ndx"], verdef["vd_flags"], verdef["vd_hash"], names))

        comment_section = elf.get_section_by_name(".comment") if elf.num_sections() else None
        comment: tuple[bytes, ...] = ()
        if comment_section is not None and comment_section["sh_type"] != "SHT_NOBITS":
            comment = tuple(part for part in comment_section.data().split(b"\0") if part)

        return Facts(
            interpreter=interpreter,
            has_dynamic=dynamic is not None,
            needed=tuple(needed),
            soname=soname,
            rpath=rpath,
            runpath=runpath,
            flags=flags,
            flags_1=flags_1,
            symbols=tuple(symbols),
            needs=tuple(needs),
            definitions=tuple(definitions),
            has_versions=has_versions,
            comment=comment,
        )


def pyelftools_dynsym_section_count(path: str) -> int | None:
    """Entries in the .dynsym section by its header (sh_size / sh_entsize), or None without one."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        for section in elf.iter_sections():
            if section["sh_type"] == "SHT_DYNSYM" and section["sh_entsize"]:
                return section["sh_size"] // section["sh_entsize"]
    return None


# --------------------------------------------------------------------------------------------- LIEF


def _lief_bytes(text: str | bytes) -> bytes:
    """LIEF hands out ``str`` for a UTF-8 name and the exact ``bytes`` otherwise: both are lossless."""
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _lief_config() -> Any:  # lief.ELF.ParserConfig
    import lief

    config = lief.ELF.ParserConfig()
    config.parse_relocations = False  # not compared, and the slowest part of LIEF's parse
    config.parse_symtab_symbols = False
    config.parse_notes = False
    config.parse_overlay = False
    config.parse_dyn_symbols = True
    config.parse_symbol_versions = True
    return config


def lief_facts(path: str) -> Facts:
    import lief

    lief.logging.disable()
    binary = lief.ELF.parse(path, _lief_config())
    assert binary is not None, f"LIEF could not parse {path}"
    tag = lief.ELF.DynamicEntry.TAG
    needed: list[bytes] = []
    soname = rpath = runpath = None
    flags = flags_1 = 0
    has_dynamic = any(seg.type == lief.ELF.Segment.TYPE.DYNAMIC for seg in binary.segments)
    entry: Any  # LIEF hands out DynamicEntry subclasses (.name, .rpath, .runpath) typed as the base class
    for entry in binary.dynamic_entries:
        if entry.tag == tag.NEEDED:
            needed.append(_lief_bytes(entry.name))
        elif entry.tag == tag.SONAME:
            soname = _lief_bytes(entry.name)
        elif entry.tag == tag.RPATH:
            rpath = _lief_bytes(entry.rpath)
        elif entry.tag == tag.RUNPATH:
            runpath = _lief_bytes(entry.runpath)
        elif entry.tag == tag.FLAGS:
            flags = entry.value
        elif entry.tag == tag.FLAGS_1:
            flags_1 = entry.value

    symbols = []
    for sym in binary.dynamic_symbols:
        version = sym.symbol_version.value if sym.symbol_version is not None else None
        symbols.append(
            SymbolFacts(
                _lief_bytes(sym.name),
                sym.value,
                sym.size,
                int(sym.binding),
                int(sym.type),
                int(sym.visibility),
                sym.shndx,
                None if version is None else version & 0x7FFF,
                version is not None and bool(version & VERSYM_HIDDEN),
            )
        )
    needs = tuple(
        Need(
            _lief_bytes(requirement.name),
            tuple(
                Requirement(_lief_bytes(aux.name), aux.hash, aux.flags, aux.other)
                for aux in requirement.get_auxiliary_symbols()
            ),
        )
        for requirement in binary.symbols_version_requirement
    )
    definitions = tuple(
        Definition(d.ndx, d.flags, d.hash, tuple(_lief_bytes(aux.name) for aux in d.auxiliary_symbols))
        for d in binary.symbols_version_definition
    )
    comment: tuple[bytes, ...] = ()
    section = binary.get_section(".comment")
    if section is not None and section.type != lief.ELF.Section.TYPE.NOBITS:
        comment = tuple(part for part in bytes(section.content).split(b"\0") if part)
    return Facts(
        interpreter=_lief_bytes(binary.interpreter) if binary.has_interpreter else None,
        has_dynamic=has_dynamic,
        needed=tuple(needed),
        soname=soname,
        rpath=rpath,
        runpath=runpath,
        flags=flags,
        flags_1=flags_1,
        symbols=tuple(symbols),
        needs=needs,
        definitions=definitions,
        has_versions=True,
        comment=comment,
    )


# ------------------------------------------------------------------- the lookup path (what binding reads)


@dataclass(frozen=True, slots=True)
class Relocation:
    """One dynamic relocation: from the DT_REL/DT_RELA table ("dyn") or DT_JMPREL ("plt")."""

    table: str
    symbol: int
    type: int


@dataclass(frozen=True, slots=True)
class LookupInputs:
    """What a reference reader says about the parts of a file the loader's lookups read."""

    machine: int
    bits: int
    first_hashed: int  # lowest .dynsym index the hash table reaches (DT_GNU_HASH symoffset; 1 for DT_HASH)
    relocations: tuple[Relocation, ...]  # in table order, DT_REL(A) first, the JMPREL overlap removed


@dataclass(frozen=True, slots=True)
class LookupFacts:
    """What elfdeps' lookup path (ElfFile.symbol_table, ElfFile.symbol_references) answers."""

    symbols: tuple[SymbolFacts, ...]  # SymbolTable.symbol(i), every i
    find: tuple[tuple[bytes, tuple[int, ...]], ...]  # SymbolTable.find(name), for the probed names
    definition_names: frozenset[bytes]
    versions: tuple[tuple[int, bytes, int, bool, bytes | None], ...]  # l_versions: index, name, hash, hidden, file
    references: tuple[tuple[int, str, bool], ...]  # (symbol index, class, lazy)


def our_lookup_facts(path: str, names: tuple[bytes, ...]) -> LookupFacts:
    """elfdeps' answers through the path binding uses, for the names a reference reader lists."""
    opened = FileCache().open(path)
    assert not isinstance(opened, OpenFailure), opened
    elf = opened.elf()
    table = elf.symbol_table
    symbols = []
    for index in range(table.count):
        s = table.symbol(index)
        version = None if s.version_index < 0 else s.version_index
        symbols.append(
            SymbolFacts(s.name, s.value, s.size, s.bind, s.type, s.visibility, s.shndx, version, s.hidden_version)
        )
    return LookupFacts(
        symbols=tuple(symbols),
        find=tuple((name, table.find(name)) for name in names),
        definition_names=table.definition_names(),
        versions=tuple(sorted((index, e.name, e.hash, e.hidden, e.file) for index, e in table.versions().items())),
        references=tuple((r.symbol_index, r.reloc_class.value, r.lazy) for r in elf.symbol_references),
    )


def _without_plt_overlap(
    dyn: list[Relocation], plt: list[Relocation], dyn_end: int | None, plt_end: int | None
) -> list[Relocation]:
    """glibc elf/dynamic-link.h _ELF_DYNAMIC_DO_RELOC: when the DT_REL(A) range ends where the DT_JMPREL
    range ends (the PLT relocations inside it), the PLT part is processed once, as the PLT's."""
    if plt and dyn_end is not None and dyn_end == plt_end:
        return dyn[: len(dyn) - len(plt)]
    return dyn


def pyelftools_lookup_inputs(path: str, with_relocations: bool = True) -> LookupInputs:
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.hash import GNUHashTable

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        bits = elf.elfclass
        machine = elf.header["e_machine"]
        machine = machine if isinstance(machine, int) else _ELFTOOLS_MACHINES[machine]
        dynamic = next((s for s in elf.iter_segments() if isinstance(s, DynamicSegment)), None)
        first_hashed = 1
        relocations: list[Relocation] = []
        if dynamic is None:
            return LookupInputs(machine, bits, first_hashed, ())
        tags = {tag.entry.d_tag: tag.entry.d_val for tag in dynamic.iter_tags()}
        if "DT_GNU_HASH" in tags:
            _vaddr, offset = dynamic.get_table_offset("DT_GNU_HASH")
            assert offset is not None, f"{path}: DT_GNU_HASH is not inside a PT_LOAD segment"
            first_hashed = GNUHashTable(elf, offset, dynamic).params["symoffset"]
        tables = dynamic.get_relocation_tables()

        def rows(name: str, kind: str) -> list[Relocation]:
            table: Any = tables.get(name)  # RelocationTable (RELR tables are not asked for)
            if table is None:
                return []
            return [Relocation(kind, r["r_info_sym"], r["r_info_type"]) for r in table.iter_relocations()]

        if not with_relocations:
            return LookupInputs(machine, bits, first_hashed, ())
        dyn = rows("RELA", "dyn") or rows("REL", "dyn")
        plt = rows("JMPREL", "plt")
        rel = "DT_RELA" if "DT_RELA" in tags else "DT_REL"
        dyn_end = tags[rel] + tags.get(rel + "SZ", 0) if rel in tags else None
        plt_end = tags["DT_JMPREL"] + tags.get("DT_PLTRELSZ", 0) if "DT_JMPREL" in tags else None
        relocations = _without_plt_overlap(dyn, plt, dyn_end, plt_end) + plt
        return LookupInputs(machine, bits, first_hashed, tuple(relocations))


# pyelftools names e_machine values (the few these tests meet); the numbers are the gABI's.
_ELFTOOLS_MACHINES = {"EM_386": 3, "EM_X86_64": 62, "EM_AARCH64": 183, "EM_ARM": 40, "EM_RISCV": 243}


def lief_lookup_inputs(path: str) -> LookupInputs:
    import lief

    lief.logging.disable()
    config = _lief_config()
    config.parse_relocations = True
    binary = lief.ELF.parse(path, config)
    assert binary is not None, f"LIEF could not parse {path}"
    elf_class = binary.header.identity_class
    bits = 64 if elf_class == lief.ELF.Header.CLASS.ELF64 else 32
    machine = int(binary.header.machine_type)
    first_hashed = binary.gnu_hash.symbol_index if binary.use_gnu_hash and binary.gnu_hash is not None else 1
    shift, mask = (32, 0xFFFFFFFF) if bits == 64 else (8, 0xFF)

    def rows(relocations: Iterable[Any], kind: str) -> list[Relocation]:
        found = []
        for reloc in relocations:
            info = reloc.r_info(elf_class)
            found.append(Relocation(kind, info >> shift, info & mask))
        return found

    return LookupInputs(
        machine,
        bits,
        first_hashed,
        tuple(rows(binary.dynamic_relocations, "dyn") + rows(binary.pltgot_relocations, "plt")),
    )


def readelf_relocations(path: str) -> tuple[Relocation, ...]:
    """GNU readelf's view of the dynamic relocations through the dynamic section (`readelf -W -D -r`):
    the tables ld.so reads, each row's r_info from the Info column."""
    import re
    import subprocess

    text = subprocess.run(["readelf", "-W", "-D", "-r", path], capture_output=True, text=True, check=True).stdout
    header = re.compile(r"^'(\w+)' relocation section at offset 0x([0-9a-f]+) contains (\d+) bytes:$")
    tables: dict[str, tuple[int, int, list[tuple[int, int]]]] = {}
    current: list[tuple[int, int]] | None = None
    bits = 64
    for line in text.splitlines():
        if match := header.match(line):
            current = [] if match[1] in ("REL", "RELA", "PLT") else None
            if current is not None:
                tables[match[1]] = (int(match[2], 16), int(match[3]), current)
            continue
        fields = line.split()
        if current is None or len(fields) < 3 or not fields[2].startswith("R_"):
            continue
        bits = 64 if len(fields[1]) == 16 else 32
        info = int(fields[1], 16)
        current.append((info >> 32, info & 0xFFFFFFFF) if bits == 64 else (info >> 8, info & 0xFF))
    dyn_offset, dyn_size, dyn_rows = tables.get("RELA") or tables.get("REL") or (0, 0, [])
    plt_offset, plt_size, plt_rows = tables.get("PLT", (0, 0, []))
    dyn = [Relocation("dyn", sym, kind) for sym, kind in dyn_rows]
    plt = [Relocation("plt", sym, kind) for sym, kind in plt_rows]
    dyn_end = dyn_offset + dyn_size if dyn_rows else None
    return tuple(_without_plt_overlap(dyn, plt, dyn_end, plt_offset + plt_size) + plt)
