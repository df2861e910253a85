"""Symbol binding over the global scope, as glibc 2.36's do_lookup_x/check_match do it, and the
load-time version check of dl-version.c (loader.md §10, §11).

The scope is the load order of the emulated start (preloads right after the program, filtees before
their filters, ld.so where it was first needed); an object with DT_SYMBOLIC searches itself first.
The first acceptable definition wins, weak or not; a weak reference may stay unresolved; versioned
references match their version (hidden ones too), unversioned ones follow the index-2 rule.
"""

from __future__ import annotations

import os
import weakref
from enum import StrEnum
from typing import NamedTuple

from elfdeps.elf import constants as C
from elfdeps.elf.lookup import SymbolTable, VersionEntry
from elfdeps.elf.reader import ElfFile
from elfdeps.elf.relocations import RelocClass
from elfdeps.elf.symbols import Symbol
from elfdeps.errors import ElfFormatError
from elfdeps.model import LoadResult, Via

__all__ = [
    "Binding",
    "BindingReport",
    "Definition",
    "VersionProblem",
    "VersionProblemKind",
    "bind",
    "definitions",
    "winner",
]

STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3
# do_lookup_x's ALLOWED_STT: NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC.
_ALLOWED_TYPES = frozenset({0, 1, 2, 5, 6, 10})
STT_TLS = 6
SMALL_TABLE = 8192  # symbols: below this, a set of exported names is cheaper than hash-table probes


class Binding(NamedTuple):
    """Where one symbol reference of one object binds."""

    requester: int  # object index in load order
    symbol: bytes
    version: bytes | None
    reloc_class: RelocClass
    lazy: bool  # only a lazily bound PLT call: fails when first called, not at start-up
    weak_reference: bool
    target: int | None  # object index of the winning definition; None when unresolved
    other_definitions: tuple[int, ...]  # later objects in scope that define it too (interposed)

    @property
    def resolved(self) -> bool:
        return self.target is not None

    @property
    def fails(self) -> bool:
        """Unresolved and not forgiven: a strong reference nothing in scope defines."""
        return self.target is None and not self.weak_reference


class VersionProblemKind(StrEnum):
    MISSING = "missing"  # version 'X' not found (required by Y): fatal
    WEAK_MISSING = "weak-missing"  # weak version 'X' not found: a warning
    NO_VERSION_INFO = "no-version-info"  # the library defines no versions at all: a warning


class VersionProblem(NamedTuple):
    requester: int
    library: int
    file: bytes
    version: bytes
    kind: VersionProblemKind
    symbols: tuple[bytes, ...]  # the requester's symbols that use this version


class BindingReport(NamedTuple):
    bindings: tuple[Binding, ...]
    version_problems: tuple[VersionProblem, ...]
    unreadable: tuple[tuple[int, str], ...]  # objects whose symbols could not be read, and why


class _Required(NamedTuple):
    name: bytes
    hash: int
    hidden: bool


class _Scope:
    """The global scope with each object's symbol table, read through the hash tables."""

    def __init__(self, result: LoadResult) -> None:
        self.members: list[tuple[int, ElfFile, SymbolTable]] = []
        self.unreadable: list[tuple[int, str]] = []
        for obj in result.objects:
            if not obj.found or obj.elf is None or obj.elf.dynamic is None:
                continue
            try:
                self.members.append((obj.index, obj.elf, obj.elf.symbol_table))
            except ElfFormatError as error:
                self.unreadable.append((obj.index, str(error)))
        self._index: dict[bytes, list[int]] | None = None
        self.indexed = False
        self._answers: dict[tuple[bytes, _Required | None, RelocClass, int], tuple[int | None, tuple[int, ...]]] = {}

    def lookup(
        self,
        name: bytes,
        required: _Required | None,
        reloc_class: RelocClass,
        first: tuple[int, ElfFile, SymbolTable] | None,
        collect_others: bool,
    ) -> tuple[int | None, tuple[int, ...]]:
        """The object defining ``name`` for this reference, and later ones that define it too."""
        key = (name, required, reloc_class, first[0] if first is not None else -1)
        known = self._answers.get(key)
        if known is None:
            known = self._answers[key] = self._lookup(name, required, reloc_class, first, collect_others)
        return known

    def plan(self, lookups: int) -> None:
        """Choose how to search: walk each object's hash table (cheap when the scope holds big libraries
        and few names are looked up, e.g. rustc's 65k exports for 2k references), or index every
        exported name of the scope once (cheap when many references meet many objects)."""
        total_symbols = sum(table.count for _index, _elf, table in self.members)
        self.indexed = lookups * len(self.members) > total_symbols

    def _definers(self) -> dict[bytes, list[int]]:
        """Scope positions of the objects that may define each name, built once per scope: a lookup
        is then one dict probe plus check_match on the few candidates, not a walk over every object."""
        if self._index is None:
            index: dict[bytes, list[int]] = {}
            for position, (_object, _elf, table) in enumerate(self.members):
                for name in table.definition_names():
                    positions = index.get(name)
                    if positions is None:
                        index[name] = [position]
                    else:
                        positions.append(position)
            self._index = index
        return self._index

    def _lookup(
        self,
        name: bytes,
        required: _Required | None,
        reloc_class: RelocClass,
        first: tuple[int, ElfFile, SymbolTable] | None,
        collect_others: bool,
    ) -> tuple[int | None, tuple[int, ...]]:
        if self.indexed:
            candidates = [self.members[position] for position in self._definers().get(name, ())]
        else:
            # A small table answers "not here" from its set of exported names; a big one (libLLVM,
            # librustc_driver) through its Bloom filter, without decoding 40k names first.
            candidates = [
                member
                for member in self.members
                if member[2].count > SMALL_TABLE or name in member[2].definition_names()
            ]
        if first is not None:  # DT_SYMBOLIC: the object itself first, then the global scope
            candidates.insert(0, first)
        elif reloc_class is RelocClass.COPY and candidates and candidates[0] is self.members[0]:
            candidates.pop(0)  # a copy relocation is looked up skipping the executable
        winner: int | None = None
        others: list[int] = []
        for index, _elf, table in candidates:
            if _defines(table, name, required, reloc_class):
                if winner is None:
                    winner = index
                    if not collect_others:
                        break
                elif index != winner:
                    others.append(index)
        return winner, tuple(others)


