"""elfdeps' ELF reader against two independent reference readers, pyelftools and LIEF (DESIGN.md §2, §6).

Compared, per file: PT_INTERP, DT_NEEDED (in order), DT_SONAME, DT_RPATH, DT_RUNPATH (the last entry of a
repeated tag, the one glibc's l_info keeps), DT_FLAGS, DT_FLAGS_1,
the number of dynamic symbols and, for each, (name, value, size, bind, type, visibility, shndx, versym
index, hidden bit); verneed (file, then each version's name, hash, flags, vna_other); verdef (index, flags,
hash, names); the `.comment` strings. Inputs: the small real files of reader_fixtures.py (built with gcc
at test time), then this system's own ELF files below /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu:
a deterministic sample of 520 in the default run, every one under `pytest -m full`.

Tolerances (named; each is the only one of its kind; nothing else may differ):
- NON_UTF8_REPLACED (pyelftools): pyelftools hands out names as `str`, decoding the section string table
  with errors="replace", so `lib\\xff.so` comes back as `lib\\ufffd.so`. Our exact bytes are compared after
  the same lossy decoding. This is not a blind spot: LIEF returns the exact bytes of a name that is not
  UTF-8, it is compared with no tolerance, and the fixture test checks our bytes against the recipe.
- PYELFTOOLS_VERSIONS_NEED_SECTIONS (pyelftools): pyelftools reads versym, verneed and verdef only
  through section headers; in a file that has none (`llvm-objcopy --strip-sections`) it reports no
  versions at all. There our versions are compared with LIEF only (which reads DT_VERSYM, DT_VERNEED and
  DT_VERDEF, as ld.so does), and the fixture test checks them against the recipe.
- LIEF_STR_OR_BYTES (LIEF, lossless): LIEF hands out `str` for a UTF-8 name and `bytes` for any other;
  both become the exact bytes before comparing (reader_facts._lief_bytes).

Investigated and needing no tolerance:
- Symbol count. We count .dynsym from DT_HASH's nchain, else from the highest DT_GNU_HASH chain;
  pyelftools' dynamic segment prefers DT_GNU_HASH; the .dynsym section header gives sh_size/sh_entsize.
  On all 1,595 Debian 12 files with a .dynsym section the three counts agree, and the fixtures pin each
  hash style (sysv only, gnu only, both), so the counts are compared exactly, section header included.

Reader bugs found here are pinned, never tolerated: `no_string_tags_library` (a DT_STRTAB with no
DT_NEEDED/SONAME/RPATH/RUNPATH, like Perl's Fcntl.so) made `.symbols` raise "needs a string table and
there is none"; `duplicate_runpath_program` (two DT_RUNPATH entries) was read with the first one where
ld.so keeps the last (READER_BUG_FIRST_TAG). Both are fixed and their fixtures keep them fixed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lookup_oracle import lookup_problems
from oracle import system_elf_files, trace
from reader_facts import (
    Facts,
    lief_facts,
    our_facts,
    pyelftools_dynsym_section_count,
    pyelftools_facts,
)
from reader_fixtures import EXPECTED, FIXTURE_NAMES

from elfdeps.elf.cache import FileCache

SAMPLE_SIZE = 520
ALL_FILES = system_elf_files()

# elfdeps/elf/reader.py _decode_dynamic keeps the FIRST DT_SONAME/DT_RPATH/DT_RUNPATH (and Dynamic.value
# the first of any tag, "as the loader's l_info[] keeps it"), but glibc's elf_get_dynamic_info stores every
# entry into l_info[tag] in table order, so the LAST one counts (elf/get-dynamic-info.h);
# test_loader_uses_the_last_of_two_runpaths pins ld.so's side of it.
READER_BUG_FIRST_TAG = (
    "reader bug: with two DT_RUNPATH entries the reader keeps the first, ld.so the last "
    "(elfdeps/elf/reader.py _decode_dynamic, Dynamic.value)"
)
KNOWN_FIXTURE_BUGS: dict[str, str] = {}  # READER_BUG_FIRST_TAG is fixed: the last entry wins


def _sample(files: list[str], size: int) -> list[str]:
    """Evenly spaced over the sorted list: deterministic, and every directory is represented."""
    if len(files) <= size:
        return files
    step = len(files) / size
    return [files[int(i * step)] for i in range(size)]


# --------------------------------------------------------------------------------- the tolerances


def _non_utf8_replaced(name: bytes) -> bytes:
    """NON_UTF8_REPLACED: what pyelftools makes of a name (identity for every UTF-8 name)."""
    return name.decode("utf-8", errors="replace").encode("utf-8")


def _as_pyelftools_sees_it(ours: Facts, theirs: Facts) -> Facts:
    expected = ours.map_names(_non_utf8_replaced)
    if not theirs.has_versions:  # PYELFTOOLS_VERSIONS_NEED_SECTIONS
        expected = expected.without_versions()
    return expected


def _as_lief_sees_it(ours: Facts, theirs: Facts) -> Facts:
    del theirs  # no tolerance: LIEF_STR_OR_BYTES is a lossless conversion done in reader_facts
    return ours


# ------------------------------------------------------------------------------------ comparison


def _differences(expected: Facts, got: Facts) -> list[str]:
    """Each differing fact, readably: the first differing symbol rather than two 40k-entry tuples."""
    found = []
    for field in dataclasses.fields(Facts):
        ours, theirs = getattr(expected, field.name), getattr(got, field.name)
        if ours == theirs:
            continue
        if field.name == "symbols" and len(ours) == len(theirs):
            index = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
            count = sum(a != b for a, b in zip(ours, theirs, strict=True))
            found.append(
                f"symbols: {count} differ, first #{index}:\n  ours:   {ours[index]}\n  theirs: {theirs[index]}"
            )
        elif field.name == "symbols":
            found.append(f"number of dynamic symbols: ours {len(ours)}, theirs {len(theirs)}")
        else:
            found.append(f"{field.name}:\n  ours:   {ours!r:.600}\n  theirs: {theirs!r:.600}")
    return found


def assert_reader_agrees(path: str, pyelftools_relocations: bool = True) -> Facts:
    """Our facts for ``path`` equal pyelftools' and LIEF's, up to the named tolerances, and so does the
    lookup path binding reads (tests/lookup_oracle.py); returns our facts."""
    ours = our_facts(path)
    problems = []
    references = {}
    for name, reference, tolerate in [
        ("pyelftools", pyelftools_facts, _as_pyelftools_sees_it),
        ("LIEF", lief_facts, _as_lief_sees_it),
    ]:
        theirs = references[name] = reference(path)
        problems += [f"[{name}] {text}" for text in _differences(tolerate(ours, theirs), theirs)]
    if ours.has_dynamic:
        problems += lookup_problems(path, ours, references, pyelftools_relocations)
    section_count = pyelftools_dynsym_section_count(path)
    if section_count is not None and ours.has_dynamic and section_count != len(ours.symbols):
        problems.append(f".dynsym section header says {section_count} symbols, ours {len(ours.symbols)}")
    assert not problems, f"{path}:\n" + "\n".join(problems)
    return ours


# ---------------------------------------------------------------------------------------- fixtures


def _fixture_params() -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_FIXTURE_BUGS[name], strict=True))
        if name in KNOWN_FIXTURE_BUGS
        else name
        for name in FIXTURE_NAMES
    ]


@pytest.mark.parametrize("name", _fixture_params())
def test_fixture_matches_pyelftools_and_lief(name: str, reader_fixtures: dict[str, Path]) -> None:
    assert_reader_agrees(str(reader_fixtures[name]))


@pytest.mark.parametrize("name", _fixture_params())
def test_fixture_holds_what_its_recipe_put_in(name: str, reader_fixtures: dict[str, Path]) -> None:
    """Agreement on an empty answer would prove nothing: first, each fixture has the shape it pins."""
    expected = EXPECTED[name]
    path = str(reader_fixtures[name])
    elf = FileCache().open(path).elf()  # type: ignore[union-attr]
    facts = our_facts(path)
    assert elf.elf_class_bits == expected.elf_class
    assert elf.e_machine == expected.machine
    assert facts.interpreter == expected.interpreter
    assert facts.has_dynamic == expected.has_dynamic
    assert bool(elf.sections) == expected.has_sections
    assert bool(facts.comment) == expected.has_sections  # gcc always writes .comment
    if expected.needed is not None:
        assert facts.needed == expected.needed
    assert (facts.soname, facts.rpath, facts.runpath) == (expected.soname, expected.rpath, expected.runpath)
    assert tuple(d.names[0] for d in facts.definitions) == expected.defines_versions
    if expected.defines_versions:
        assert facts.definitions[0].flags & 1  # VER_FLG_BASE on the file's own entry
        assert facts.definitions[2].names == (b"LIBV_2.0", b"LIBV_1.0")  # the parent link
    needs = tuple((n.file, tuple(r.name for r in n.versions)) for n in facts.needs if n.file != b"libc.so.6")
    assert needs == expected.needs_versions
    names = {s.name for s in facts.symbols}
    if expected.symbol is not None:
        assert expected.symbol in names
    if expected.hidden_version_symbol is not None:
        versions = {(s.version, s.hidden) for s in facts.symbols if s.name == expected.hidden_version_symbol}
        assert versions == {(2, True), (3, False)}  # v@LIBV_1.0 (hidden) and v@@LIBV_2.0
    if facts.has_dynamic:
        assert facts.symbols and facts.symbols[0].name == b""  # index 0 is the null symbol


def test_loader_uses_the_last_of_two_runpaths(reader_fixtures: dict[str, Path]) -> None:
    """ld.so's side of READER_BUG_FIRST_TAG: libdup.so is only in $ORIGIN/first, the first DT_RUNPATH."""
    lines = trace(str(reader_fixtures["duplicate_runpath_program"])).lines
    assert "\tlibdup.so => not found" in lines, lines


