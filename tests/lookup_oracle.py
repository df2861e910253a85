"""glibc's lookup rules applied to an independent reader's raw facts: the oracle of elfdeps' lookup
path (``ElfFile.symbol_table``: ``SymbolTable.symbol``, ``find``, ``definition_names``, ``versions``;
``ElfFile.symbol_references``), used by test_reader_differential (every fixture and system file) and
test_reader_lookup (relocation classes per machine).

- ``symbol(i)``: every .dynsym entry, as the reference reader decodes it.
- ``find(name)``: the indices of the symbols called ``name`` that the hash table reaches (DT_GNU_HASH
  from its symoffset, DT_HASH every index), in table order, for every name the reader lists and one
  nothing defines (loader.md 10.2: only .dynsym entries reached through the hash table are seen).
- ``definition_names()``: the names of the reachable symbols check_match and do_lookup_x could take
  (loader.md 10.2): STB_GLOBAL/WEAK/GNU_UNIQUE, not STV_HIDDEN/INTERNAL, a value (or SHN_ABS or TLS),
  a type among NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC.
- ``versions()``: glibc's l_versions (elf/dl-version.c _dl_check_map_versions): each vernaux under
  vna_other & 0x7fff with its hash, hidden bit and file; each verdef but the VER_FLG_BASE one ("the name
  of the base version should not be available for matching a versioned symbol").
- ``symbol_references``: every relocation of DT_REL(A) then DT_JMPREL that names a symbol and is not
  handled before any lookup, classed by GLIBC_TYPES below (elf_machine_type_class), lazy when it is the
  machine's JUMP_SLOT type in DT_JMPREL (elf_machine_lazy_rel); numbers from glibc's /usr/include/elf.h
  (Debian libc6-dev), never from elfdeps. On a machine GLIBC_TYPES lacks, every named relocation of a
  type other than 0 (R_*_NONE) is of class "unknown", never lazy (elfdeps/elf/relocations.py).

Tolerances (named; the only ones):
- NON_UTF8_REPLACED (pyelftools, as in test_reader_differential): a name pyelftools decoded lossily
  cannot be probed with ``find``; our names are compared after the same lossy decoding.
- PYELFTOOLS_VERSIONS_NEED_SECTIONS (pyelftools): without section headers it reads no versions, so
  symbols are compared without their version fields and ``versions()`` with LIEF only.
- PYELFTOOLS_RELOCATIONS_ON_FIXTURES (pyelftools, cost): pyelftools parses every relocation through
  construct, relative ones included (13 s for libLLVM's 382k); its relocations are compared on the
  fixtures, while on system files the references are compared with LIEF's and GNU readelf's.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from reader_facts import (
    Facts,
    LookupFacts,
    LookupInputs,
    SymbolFacts,
    lief_lookup_inputs,
    our_lookup_facts,
    pyelftools_lookup_inputs,
    readelf_relocations,
)

__all__ = ["ELF_H", "GLIBC_TYPES", "GlibcTypes", "elf_h", "expected_lookup", "expected_references", "lookup_problems"]

ELF_H = "/usr/include/elf.h"
ABSENT = b"elfdeps_no_such_symbol_anywhere"
STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 1, 2, 10
STV_INTERNAL, STV_HIDDEN = 1, 2
SHN_ABS = 0xFFF1
STT_TLS = 6
ALLOWED_STT = {0, 1, 2, 5, 6, 10}  # NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC (dl-lookup.c ALLOWED_STT)
VER_FLG_BASE = 1


@dataclass(frozen=True)
class GlibcTypes:
    """One machine's relocation types as glibc 2.36's sysdeps/<arch>/dl-machine.h names them."""

    prefix: str
    no_lookup: tuple[str, ...]  # elf_machine_rel(a) returns before RESOLVE_MAP
    jump_slot: str  # elf_machine_lazy_rel defers only these
    plt: tuple[str, ...]  # elf_machine_type_class: ELF_RTYPE_CLASS_PLT
    copy: str  # elf_machine_type_class: ELF_RTYPE_CLASS_COPY


# Copied by hand from glibc's sysdeps/{x86_64,i386,aarch64,arm,riscv}/dl-machine.h (2.36).
GLIBC_TYPES = {
    (62, 64): GlibcTypes(
        "R_X86_64_",
        ("NONE", "RELATIVE"),
        "JUMP_SLOT",
        ("JUMP_SLOT", "DTPMOD64", "DTPOFF64", "TPOFF64", "TLSDESC"),
        "COPY",
    ),
    (3, 32): GlibcTypes(
        "R_386_",
        ("NONE", "RELATIVE"),
        "JMP_SLOT",
        ("JMP_SLOT", "TLS_DTPMOD32", "TLS_DTPOFF32", "TLS_TPOFF32", "TLS_TPOFF", "TLS_DESC"),
        "COPY",
    ),
    (183, 64): GlibcTypes(
        "R_AARCH64_",
        ("NONE", "RELATIVE"),
        "JUMP_SLOT",
        ("JUMP_SLOT", "TLS_DTPMOD", "TLS_DTPREL", "TLS_TPREL", "TLSDESC"),
        "COPY",
    ),
    (40, 32): GlibcTypes(
        "R_ARM_",
        ("NONE", "RELATIVE"),
        "JUMP_SLOT",
        ("JUMP_SLOT", "TLS_DTPMOD32", "TLS_DTPOFF32", "TLS_TPOFF32", "TLS_DESC"),
        "COPY",
    ),
    (243, 64): GlibcTypes(
        "R_RISCV_", (), "JUMP_SLOT", ("JUMP_SLOT", "TLS_DTPMOD64", "TLS_DTPREL64", "TLS_TPREL64"), "COPY"
    ),
    (243, 32): GlibcTypes(
        "R_RISCV_", (), "JUMP_SLOT", ("JUMP_SLOT", "TLS_DTPMOD32", "TLS_DTPREL32", "TLS_TPREL32"), "COPY"
    ),
}


@functools.cache
def elf_h() -> dict[str, int]:
    """Every `#define R_<ARCH>_<NAME> <number>` of glibc's elf.h."""
    with open(ELF_H, encoding="utf-8") as handle:
        return {m[1]: int(m[2]) for m in re.finditer(r"^#define\s+(R_\w+)\s+(\d+)\b", handle.read(), re.MULTILINE)}


