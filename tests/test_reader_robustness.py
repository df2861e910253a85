"""The reader and the CLI on damaged copies of real ELF files, and on paths that are not files to read.

Property (DESIGN.md §5, STYLE.md 7 and 13): `FileCache().open(p).elf()` and then `.dynamic`, `.symbols`,
`.sections`, `.comment` (and what binding reads from the same file: `.version_needs`,
`.version_definitions`, `.symbol_table` lookups, `.symbol_references`), each read on its own, either
succeed or raise `elfdeps.errors.ElfFormatError`: never another exception, never longer than
EXAMPLE_SECONDS. `elfdeps list|tree` (and `symbols|audit`, in process) on such a file exit 0, 1 or 2 with
at most one stderr line, starting with `elfdeps:`, and no traceback. A FIFO, a character device, an
unreadable file, a directory, a missing path, a symlink loop, an empty file and a non-ELF file each make
`python -m elfdeps list|tree` exit 2 with exactly one such line, naming the path.

Every damaged input is a real file from reader_fixtures.py (gcc) or from this system with bytes cut off,
bits flipped (hypothesis, derandomised so a CI failure reproduces locally) or header/table fields set to
hostile values (past the end of the file, all ones, a huge count); no ELF file is written by hand.
Reader bugs found here are marked xfail(strict) with the reason: see KNOWN_HOSTILE_BUGS.
"""

from __future__ import annotations

import functools
import io
import os
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from deadline import raising_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elfdeps.cli import main
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SECONDS = 5.0  # per damaged file; the intact sources all read in well under 50 ms
CLI_TIMEOUT = 30.0
SYSTEM_SOURCES = ("/usr/bin/true", os.path.realpath("/usr/lib/x86_64-linux-gnu/libz.so.1"))
FIXTURE_SOURCES = (
    "pie_program",
    "verneed_program",  # DT_GNU_HASH, verneed with two versions of one file, RUNPATH
    "verdef_library",  # verdef with a parent, a hidden versym
    "runpath_sysv_hash_library",  # DT_HASH only
    "rpath_both_hashes_library",
    "m32_verneed_program",  # ELFCLASS32
    "m32_verdef_library",
    "no_section_headers_program",
    "relocatable_object",  # no program headers at all
)
HOSTILE_SOURCES = (
    "verneed_program",
    "verdef_library",
    "runpath_sysv_hash_library",
    "rpath_both_hashes_library",
    "m32_verneed_program",
)

DT = {
    "NEEDED": 1, "HASH": 4, "STRTAB": 5, "SYMTAB": 6, "STRSZ": 10, "SONAME": 14, "RPATH": 15,
    "RUNPATH": 29, "GNU_HASH": 0x6FFFFEF5, "VERSYM": 0x6FFFFFF0, "VERDEF": 0x6FFFFFFC,
    "VERDEFNUM": 0x6FFFFFFD, "VERNEED": 0x6FFFFFFE, "VERNEEDNUM": 0x6FFFFFFF,
}  # fmt: skip
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3


# ------------------------------------------------------------------------------------ the property