def _defines(table: SymbolTable, name: bytes, required: _Required | None, reloc_class: RelocClass) -> bool:
    """check_match over every symbol of that name in one object (dl-lookup.c)."""
    versions: dict[int, VersionEntry] | None = None
    unversioned_candidates = 0
    for index in table.find(name):
        symbol = table.symbol(index)
        if symbol.value == 0 and symbol.shndx != C.SHN_ABS and symbol.type != STT_TLS:
            continue
        if reloc_class is RelocClass.PLT and symbol.shndx == C.SHN_UNDEF:
            continue
        if symbol.type not in _ALLOWED_TYPES or symbol.bind not in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE):
            continue
        if symbol.visibility in (STV_HIDDEN, STV_INTERNAL):
            continue
        if not table.has_versym:
            return True
        ndx = symbol.version_index
        if required is not None:
            if versions is None:
                versions = table.versions()
            entry = versions.get(ndx)
            entry_hash = entry.hash if entry is not None and ndx > 1 else 0
            same = entry is not None and ndx > 1 and entry.hash == required.hash and entry.name == required.name
            if same or not (required.hidden or entry_hash or symbol.hidden_version):
                return True
            continue
        if ndx >= 3:
            if not symbol.hidden_version:
                unversioned_candidates += 1
            continue
        return True
    # An unversioned reference takes the one non-hidden versioned definition, if there is exactly one.
    return unversioned_candidates == 1


def _required_version(table: SymbolTable, symbol_index: int) -> _Required | None:
    ndx = table.versym(symbol_index) & 0x7FFF if table.has_versym else 0
    if ndx <= 1:
        return None
    entry = table.versions().get(ndx)
    if entry is None:
        return None
    return _Required(entry.name, entry.hash, entry.hidden)


def _is_symbolic(elf: ElfFile) -> bool:
    dynamic = elf.dynamic
    return dynamic is not None and (dynamic.value(C.DT_SYMBOLIC) is not None or bool(dynamic.flags & C.DF_SYMBOLIC))


class _Reference(NamedTuple):
    """A symbol reference with everything the lookup needs, prepared once per file."""

    name: bytes
    required: _Required | None
    reloc_class: RelocClass
    lazy: bool
    weak: bool
    binds_to_itself: bool  # a protected definition keeps its own


_PREPARED: weakref.WeakKeyDictionary[ElfFile, tuple[_Reference, ...]] = weakref.WeakKeyDictionary()


def _prepare(elf: ElfFile, table: SymbolTable) -> tuple[_Reference, ...]:
    prepared = _PREPARED.get(elf)
    if prepared is not None:
        return prepared
    lazy_allowed = not _binds_now(elf)
    seen: set[tuple[int, RelocClass]] = set()
    references = []
    for reference in elf.symbol_references:
        key = (reference.symbol_index, reference.reloc_class)
        if key in seen:
            continue
        seen.add(key)
        symbol = table.symbol(reference.symbol_index)
        if symbol.bind == STB_LOCAL:
            continue  # binds to the object itself, no lookup
        defined = symbol.shndx != C.SHN_UNDEF
        if defined and symbol.visibility in (STV_HIDDEN, STV_INTERNAL):
            continue
        references.append(
            _Reference(
                name=symbol.name,
                required=_required_version(table, reference.symbol_index),
                reloc_class=reference.reloc_class,
                lazy=reference.lazy and lazy_allowed,
                weak=symbol.bind == STB_WEAK,
                binds_to_itself=defined and symbol.visibility == STV_PROTECTED,
            )
        )
    prepared = _PREPARED[elf] = tuple(references)
    return prepared


