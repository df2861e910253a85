"""The facts elfdeps' ELF reader returns, extracted in one comparable shape from elfdeps' reader and from
the two independent reference readers (pyelftools, LIEF), for test_reader_differential.

Each ``*_facts(path)`` function asks its reader only through that reader's public API, so a difference
is a difference between readers, not between two copies of our own decoding. Names are bytes in every
``Facts``; how each reference reader's ``str`` becomes bytes is spelled out where it happens, and the
lossy cases are tolerances named in test_reader_differential.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from elfdeps.elf.cache import FileCache, OpenFailure

__all__ = [
    "Definition",
    "Facts",
    "Need",
    "Requirement",
    "SymbolFacts",
    "lief_facts",
    "our_facts",
    "pyelftools_dynsym_section_count",
    "pyelftools_facts",
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


def _enum(table: dict, value: object) -> int:
    """pyelftools names known enum values ('STB_GLOBAL') and passes unknown ones through as ints."""
    return value if isinstance(value, int) else table[value]


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
                interpreter = _utf8(segment.get_interp_name())
            elif isinstance(segment, DynamicSegment) and dynamic is None:
                dynamic = segment

        needed: list[bytes] = []
        soname = rpath = runpath = None
        flags = flags_1 = 0
        symbols: list[SymbolFacts] = []
        if dynamic is not None:
            has_symtab = False
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


def _lief_config():  # type: ignore[no-untyped-def]
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