class ReaderHang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in elfdeps can swallow it."""


def time_limit(seconds: float, what: str) -> AbstractContextManager[None]:
    return raising_after(seconds, lambda: ReaderHang(f"{what}: still running after {seconds} s"))


class ReaderCrash(AssertionError):
    """A part of the reader raised something other than ElfFormatError."""


LOOKUP_NAMES = (b"answer", b"v", b"puts", b"plain", b"__cxa_finalize", b"zlibVersion", b"no_such_symbol")


def _read_symbols(elf: ElfFile) -> None:
    table = elf.symbols
    for definition in table.definitions:
        table.version_name(definition.index)


def _read_symbol_table(elf: ElfFile) -> None:
    """What binding reads: hash-table lookups (names from a fixed list, so a .symbols that fails first
    does not hide a lookup that fails differently), then every name the table says it defines."""
    lookup = elf.symbol_table
    for name in LOOKUP_NAMES:
        for index in lookup.find(name):
            lookup.symbol(index)
    for name in lookup.definition_names():
        lookup.find(name)
    lookup.versions()


# Each part of the reader, read independently: one that refuses the file must not hide another.
READER_PARTS: dict[str, Callable[[ElfFile], object]] = {
    "dynamic": lambda elf: elf.dynamic and (elf.dynamic.flag_names(), elf.dynamic.needed),
    "symbols": _read_symbols,
    "sections": lambda elf: elf.sections,
    "comment": lambda elf: elf.comment,
    "version tables": lambda elf: (elf.version_needs, elf.version_definitions),
    "symbol_table": _read_symbol_table,
    "symbol_references": lambda elf: elf.symbol_references,
}


def read_everything(path: str) -> list[str]:
    """Every part of the reader on ``path``; returns the parts that refused it with ElfFormatError.
    Anything else escapes: the property under test is that nothing else ever does."""
    opened = FileCache().open(path)
    assert not isinstance(opened, OpenFailure), opened
    try:
        elf = opened.elf()
    except ElfFormatError:
        return ["header"]
    refused = []
    for part, read in READER_PARTS.items():
        try:
            read(elf)
        except ElfFormatError:
            refused.append(part)
        except Exception as error:
            raise ReaderCrash(f"{part}: {type(error).__name__}: {error}") from error
    return refused


def assert_reads_or_refuses(path: str, what: str) -> None:
    try:
        with time_limit(EXAMPLE_SECONDS, what):
            read_everything(path)
    except ReaderHang as hang:
        raise AssertionError(str(hang)) from None
    except ReaderCrash as crash:
        raise AssertionError(f"{what}: {crash} (only ElfFormatError is allowed)") from crash.__cause__


CLI_COMMANDS = ("list", "tree", "symbols", "audit")  # symbols and audit read .dynsym, versions, relocations


def assert_cli_survives(path: str, what: str) -> None:
    """Each command, in process: exit 0/1/2, at most one stderr line, `elfdeps: ...`."""
    for command in CLI_COMMANDS:
        out, err = io.StringIO(), io.StringIO()
        with time_limit(EXAMPLE_SECONDS, f"elfdeps {command} on {what}"):
            code = main([command, "--no-env", path], out, err)
        _assert_clean_exit(code, err.getvalue(), f"elfdeps {command} on {what}")


def _assert_clean_exit(code: int, stderr: str, what: str) -> None:
    lines = stderr.splitlines()
    assert code in (0, 1, 2), f"{what}: exit {code}, stderr {stderr!r}"
    assert "Traceback" not in stderr, f"{what}: {stderr}"
    assert len(lines) <= 1 and all(line.startswith("elfdeps:") for line in lines), f"{what}: {stderr!r}"


# --------------------------------------------------------------------------------- real sources


@dataclass(frozen=True)
class Source:
    """An intact real file and where its loader-relevant structures lie (for aiming the damage)."""

    name: str
    data: bytes
    is_64: bool
    order: str
    regions: tuple[tuple[int, int], ...]  # [start, end) byte ranges the reader interprets
    boundaries: tuple[int, ...]  # offsets where a structure starts or ends


def _source(name: str, data: bytes) -> Source:
    elf = ElfFile(name, data)
    size = len(data)
    spans = [(0, 64 if elf.is_64 else 52)]
    spans.append((elf.e_phoff, elf.e_phoff + elf.e_phnum * elf.e_phentsize))
    spans += [(s.offset, s.offset + s.filesz) for s in elf.segments if s.type in (PT_DYNAMIC, PT_INTERP)]
    if elf.dynamic is not None:
        for tag in ("STRTAB", "SYMTAB", "HASH", "GNU_HASH", "VERSYM", "VERNEED", "VERDEF"):
            address = elf.dynamic.value(DT[tag])
            offset = elf.vaddr_to_offset(address) if address is not None else None
            if offset is not None:
                spans.append((offset, offset + 512))
    if elf.e_shoff:
        spans.append((elf.e_shoff, elf.e_shoff + elf.e_shnum * elf.e_shentsize))
        spans += [(s.offset, s.offset + s.size) for s in elf.sections if s.name in (b".comment", b".shstrtab")]
    regions = tuple(sorted({(max(0, a), min(size, b)) for a, b in spans if min(size, b) > max(0, a)}))
    marks = {a for a, _ in spans} | {b for _, b in spans}
    marks |= {elf.e_phoff + i * elf.e_phentsize for i in range(elf.e_phnum)}
    marks |= {s.offset for s in elf.sections} | {s.offset + s.filesz for s in elf.segments}
    boundaries = tuple(sorted(m for m in marks if 0 < m < size))
    return Source(name, data, elf.is_64, elf.byte_order, regions, boundaries)


@pytest.fixture(scope="module")
def sources(reader_fixtures: dict[str, Path]) -> dict[str, Source]:
    paths = {name: str(reader_fixtures[name]) for name in FIXTURE_SOURCES}
    paths |= {os.path.basename(path): path for path in SYSTEM_SOURCES}
    return {name: _source(name, Path(path).read_bytes()) for name, path in paths.items()}


class Scratch:
    """Writes damaged copies; each one replaces the last atomically (a new inode), so a mapping the
    reader still holds of an earlier copy never sees its file shrink under it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def write(self, data: bytes, name: str = "damaged") -> str:
        self.count += 1
        final = self.directory / name
        temporary = self.directory / f".{name}.{self.count}"
        temporary.write_bytes(data)
        os.replace(temporary, final)
        return str(final)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    return Scratch(tmp_path_factory.mktemp("damaged"))