def expected_references(inputs: LookupInputs) -> tuple[tuple[int, str, bool], ...]:
    rules = GLIBC_TYPES.get((inputs.machine, inputs.bits))
    found = []
    if rules is None:
        for reloc in inputs.relocations:
            if reloc.symbol != 0 and reloc.type != 0:  # STN_UNDEF names nothing; type 0 is R_*_NONE
                found.append((reloc.symbol, "unknown", False))
        return tuple(found)
    numbers = elf_h()
    no_lookup = {numbers[rules.prefix + name] for name in rules.no_lookup}
    plt = {numbers[rules.prefix + name] for name in rules.plt}
    copy, jump_slot = numbers[rules.prefix + rules.copy], numbers[rules.prefix + rules.jump_slot]
    for reloc in inputs.relocations:
        if reloc.symbol == 0 or reloc.type in no_lookup:
            continue  # STN_UNDEF: nothing to look up (dl-reloc.c RESOLVE_MAP: a local symbol)
        kind = "copy" if reloc.type == copy else "plt" if reloc.type in plt else "data"
        found.append((reloc.symbol, kind, reloc.table == "plt" and reloc.type == jump_slot))
    return tuple(found)


def _can_define(s: SymbolFacts) -> bool:
    """check_match and do_lookup_x's switch on the binding (loader.md 10.2), versions aside."""
    return (
        s.bind in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE)
        and s.visibility not in (STV_INTERNAL, STV_HIDDEN)
        and not (s.value == 0 and s.shndx != SHN_ABS and s.type != STT_TLS)
        and s.type in ALLOWED_STT
    )