def test_fixtures_cover_every_hash_style(reader_fixtures: dict[str, Path]) -> None:
    """The symbol count comes from DT_HASH or DT_GNU_HASH: the fixtures exercise sysv, gnu and both."""
    styles = set()
    for name in FIXTURE_NAMES:
        dynamic = FileCache().open(str(reader_fixtures[name])).elf().dynamic  # type: ignore[union-attr]
        if dynamic is not None:
            styles.add((dynamic.value(4) is not None, dynamic.value(0x6FFFFEF5) is not None))  # HASH, GNU_HASH
    assert {(True, False), (False, True), (True, True)} <= styles


def test_non_utf8_names_are_exact_bytes(reader_fixtures: dict[str, Path]) -> None:
    """The NON_UTF8_REPLACED tolerance is pyelftools' loss, not ours: the bytes survive exactly."""
    library = our_facts(str(reader_fixtures["non_utf8_names_library"]))
    program = our_facts(str(reader_fixtures["non_utf8_needed_program"]))
    assert library.soname == b"libn\xff\xfe.so"
    assert library.runpath == b"/opt/\xe9t\xe9:$ORIGIN"
    assert program.needed[0] == b"libn\xff\xfe.so"
    assert pyelftools_facts(str(reader_fixtures["non_utf8_names_library"])).soname == "libn\ufffd\ufffd.so".encode()