def test_sources_are_intact(sources: dict[str, Source], scratch: Scratch) -> None:
    """The damage below is only meaningful if every source reads cleanly before it is damaged."""
    assert len(sources) == len(FIXTURE_SOURCES) + len(SYSTEM_SOURCES)
    for source in sources.values():
        assert read_everything(scratch.write(source.data)) == [], source.name


# ------------------------------------------------------------------------------------- truncation


def _cut_points(source: Source) -> list[int]:
    size = len(source.data)
    points = set(range(0, min(size, 80)))  # every byte of the ELF header, and a little beyond
    for mark in source.boundaries:
        points |= {mark - 1, mark, mark + 1}
    points |= {size * i // 64 for i in range(64)}
    return sorted(p for p in points if 0 <= p < size)


@pytest.mark.parametrize("name", [*FIXTURE_SOURCES, *map(os.path.basename, SYSTEM_SOURCES)])
def test_truncated_copies_read_or_refuse(name: str, sources: dict[str, Source], scratch: Scratch) -> None:
    source = sources[name]
    points = _cut_points(source)
    assert len(points) > 100
    for size in points:
        path = scratch.write(source.data[:size])
        assert_reads_or_refuses(path, f"{name} truncated to {size} bytes")


# -------------------------------------------------------------------------------------- bit flips


@st.composite
def damaged_copies(draw: st.DrawFn, sources: dict[str, Source]) -> tuple[str, bytes, list[tuple[str, int, int]]]:
    """A source with 1-8 mutations inside its interpreted regions: a flipped bit, or a 2/4/8-byte
    aligned field overwritten with 0, all ones or the sign bit."""
    name = draw(st.sampled_from(sorted(sources)))
    source = sources[name]
    data = bytearray(source.data)
    offsets = st.sampled_from(source.regions).flatmap(lambda r: st.integers(r[0], r[1] - 1))
    mutations = []
    for _ in range(draw(st.integers(1, 8))):
        offset = draw(offsets)
        if draw(st.booleans()):
            bit = draw(st.integers(0, 7))
            data[offset] ^= 1 << bit
            mutations.append(("flip", offset, bit))
        else:
            width = draw(st.sampled_from([2, 4, 8]))
            start = offset - offset % width
            if start + width > len(data):
                continue
            fill = draw(st.sampled_from(["zero", "ones", "sign"]))
            value = {"zero": 0, "ones": (1 << 8 * width) - 1, "sign": 1 << (8 * width - 1)}[fill]
            data[start : start + width] = value.to_bytes(width, "big" if source.order == ">" else "little")
            mutations.append((fill, start, width))
    return name, bytes(data), mutations


@pytest.fixture(scope="module")
def source_strategy(sources: dict[str, Source]) -> st.SearchStrategy:
    return damaged_copies(sources)


FLIP_SETTINGS = settings(
    max_examples=1000,
    deadline=None,  # the time bound is EXAMPLE_SECONDS, enforced by an alarm, not hypothesis' deadline
    derandomize=True,  # the same examples on every run: a CI failure reproduces locally
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FLIP_SETTINGS
@given(data=st.data())
def test_bit_flipped_copies_read_or_refuse(
    data: st.DataObject, source_strategy: st.SearchStrategy, scratch: Scratch
) -> None:
    name, content, mutations = data.draw(source_strategy)
    assert_reads_or_refuses(scratch.write(content), f"{name} with {mutations}")


@settings(FLIP_SETTINGS, max_examples=150)
@given(data=st.data())
def test_cli_on_bit_flipped_copies_exits_cleanly(
    data: st.DataObject, source_strategy: st.SearchStrategy, scratch: Scratch
) -> None:
    name, content, mutations = data.draw(source_strategy)
    assert_cli_survives(scratch.write(content), f"{name} with {mutations}")


# ---------------------------------------------------------------------------------- hostile fields


class Patch:
    """Set one field of a real file's ELF structures (header, program/section header, dynamic entry,
    hash or version table) to a hostile value, through the field layouts of both ELF classes."""

    EHDR: ClassVar[dict[str, tuple[int, int, int, int]]] = {  # field: (offset64, offset32, size64, size32)
        "e_phoff": (32, 28, 8, 4), "e_shoff": (40, 32, 8, 4), "e_phentsize": (54, 42, 2, 2),
        "e_phnum": (56, 44, 2, 2), "e_shentsize": (58, 46, 2, 2), "e_shnum": (60, 48, 2, 2),
        "e_shstrndx": (62, 50, 2, 2),
    }  # fmt: skip
    PHDR: ClassVar[dict[str, tuple[int, int, int, int]]] = {
        "p_offset": (8, 4, 8, 4),
        "p_vaddr": (16, 8, 8, 4),
        "p_filesz": (32, 16, 8, 4),
    }
    SHDR: ClassVar[dict[str, tuple[int, int, int, int]]] = {
        "sh_name": (0, 0, 4, 4),
        "sh_offset": (24, 16, 8, 4),
        "sh_size": (32, 20, 8, 4),
    }

    def __init__(self, source: Source) -> None:
        self.source = source
        self.data = bytearray(source.data)
        self.elf = ElfFile(source.name, source.data)
        self.is_64 = source.is_64

    def _put(self, offset: int, size: int, value: int | str) -> None:
        if value == "ones":
            value = (1 << 8 * size) - 1
        elif value == "past_end":
            value = len(self.data) + 16
        assert isinstance(value, int)
        value &= (1 << 8 * size) - 1
        byteorder: Literal["big", "little"] = "big" if self.source.order == ">" else "little"
        self.data[offset : offset + size] = value.to_bytes(size, byteorder)

    def _field(self, table: dict[str, tuple[int, int, int, int]], field: str) -> tuple[int, int]:
        off64, off32, size64, size32 = table[field]
        return (off64, size64) if self.is_64 else (off32, size32)

    def header(self, field: str, value: int | str) -> bool:
        offset, size = self._field(self.EHDR, field)
        self._put(offset, size, value)
        return True

    def segment(self, p_type: int, field: str, value: int | str) -> bool:
        for index, segment in enumerate(self.elf.segments):
            if segment.type == p_type:
                offset, size = self._field(self.PHDR, field)
                self._put(self.elf.e_phoff + index * self.elf.e_phentsize + offset, size, value)
                return True
        return False

    def section(self, name: bytes, field: str, value: int | str) -> bool:
        for index, section in enumerate(self.elf.sections):
            if section.name == name:
                offset, size = self._field(self.SHDR, field)
                self._put(self.elf.e_shoff + index * self.elf.e_shentsize + offset, size, value)
                return True
        return False

    def _dynamic_entries(self) -> Iterator[tuple[int, int]]:
        """(tag, file offset of the entry) for each entry of PT_DYNAMIC up to DT_NULL."""
        segment = next(s for s in self.elf.segments if s.type == PT_DYNAMIC)
        entry = 16 if self.is_64 else 8
        fmt = self.source.order + ("q" if self.is_64 else "i")
        for at in range(segment.offset, segment.offset + segment.filesz, entry):
            (tag,) = struct.unpack_from(fmt, self.data, at)
            yield tag, at
            if tag == 0:
                return

    def dynamic(self, tag: str, value: int | str) -> bool:
        if self.elf.dynamic is None:
            return False
        word = 8 if self.is_64 else 4
        for entry_tag, at in self._dynamic_entries():
            if entry_tag == DT[tag]:
                self._put(at + word, word, value)
                return True
        return False

    def drop_dynamic_terminator(self) -> bool:
        """Retag every DT_NULL as DT_DEBUG: the table then ends only with PT_DYNAMIC's p_filesz."""
        if self.elf.dynamic is None:
            return False
        word = 8 if self.is_64 else 4
        nulls = [at for tag, at in self._dynamic_entries() if tag == 0]
        segment = next(s for s in self.elf.segments if s.type == PT_DYNAMIC)
        for at in range(nulls[0], segment.offset + segment.filesz, 2 * word):
            self._put(at, word, 21)  # DT_DEBUG
        return True

    def table(self, tag: str, offset_in_table: int, size: int, value: int | str) -> bool:
        """A field inside a table the dynamic section points to (hash tables, verneed, verdef)."""
        address = self.elf.dynamic.value(DT[tag]) if self.elf.dynamic else None
        start = self.elf.vaddr_to_offset(address) if address is not None else None
        if start is None:
            return False
        self._put(start + offset_in_table, size, value)
        return True

    def unterminated_gnu_hash_chains(self) -> bool:
        """Clear the end-of-chain bit of every GNU hash chain word: no chain ever ends."""
        address = self.elf.dynamic.value(DT["GNU_HASH"]) if self.elf.dynamic else None
        if address is None:
            return False
        base = self.elf.vaddr_to_offset(address)
        assert base is not None
        nbuckets, symoffset, bloom_size, _shift = struct.unpack_from(self.source.order + "4I", self.data, base)
        chains = base + 16 + bloom_size * (8 if self.is_64 else 4) + 4 * nbuckets
        for at in range(chains, chains + 4 * (len(self.elf.symbols.symbols) - symoffset), 4):
            self.data[at + 3 if self.source.order == ">" else at] &= 0xFE  # the word's lowest byte
        return True

    def gnu_hash_chains_past_end_of_file(self) -> bool:
        """A file with both hash tables: its GNU hash header, Bloom words and buckets copied to the end
        of the file, the first PT_LOAD stretched over the whole file, DT_SYMTAB at its start and DT_HASH's
        nchain (the symbol count) as large as the file allows: the GNU chains, `count - symoffset` words
        long, then run past the end of the file."""
        dynamic = self.elf.dynamic
        if dynamic is None or dynamic.value(DT["HASH"]) is None or dynamic.value(DT["GNU_HASH"]) is None:
            return False
        first_load = next(s for s in self.elf.segments if s.type == PT_LOAD)
        if first_load.vaddr != 0 or first_load.offset != 0:
            return False
        size = len(self.data)
        gnu_hash = dynamic.value(DT["GNU_HASH"])
        assert gnu_hash is not None
        base = self.elf.vaddr_to_offset(gnu_hash)
        assert base is not None
        nbuckets, _symoffset, bloom_size, _shift = struct.unpack_from(self.source.order + "4I", self.data, base)
        header = bytes(self.data[base : base + 16 + bloom_size * (8 if self.is_64 else 4) + 4 * nbuckets])
        moved = size - len(header) - 8
        self.data[moved : moved + len(header)] = header
        self.segment(PT_LOAD, "p_filesz", size)
        self.dynamic("GNU_HASH", moved)
        self.dynamic("SYMTAB", 0)
        return self.table("HASH", 4, 4, size // (24 if self.is_64 else 16) - 1)

    def unterminated_dynstr(self) -> bool:
        """Every NUL of the dynamic string table replaced by 'A': no string ends inside DT_STRSZ."""
        dynamic = self.elf.dynamic
        address = dynamic.value(DT["STRTAB"]) if dynamic else None
        if address is None or dynamic is None:
            return False
        start = self.elf.vaddr_to_offset(address)
        assert start is not None
        end = start + (dynamic.value(DT["STRSZ"]) or 0)
        self.data[start:end] = self.data[start:end].replace(b"\0", b"A")
        return True


HOSTILE: dict[str, Callable[[Patch], bool]] = {
    "e_phoff_past_end": lambda p: p.header("e_phoff", "past_end"),
    "e_phoff_all_ones": lambda p: p.header("e_phoff", "ones"),
    "e_phnum_huge": lambda p: p.header("e_phnum", "ones"),
    "e_phentsize_zero": lambda p: p.header("e_phentsize", 0),
    "e_phentsize_huge": lambda p: p.header("e_phentsize", "ones"),
    "e_shoff_past_end": lambda p: p.header("e_shoff", "past_end"),
    "e_shoff_all_ones": lambda p: p.header("e_shoff", "ones"),
    "e_shnum_huge": lambda p: p.header("e_shnum", "ones"),
    "e_shentsize_zero": lambda p: p.header("e_shentsize", 0),
    "e_shstrndx_out_of_range": lambda p: p.header("e_shstrndx", "ones"),
    "interp_offset_past_end": lambda p: p.segment(PT_INTERP, "p_offset", "past_end"),
    "interp_filesz_huge": lambda p: p.segment(PT_INTERP, "p_filesz", "ones"),
    "dynamic_offset_past_end": lambda p: p.segment(PT_DYNAMIC, "p_offset", "past_end"),
    "dynamic_offset_all_ones": lambda p: p.segment(PT_DYNAMIC, "p_offset", "ones"),
    "dynamic_filesz_huge": lambda p: p.segment(PT_DYNAMIC, "p_filesz", "ones"),
    "dynamic_without_dt_null": lambda p: p.drop_dynamic_terminator(),
    "load_filesz_huge": lambda p: p.segment(PT_LOAD, "p_filesz", "ones"),
    "load_vaddr_all_ones": lambda p: p.segment(PT_LOAD, "p_vaddr", "ones"),
    "load_offset_past_end": lambda p: p.segment(PT_LOAD, "p_offset", "past_end"),
    **{
        f"dt_{tag.lower()}_{value}": functools.partial(Patch.dynamic, tag=tag, value=value)
        for tag in DT
        for value in ("ones", "past_end")
    },
    "dt_hash_nbucket_huge": lambda p: p.table("HASH", 0, 4, "ones"),
    "dt_hash_nchain_huge": lambda p: p.table("HASH", 4, 4, "ones"),
    "gnu_hash_nbuckets_huge": lambda p: p.table("GNU_HASH", 0, 4, "ones"),
    "gnu_hash_symoffset_huge": lambda p: p.table("GNU_HASH", 4, 4, "ones"),
    "gnu_hash_bloom_size_huge": lambda p: p.table("GNU_HASH", 8, 4, "ones"),
    "gnu_hash_chains_unterminated": lambda p: p.unterminated_gnu_hash_chains(),
    "gnu_hash_chains_past_end_of_file": lambda p: p.gnu_hash_chains_past_end_of_file(),
    "verneed_vn_cnt_huge": lambda p: p.table("VERNEED", 2, 2, "ones"),
    "verneed_vn_aux_huge": lambda p: p.table("VERNEED", 8, 4, "ones"),
    "verneed_vn_next_huge": lambda p: p.table("VERNEED", 12, 4, "ones"),
    "verdef_vd_cnt_huge": lambda p: p.table("VERDEF", 6, 2, "ones"),
    "verdef_vd_aux_huge": lambda p: p.table("VERDEF", 12, 4, "ones"),
    "verdef_vd_next_huge": lambda p: p.table("VERDEF", 16, 4, "ones"),
    "dynstr_unterminated": lambda p: p.unterminated_dynstr(),
    "comment_offset_all_ones": lambda p: p.section(b".comment", "sh_offset", "ones"),
    "comment_size_huge": lambda p: p.section(b".comment", "sh_size", "ones"),
    "section_name_index_huge": lambda p: p.section(b".dynsym", "sh_name", "ones"),
    "shstrtab_offset_past_end": lambda p: p.section(b".shstrtab", "sh_offset", "past_end"),
}


def _hostile_copies(case: str, sources: dict[str, Source]) -> Iterator[tuple[str, bytes]]:
    for name in HOSTILE_SOURCES:
        patch = Patch(sources[name])
        if HOSTILE[case](patch):
            yield name, bytes(patch.data)


# elfdeps/elf/lookup.py SymbolTable._read_gnu_hash bounds-checks the GNU hash buckets but not the chains;
# _find then views `count - symoffset` chain words (count from DT_HASH when both tables exist) as a
# memoryview that the end of the file cuts short, and indexing past it raises IndexError.
READER_BUG_GNU_CHAINS = (
    "reader bug: SymbolTable.find indexes GNU hash chain words past the end of the file (IndexError): "
    "_read_gnu_hash does not bounds-check the chains (elfdeps/elf/lookup.py)"
)
KNOWN_HOSTILE_BUGS: dict[str, str] = {}  # READER_BUG_GNU_CHAINS is fixed: chains are bounds-checked


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(reason=KNOWN_HOSTILE_BUGS[case], strict=True))
        if case in KNOWN_HOSTILE_BUGS
        else case
        for case in sorted(HOSTILE)
    ],
)
def test_hostile_field_reads_or_refuses(case: str, sources: dict[str, Source], scratch: Scratch) -> None:
    copies = list(_hostile_copies(case, sources))
    assert copies, f"{case} applies to none of {HOSTILE_SOURCES}"
    for name, content in copies:
        path = scratch.write(content)
        assert_reads_or_refuses(path, f"{name} with {case}")
        assert_cli_survives(path, f"{name} with {case}")