def expected_lookup(facts: Facts, inputs: LookupInputs, names: tuple[bytes, ...]) -> LookupFacts:
    """What glibc's rules (module docstring) make of a reference reader's facts."""
    symbols = facts.symbols
    hashed = range(max(inputs.first_hashed, 1), len(symbols))
    versions: dict[int, tuple[bytes, int, bool, bytes | None]] = {}
    for need in facts.needs:
        for requirement in need.versions:
            versions[requirement.other & 0x7FFF] = (
                requirement.name,
                requirement.hash,
                bool(requirement.other & 0x8000),
                need.file,
            )
    for definition in facts.definitions:
        if not definition.flags & VER_FLG_BASE:
            versions[definition.index] = (definition.names[0], definition.hash, False, None)
    by_name: dict[bytes, list[int]] = {}
    for i in hashed:
        by_name.setdefault(symbols[i].name, []).append(i)
    return LookupFacts(
        symbols=symbols,
        find=tuple((name, tuple(by_name.get(name, ()))) for name in names),
        definition_names=frozenset(symbols[i].name for i in hashed if symbols[i].name and _can_define(symbols[i])),
        versions=tuple(sorted((index, *entry) for index, entry in versions.items())),
        references=expected_references(inputs),
    )


def _probe_names(facts: Facts, exact: bool) -> tuple[bytes, ...]:
    names = sorted({s.name for s in facts.symbols if s.name})
    if not exact:  # NON_UTF8_REPLACED: a lossily decoded name cannot be looked up
        names = [name for name in names if b"\xef\xbf\xbd" not in name]
    return (*names, ABSENT)


def _differences(expected: LookupFacts, got: LookupFacts) -> list[str]:
    found = []
    for field in dataclasses.fields(LookupFacts):
        want, have = getattr(expected, field.name), getattr(got, field.name)
        if want == have:
            continue
        if isinstance(want, frozenset):
            found.append(f"{field.name}: missing {sorted(want - have)[:5]}, extra {sorted(have - want)[:5]}")
        elif len(want) == len(have):
            index = next(i for i, (a, b) in enumerate(zip(want, have, strict=True)) if a != b)
            found.append(f"{field.name}[{index}]:\n  expected: {want[index]}\n  elfdeps:  {have[index]}")
        else:
            found.append(f"{field.name}: {len(want)} expected, elfdeps has {len(have)}")
    return found


def lookup_problems(
    path: str, mine: Facts, reference: dict[str, Facts], pyelftools_relocations: bool = True
) -> list[str]:
    """Where our lookup path differs from glibc's rules applied to each reference reader's facts
    (``reference``: reader name -> its ``Facts`` of ``path``, "LIEF" and/or "pyelftools"), and where our
    references differ from GNU readelf's relocations. elfdeps is asked once, for every name probed."""
    probes = {reader: _probe_names(theirs, exact=reader == "LIEF") for reader, theirs in reference.items()}
    everything = our_lookup_facts(path, tuple(sorted({name for names in probes.values() for name in names})))
    found = dict(everything.find)
    problems = []
    for reader, theirs in reference.items():
        if reader == "LIEF":
            inputs = lief = lief_lookup_inputs(path)
        else:
            inputs = pyelftools_lookup_inputs(path, with_relocations=pyelftools_relocations)
        expected = expected_lookup(theirs, inputs, probes[reader])
        if reader != "LIEF" and not pyelftools_relocations:  # PYELFTOOLS_RELOCATIONS_ON_FIXTURES
            expected = dataclasses.replace(expected, references=everything.references)
        ours = dataclasses.replace(everything, find=tuple((name, found[name]) for name in probes[reader]))
        if reader != "LIEF":  # NON_UTF8_REPLACED
            lossy = mine.map_names(lambda n: n.decode("utf-8", "replace").encode())
            ours = dataclasses.replace(
                ours,
                symbols=lossy.symbols,
                definition_names=frozenset(n.decode("utf-8", "replace").encode() for n in ours.definition_names),
            )
        if not theirs.has_versions:  # PYELFTOOLS_VERSIONS_NEED_SECTIONS
            ours = dataclasses.replace(
                ours,
                symbols=tuple(dataclasses.replace(s, version=None, hidden=False) for s in ours.symbols),
                versions=expected.versions,
            )
        problems += [f"[{reader}] {text}" for text in _differences(expected, ours)]
    if "LIEF" not in reference:
        lief = lief_lookup_inputs(path)
    readelf = expected_references(dataclasses.replace(lief, relocations=readelf_relocations(path)))
    if everything.references != readelf:
        problems += [
            f"[readelf] {text}"
            for text in _differences(dataclasses.replace(everything, references=readelf), everything)
        ]
    return problems