def test_section_less_versions_match_the_sectioned_original(reader_fixtures: dict[str, Path]) -> None:
    """PYELFTOOLS_VERSIONS_NEED_SECTIONS leaves LIEF alone on these; also check against the original."""
    for stripped, original in [
        ("no_section_headers_program", "verneed_program"),
        ("no_section_headers_library", "verdef_library"),
    ]:
        a, b = our_facts(str(reader_fixtures[stripped])), our_facts(str(reader_fixtures[original]))
        assert (a.symbols, a.needs, a.definitions) == (b.symbols, b.needs, b.definitions)


# ----------------------------------------------------------------------------------- system files


def test_enough_system_files_to_compare() -> None:
    assert len(ALL_FILES) >= SAMPLE_SIZE, "the differential sample needs 500+ system ELF files"


@pytest.mark.parametrize("path", _sample(ALL_FILES, SAMPLE_SIZE))
def test_system_file_matches_pyelftools_and_lief(path: str) -> None:
    assert_reader_agrees(path, pyelftools_relocations=False)  # PYELFTOOLS_RELOCATIONS_ON_FIXTURES


@pytest.mark.full
@pytest.mark.parametrize("path", ALL_FILES)
def test_every_system_file_matches_pyelftools_and_lief(path: str) -> None:
    assert_reader_agrees(path)