# ------------------------------------------------------------------- the CLI as a user runs it


def run_cli(*argv: str, user: int | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m elfdeps ARGV` in a clean environment, as ``user`` (via setpriv) if given."""
    command = [sys.executable, "-m", "elfdeps", *argv]
    if user is not None and os.geteuid() == 0:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False, env=env, cwd=cwd)


def _cli_damaged_cases(sources: dict[str, Source]) -> Iterator[tuple[str, bytes]]:
    for name in ("verneed_program", "m32_verneed_program", "verdef_library"):
        source = sources[name]
        elf = ElfFile(name, source.data)
        dynamic = next(s for s in elf.segments if s.type == PT_DYNAMIC)
        for size in (30, elf.e_phoff + elf.e_phentsize // 2, dynamic.offset + 8, len(source.data) // 2):
            yield f"{name} truncated to {size}", source.data[:size]
    for case in ("e_phnum_huge", "dynamic_offset_past_end", "dt_strtab_ones", "dt_needed_ones",
                 "verneed_vn_next_huge", "dynstr_unterminated"):  # fmt: skip
        for name, content in _hostile_copies(case, sources):
            yield f"{name} with {case}", content


def test_cli_subprocess_on_damaged_copies(sources: dict[str, Source], tmp_path: Path) -> None:
    """The real entry point (`python -m elfdeps`), stderr as a user sees it, on a spread of damage."""
    cases = list(_cli_damaged_cases(sources))
    assert len(cases) >= 15
    runs = []
    for index, (what, content) in enumerate(cases):
        path = tmp_path / f"damaged-{index}"
        path.write_bytes(content)
        for command in ("list", "tree"):
            runs.append((f"elfdeps {command} on {what}", [command, "--no-env", str(path)]))
    # two at a time: each run is mostly interpreter start-up
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda run: run_cli(*run[1], cwd=str(tmp_path)), runs))
    for (what, _argv), proc in zip(runs, results, strict=True):
        _assert_clean_exit(proc.returncode, proc.stderr, what)


# ------------------------------------------------------------------ paths that are not ELF files


def _assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], path: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("elfdeps: "), proc.stderr
    assert path in lines[0], f"the message names the path: {lines[0]}"
    assert proc.stdout == ""


def _special_path(kind: str, directory: Path) -> str:
    path = directory / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink_loop":
        os.symlink(directory / "symlink_loop_b", path)
        os.symlink(path, directory / "symlink_loop_b")
    elif kind == "empty_file":
        path.write_bytes(b"")
    elif kind == "text_file":
        path.write_text("#!/bin/sh\necho this is not an ELF file\n")
    elif kind == "elf_magic_only":
        path.write_bytes(Path("/usr/bin/true").read_bytes()[:4])
    elif kind == "character_device":
        return "/dev/zero"  # endless bytes: reading it whole would never finish
    else:
        assert kind == "missing_path"
    return str(path)


@pytest.mark.parametrize("command", ["list", "tree"])
@pytest.mark.parametrize(
    "kind",
    [
        "fifo",
        "character_device",
        "directory",
        "missing_path",
        "symlink_loop",
        "empty_file",
        "text_file",
        "elf_magic_only",
    ],
)
def test_path_that_is_no_elf_file_exits_2_with_one_line(command: str, kind: str, tmp_path: Path) -> None:
    path = _special_path(kind, tmp_path)
    # A FIFO with no writer blocks an ordinary open(); the timeout turns a hang into a failure.
    proc = run_cli(command, "--no-env", path, cwd=str(tmp_path))
    _assert_one_line_exit_2(proc, path)


@pytest.mark.parametrize("command", ["list", "tree"])
def test_unreadable_file_exits_2_with_one_line(command: str) -> None:
    """A real ELF file its reader may not open (tests run as root, so elfdeps runs as nobody)."""
    with tempfile.TemporaryDirectory(prefix="elfdeps-unreadable-") as directory:
        os.chmod(directory, 0o755)  # nobody may look inside; only the file itself is closed to it
        path = os.path.join(directory, "program")
        Path(path).write_bytes(Path("/usr/bin/true").read_bytes())
        os.chmod(path, 0)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0
        proc = run_cli(command, "--no-env", path, user=65534, cwd=directory)
        _assert_one_line_exit_2(proc, path)
        assert "Permission denied" in proc.stderr
