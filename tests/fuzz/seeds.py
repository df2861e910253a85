"""The real files the fuzzer damages, and where their loader-relevant structures lie.

Seeds are built by the fixture builder (fixtures/builder.py, gcc, cached): four groups, each a program
that needs a versioned library (DT_NEEDED, DT_SONAME, RUNPATH or RPATH, verdef/verneed, PLT, GLOB_DAT,
copy and TLS relocations) that itself needs a small library, all found through `$ORIGIN`:

    gnu64   DT_GNU_HASH, RUNPATH, PIE                        m32    the same, ELFCLASS32 i386
    sysv64  DT_HASH only, RPATH, non-PIE (copy relocation), -z now
    both64  both hash tables, -fno-plt (GLOB_DAT calls)

Each seed file is mapped with pyelftools (an independent reader, never elfdeps' own): the byte ranges
of its structures (``regions``), the integer fields a hostile file would lie in (``fields``), every
string of the dynamic string table the loader or binding reads (``names``) and the offsets where a
structure starts or ends (``boundaries``). The mutators in mutate.py aim at these.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile

from fixtures.builder import Library, Program, build

__all__ = ["GROUPS", "Field", "Layout", "Name", "Seed", "build_seeds", "layout"]

_DEP_SOURCE = "int dep_value = 7;\nint dep_func(void) { return dep_value; }"
_LIB_SOURCE = r"""
extern int dep_func(void);
extern int dep_value;
int v_old_impl(void) { return 1; }
int v_new_impl(void) { return dep_func() + dep_value; }
__asm__(".symver v_old_impl, v@LIBFUZZ_1.0");
__asm__(".symver v_new_impl, v@@LIBFUZZ_2.0");
int plain(void) { return 3; }
__attribute__((weak)) int weakdef(void) { return 4; }
__attribute__((visibility("protected"))) int prot(void) { return 5; }
__thread int tlsvar = 6;
int datavar[4] = {1, 2, 3, 4};
extern int undefined_weak(void) __attribute__((weak));
int call(void) { return undefined_weak ? undefined_weak() : tlsvar; }
"""
_VERSION_SCRIPT = """
LIBFUZZ_1.0 { global: v; plain; local: *; };
LIBFUZZ_2.0 { global: v; weakdef; prot; tlsvar; datavar; call; } LIBFUZZ_1.0;
"""
_MAIN_SOURCE = r"""
int printf(const char *format, ...);
extern int v(void);
extern int v_old(void);
__asm__(".symver v_old, v@LIBFUZZ_1.0");
extern int datavar[4];
extern int plain(void);
extern int call(void);
#ifdef NOSTDLIB
int printf(const char *format, ...) { return format[0]; }
#endif
int main(void) { printf("%d\n", v() + v_old() + datavar[1] + plain() + call()); return 0; }
"""

# group: (library flags, program flags, search-path tag, m32). Only gnu64 links libc, as real programs do;
# the others are -nostdlib (entry point main, never run), so binding them does not bind libc again for
# every mutant: the fuzzer's time goes to the damaged file, not to an intact libc.
_NOSTDLIB = ("-nostdlib",)
_NOSTDLIB_PROGRAM = ("-nostdlib", "-DNOSTDLIB", "-Wl,-e,main", "-Wl,--allow-shlib-undefined")
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, bool]] = {
    "gnu64": (("-Wl,--hash-style=gnu",), (), "runpath", False),
    "sysv64": (
        ("-Wl,--hash-style=sysv", *_NOSTDLIB),
        ("-no-pie", "-Wl,-z,now", "-Wl,--hash-style=sysv", *_NOSTDLIB_PROGRAM),
        "rpath",
        False,
    ),
    "both64": (
        ("-Wl,--hash-style=both", *_NOSTDLIB),
        ("-fno-plt", "-Wl,--hash-style=both", *_NOSTDLIB_PROGRAM),
        "runpath",
        False,
    ),
    "m32": (("-Wl,--hash-style=gnu", *_NOSTDLIB), _NOSTDLIB_PROGRAM, "runpath", True),
}
LIBRARY, DEPENDENCY, PROGRAM = "libfuzz.so.1", "libfuzzdep.so", "main"


def _recipe() -> tuple[Library | Program, ...]:
    steps: list[Library | Program] = []
    for group, (lib_flags, prog_flags, search, m32) in GROUPS.items():
        runpath, rpath = ("$ORIGIN", None) if search == "runpath" else (None, "$ORIGIN")
        steps.append(Library(f"{group}/{DEPENDENCY}", source=_DEP_SOURCE, m32=m32, flags=lib_flags))
        steps.append(
            Library(
                f"{group}/{LIBRARY}",
                source=_LIB_SOURCE,
                link=(f"{group}/{DEPENDENCY}",),
                version_script=_VERSION_SCRIPT,
                flags=lib_flags,
                m32=m32,
                runpath=runpath,
                rpath=rpath,
            )
        )
        steps.append(
            Program(
                f"{group}/{PROGRAM}",
                source=_MAIN_SOURCE,
                link=(f"{group}/{LIBRARY}",),
                flags=prog_flags,
                m32=m32,
                runpath=runpath,
                rpath=rpath,
            )
        )
    return tuple(steps)


@dataclass(frozen=True)
class Field:
    """An integer field of a structure: where it is, how wide, and what it means."""

    name: str  # e.g. "phdr[2].p_offset", "dyn[5].d_val(DT_STRTAB)"
    offset: int
    size: int
    kind: str  # count | offset | address | size | string | index | tag | entsize


@dataclass(frozen=True)
class Name:
    """A NUL-terminated string of the dynamic string table (or PT_INTERP) that the loader reads."""

    kind: str  # needed | soname | rpath | runpath | symbol | version | verneed-file | interp
    offset: int
    length: int  # bytes before the NUL


@dataclass(frozen=True)
class Layout:
    is_64: bool
    order: str  # "<" or ">"
    size: int
    regions: dict[str, tuple[int, int]]  # structure -> [start, end)
    fields: tuple[Field, ...]
    names: tuple[Name, ...]
    dyn_entries: tuple[tuple[int, int], ...]  # (d_tag, file offset of the entry), DT_NULL included
    boundaries: tuple[int, ...]


@dataclass(frozen=True)
class Seed:
    group: str
    name: str  # file name inside the group directory
    path: Path
    data: bytes
    layout: Layout


_EHDR = {  # field: (offset64, size64, offset32, size32, kind)
    "e_phoff": (32, 8, 28, 4, "offset"),
    "e_shoff": (40, 8, 32, 4, "offset"),
    "e_ehsize": (52, 2, 40, 2, "size"),
    "e_phentsize": (54, 2, 42, 2, "entsize"),
    "e_phnum": (56, 2, 44, 2, "count"),
    "e_shentsize": (58, 2, 46, 2, "entsize"),
    "e_shnum": (60, 2, 48, 2, "count"),
    "e_shstrndx": (62, 2, 50, 2, "index"),
}
_PHDR = {
    "p_type": (0, 4, 0, 4, "tag"),
    "p_offset": (8, 8, 4, 4, "offset"),
    "p_vaddr": (16, 8, 8, 4, "address"),
    "p_filesz": (32, 8, 16, 4, "size"),
    "p_memsz": (40, 8, 20, 4, "size"),
}
_SHDR = {
    "sh_name": (0, 4, 0, 4, "string"),
    "sh_offset": (24, 8, 16, 4, "offset"),
    "sh_size": (32, 8, 20, 4, "size"),
    "sh_link": (40, 4, 24, 4, "index"),
    "sh_entsize": (56, 8, 36, 4, "entsize"),
}
_ADDRESS_TAGS = {3, 4, 5, 6, 7, 12, 13, 17, 23, 25, 26, 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFC, 0x6FFFFFFE}
_SIZE_TAGS = {2, 8, 9, 10, 11, 18, 19, 27, 28}
_COUNT_TAGS = {0x6FFFFFFD, 0x6FFFFFFF, 0x6FFFFFF9, 0x6FFFFFFA}
_STRING_TAGS = {1: "needed", 14: "soname", 15: "rpath", 29: "runpath"}
_TABLES = {
    ".dynstr": "dynstr",
    ".dynsym": "dynsym",
    ".hash": "hash",
    ".gnu.hash": "gnu_hash",
    ".gnu.version": "versym",
    ".gnu.version_r": "verneed",
    ".gnu.version_d": "verdef",
    ".rela.dyn": "reloc",
    ".rel.dyn": "reloc",
    ".rela.plt": "jmprel",
    ".rel.plt": "jmprel",
    ".interp": "interp",
    ".dynamic": "dynamic_section",
    ".shstrtab": "shstrtab",
}


_Table = dict[str, tuple[int, int, int, int, str]]


def _struct_fields(prefix: str, base: int, table: _Table, is_64: bool) -> list[Field]:
    fields = []
    for name, (off64, size64, off32, size32, kind) in table.items():
        offset, size = (off64, size64) if is_64 else (off32, size32)
        fields.append(Field(f"{prefix}{name}", base + offset, size, kind))
    return fields


def _cstring_length(data: bytes, offset: int) -> int:
    end = data.find(b"\0", offset)
    return (end if end >= 0 else len(data)) - offset


def layout(data: bytes) -> Layout:
    """Map a real ELF file's structures with pyelftools (plus plain struct walks of the linked lists)."""
    elf = ELFFile(io.BytesIO(data))
    is_64 = elf.elfclass == 64
    order = "<" if elf.little_endian else ">"
    header = elf.header
    regions: dict[str, tuple[int, int]] = {"ehdr": (0, header["e_ehsize"])}
    fields = _struct_fields("", 0, _EHDR, is_64)
    marks = {0, header["e_ehsize"]}
    phoff, phentsize = header["e_phoff"], header["e_phentsize"]
    regions["phdrs"] = (phoff, phoff + header["e_phnum"] * phentsize)
    segments = list(elf.iter_segments())
    for index, segment in enumerate(segments):
        base = phoff + index * phentsize
        marks |= {base, segment["p_offset"], segment["p_offset"] + segment["p_filesz"]}
        fields += _struct_fields(f"phdr[{index}].", base, _PHDR, is_64)
        if segment["p_type"] == "PT_DYNAMIC":
            regions["dynamic"] = (segment["p_offset"], segment["p_offset"] + segment["p_filesz"])
        elif segment["p_type"] == "PT_INTERP":
            regions["interp"] = (segment["p_offset"], segment["p_offset"] + segment["p_filesz"])
    shoff, shentsize = header["e_shoff"], header["e_shentsize"]
    if shoff:
        regions["shdrs"] = (shoff, shoff + header["e_shnum"] * shentsize)
    sections = {}
    for index, section in enumerate(elf.iter_sections()):
        base = shoff + index * shentsize
        marks |= {base, section["sh_offset"], section["sh_offset"] + section["sh_size"]}
        fields += _struct_fields(f"shdr[{index}]({section.name}).", base, _SHDR, is_64)
        sections[section.name] = section
        key = _TABLES.get(section.name)
        if key is not None and section["sh_type"] != "SHT_NOBITS":
            regions[key] = (section["sh_offset"], section["sh_offset"] + section["sh_size"])

    word = 8 if is_64 else 4
    names: list[Name] = []
    dyn_entries: list[tuple[int, int]] = []
    dynstr = regions.get("dynstr", (0, 0))[0]
    if "dynamic" in regions:
        start, end = regions["dynamic"]
        for index, at in enumerate(range(start, end - 2 * word + 1, 2 * word)):
            tag, value = struct.unpack_from(order + ("qQ" if is_64 else "iI"), data, at)
            dyn_entries.append((tag, at))
            marks.add(at)
            kind = (
                "address" if tag in _ADDRESS_TAGS else "size" if tag in _SIZE_TAGS
                else "count" if tag in _COUNT_TAGS else "string" if tag in _STRING_TAGS else "value"
            )  # fmt: skip
            fields.append(Field(f"dyn[{index}].d_tag", at, word, "tag"))
            fields.append(Field(f"dyn[{index}].d_val({tag:#x})", at + word, word, kind))
            if tag in _STRING_TAGS:
                names.append(Name(_STRING_TAGS[tag], dynstr + value, _cstring_length(data, dynstr + value)))
            if tag == 0:
                break
    if "interp" in regions:
        start, _end = regions["interp"]
        names.append(Name("interp", start, _cstring_length(data, start)))

    if ".dynsym" in sections:
        section = sections[".dynsym"]
        entsize = section["sh_entsize"]
        for index in range(1, section["sh_size"] // entsize):
            at = section["sh_offset"] + index * entsize
            (st_name,) = struct.unpack_from(order + "I", data, at)
            fields.append(Field(f"dynsym[{index}].st_name", at, 4, "string"))
            shndx_at = at + (6 if is_64 else 14)
            fields.append(Field(f"dynsym[{index}].st_shndx", shndx_at, 2, "index"))
            if st_name:
                names.append(Name("symbol", dynstr + st_name, _cstring_length(data, dynstr + st_name)))
    for key in ("reloc", "jmprel"):
        if key in regions:
            start, end = regions[key]
            entsize = (3 if ".rela.dyn" in sections or ".rela.plt" in sections else 2) * word
            for at in range(start, end - entsize + 1, entsize):
                fields.append(Field(f"{key}@{at:#x}.r_info", at + word, word, "value"))
    if "hash" in regions:
        start = regions["hash"][0]
        fields += [Field("hash.nbucket", start, 4, "count"), Field("hash.nchain", start + 4, 4, "count")]
    if "gnu_hash" in regions:
        start = regions["gnu_hash"][0]
        for i, name in enumerate(("nbuckets", "symoffset", "bloom_size", "bloom_shift")):
            fields.append(Field(f"gnu_hash.{name}", start + 4 * i, 4, "count"))
        nbuckets, _symoffset, bloom_size, _shift = struct.unpack_from(order + "4I", data, start)
        buckets = start + 16 + bloom_size * word
        marks |= {start + 16, buckets, buckets + 4 * nbuckets}
        fields += [Field(f"gnu_hash.bucket[{i}]", buckets + 4 * i, 4, "index") for i in range(min(nbuckets, 8))]
    if "verneed" in regions:
        _walk_verneed(data, order, regions["verneed"][0], dynstr, fields, names, marks)
    if "verdef" in regions:
        _walk_verdef(data, order, regions["verdef"][0], dynstr, fields, names, marks)
    for start, end in regions.values():
        marks |= {start, end}
    boundaries = tuple(sorted(m for m in marks if 0 < m < len(data)))
    return Layout(is_64, order, len(data), regions, tuple(fields), tuple(names), tuple(dyn_entries), boundaries)


def _walk_verneed(
    data: bytes, order: str, at: int, dynstr: int, fields: list[Any], names: list[Any], marks: set[Any]
) -> None:
    for _ in range(64):
        _version, count, file_index, aux, next_ = struct.unpack_from(order + "HHIII", data, at)
        marks.add(at)
        fields += [
            Field(f"verneed@{at:#x}.vn_cnt", at + 2, 2, "count"),
            Field(f"verneed@{at:#x}.vn_file", at + 4, 4, "string"),
            Field(f"verneed@{at:#x}.vn_aux", at + 8, 4, "offset"),
            Field(f"verneed@{at:#x}.vn_next", at + 12, 4, "offset"),
        ]
        names.append(Name("verneed-file", dynstr + file_index, _cstring_length(data, dynstr + file_index)))
        aux_at = at + aux
        for _aux in range(count):
            _hash, _flags, _other, name_index, aux_next = struct.unpack_from(order + "IHHII", data, aux_at)
            marks.add(aux_at)
            fields += [
                Field(f"vernaux@{aux_at:#x}.vna_other", aux_at + 6, 2, "index"),
                Field(f"vernaux@{aux_at:#x}.vna_name", aux_at + 8, 4, "string"),
                Field(f"vernaux@{aux_at:#x}.vna_next", aux_at + 12, 4, "offset"),
            ]
            names.append(Name("version", dynstr + name_index, _cstring_length(data, dynstr + name_index)))
            if not aux_next:
                break
            aux_at += aux_next
        if not next_:
            return
        at += next_


def _walk_verdef(
    data: bytes, order: str, at: int, dynstr: int, fields: list[Any], names: list[Any], marks: set[Any]
) -> None:
    for _ in range(64):
        _version, _flags, _index, count, _hash, aux, next_ = struct.unpack_from(order + "HHHHIII", data, at)
        marks.add(at)
        fields += [
            Field(f"verdef@{at:#x}.vd_ndx", at + 4, 2, "index"),
            Field(f"verdef@{at:#x}.vd_cnt", at + 6, 2, "count"),
            Field(f"verdef@{at:#x}.vd_aux", at + 12, 4, "offset"),
            Field(f"verdef@{at:#x}.vd_next", at + 16, 4, "offset"),
        ]
        aux_at = at + aux
        for _aux in range(count):
            name_index, aux_next = struct.unpack_from(order + "II", data, aux_at)
            marks.add(aux_at)
            fields += [
                Field(f"verdaux@{aux_at:#x}.vda_name", aux_at, 4, "string"),
                Field(f"verdaux@{aux_at:#x}.vda_next", aux_at + 4, 4, "offset"),
            ]
            names.append(Name("version", dynstr + name_index, _cstring_length(data, dynstr + name_index)))
            if not aux_next:
                break
            aux_at += aux_next
        if not next_:
            return
        at += next_


def build_seeds() -> tuple[Path, dict[tuple[str, str], Seed]]:
    """The seed fixture directory (built once, cached) and every seed file with its layout."""
    directory = build("fuzz_seeds", _recipe())
    seeds = {}
    for group in GROUPS:
        for name in (PROGRAM, LIBRARY, DEPENDENCY):
            path = directory / group / name
            data = path.read_bytes()
            seeds[(group, name)] = Seed(group, name, path, data, layout(data))
    return directory, seeds