def _bind_object(
    scope: _Scope, member: tuple[int, ElfFile, SymbolTable], collect_others: bool, out: list[Binding]
) -> None:
    index, elf, table = member
    symbolic = member if _is_symbolic(elf) else None
    for reference in _prepare(elf, table):
        target: int | None
        others: tuple[int, ...]
        if reference.binds_to_itself:
            target, others = index, ()
        else:
            target, others = scope.lookup(
                reference.name, reference.required, reference.reloc_class, symbolic, collect_others
            )
        out.append(
            Binding(
                requester=index,
                symbol=reference.name,
                version=reference.required.name if reference.required is not None else None,
                reloc_class=reference.reloc_class,
                lazy=reference.lazy,
                weak_reference=reference.weak,
                target=target,
                other_definitions=others,
            )
        )


def _binds_now(elf: ElfFile) -> bool:
    dynamic = elf.dynamic
    if dynamic is None:
        return False
    return (
        dynamic.value(C.DT_BIND_NOW) is not None
        or bool(dynamic.flags & C.DF_BIND_NOW)
        or bool(dynamic.flags_1 & C.DF_1_NOW)
    )


def _names_of(result: LoadResult) -> dict[bytes, int]:
    """Each loaded object by every name _dl_name_match_p knows it by (path, requested name, soname)."""
    names: dict[bytes, int] = {}
    for obj in result.objects:
        if not obj.found:
            continue
        for name in (obj.name, os.fsencode(obj.path or ""), obj.soname):
            if name:
                names.setdefault(name, obj.index)
    return names


def _check_versions(result: LoadResult, scope: _Scope, requesters: frozenset[int] | None) -> list[VersionProblem]:
    """dl-version.c:_dl_check_map_versions over the loaded objects (or the given ones)."""
    problems: list[VersionProblem] = []
    names = _names_of(result)
    for index, elf, table in scope.members:
        if requesters is not None and index not in requesters:
            continue
        try:
            needs = elf.version_needs
        except ElfFormatError:
            continue
        for need in needs:
            library = names.get(need.file)
            if library is None:
                continue  # not loaded: the missing library is the problem, reported elsewhere
            library_elf = result.objects[library].elf
            if library_elf is None:
                continue
            try:
                defined = {definition.name for definition in library_elf.version_definitions}
            except ElfFormatError:
                continue
            for requirement in need.versions:
                if defined and requirement.name in defined:
                    continue
                if not defined:
                    kind = VersionProblemKind.NO_VERSION_INFO
                elif requirement.is_weak:
                    kind = VersionProblemKind.WEAK_MISSING
                else:
                    kind = VersionProblemKind.MISSING
                users = tuple(
                    sorted(
                        {
                            table.symbol(i).name
                            for i in range(1, table.count)
                            if table.versym(i) & 0x7FFF == requirement.index & 0x7FFF
                        }
                    )
                )
                problems.append(VersionProblem(index, library, need.file, requirement.name, kind, users))
    return problems


def bind(
    result: LoadResult, *, collect_interposition: bool = False, requesters: frozenset[int] | None = None
) -> BindingReport:
    """Every symbol reference of the loaded objects, bound in the program's global scope.

    ``requesters`` limits which objects' references are bound (default: all but ld.so, as ldd -r);
    an audit binds a library that is itself audited only once, in its own scope.
    """
    scope = _Scope(result)
    bindings: list[Binding] = []
    unreadable = list(scope.unreadable)
    bound = [
        member
        for member in scope.members
        if result.objects[member[0]].via is not Via.INTERPRETER and (requesters is None or member[0] in requesters)
    ]
    lookups = 0
    for member in bound:
        try:
            lookups += len(_prepare(member[1], member[2]))
        except ElfFormatError:
            continue
    scope.plan(lookups)
    for member in bound:
        try:
            _bind_object(scope, member, collect_interposition, bindings)
        except ElfFormatError as error:
            unreadable.append((member[0], str(error)))
    return BindingReport(tuple(bindings), tuple(_check_versions(result, scope, requesters)), tuple(unreadable))


class Definition(NamedTuple):
    """A .dynsym definition of a name in one loaded object."""

    object: int
    symbol: Symbol
    version: bytes | None
    exported: bool  # global/weak/unique with default or protected visibility: it can bind


def definitions(result: LoadResult, name: bytes) -> list[Definition]:
    """Every loaded object's definitions of ``name``, in scope order, exported or not."""
    found: list[Definition] = []
    for obj in result.objects:
        if not obj.found or obj.elf is None or obj.elf.dynamic is None:
            continue
        try:
            table = obj.elf.symbol_table
            for index in table.find(name):
                symbol = table.symbol(index)
                if symbol.shndx == C.SHN_UNDEF:
                    continue
                entry = table.versions().get(symbol.version_index) if table.has_versym else None
                version = entry.name if entry is not None and symbol.version_index > 1 else None
                exported = symbol.bind in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE) and symbol.visibility not in (
                    STV_HIDDEN,
                    STV_INTERNAL,
                )
                found.append(Definition(obj.index, symbol, version, exported))
        except ElfFormatError:
            continue
    return found


def winner(result: LoadResult, name: bytes) -> int | None:
    """The object an unversioned data reference to ``name`` from the program would bind to."""
    return _Scope(result).lookup(name, None, RelocClass.DATA, None, False)[0]
