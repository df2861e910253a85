"""Symbol binding over the global scope, as glibc 2.36's do_lookup_x/check_match do it, and the
load-time version check of dl-version.c (loader.md §10, §11).

The scope is the load order of the emulated start (preloads right after the program, filtees before
their filters, ld.so where it was first needed); an object with DT_SYMBOLIC searches itself first.
The first acceptable definition wins, weak or not; a weak reference may stay unresolved; versioned
references match their version (hidden ones too), unversioned ones follow the index-2 rule.
"""

from __future__ import annotations

import os

from elfdeps.elf import constants as C
from elfdeps.elf.cache import FileCache
from elfdeps.elf.lookup import SymbolTable, VersionEntry, gnu_hash
from elfdeps.elf.reader import ElfFile
from elfdeps.elf.relocations import RelocClass, symbolic_relocations_at_most
from elfdeps.elf.symbols import Symbol
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact, Symbolic
from elfdeps.forked import ForkedWork, SharedWords
from elfdeps.model import LoadResult, Via

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "Binding",
    "BindingCache",
    "BindingReport",
    "Definition",
    "VersionProblem",
    "VersionProblemKind",
    "bind",
    "definers",
    "definitions",
    "start_binding",
    "winner",
]

# A member's set of exported names is built once it pays for itself: when its symbols are no more than
# the names the run has asked it about (one name put in the set costs about one Bloom-filter probe).
SET_COST = 1.0
# A requester is handed to a helper process when it may have this many references: binding them costs
# ~15 ms per thousand, a fork and the answer's way back ~2 ms.
HELPER_MIN_REFERENCES = 1000
HELPER_CHUNK = 64  # references the helper binds between two looks at where it must stop
# Shared words: how many keys the helper has and how far it got (it writes), where it must stop (we write).
_TOTAL, _PROGRESS, _LIMIT = 0, 1, 2
_NO_LIMIT = (1 << 64) - 1  # all bits set: a store of a smaller limit seen half-done still reads as no limit


class Binding(Fact):
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


class VersionProblemKind(Symbolic):
    MISSING = "missing"  # version 'X' not found (required by Y): fatal
    WEAK_MISSING = "weak-missing"  # weak version 'X' not found: a warning
    NO_VERSION_INFO = "no-version-info"  # the library defines no versions at all: a warning


class VersionProblem(Fact):
    requester: int
    library: int
    file: bytes
    version: bytes
    kind: VersionProblemKind
    symbols: tuple[bytes, ...]  # the requester's symbols that use this version


class BindingReport(Fact):
    bindings: tuple[Binding, ...]
    version_problems: tuple[VersionProblem, ...]
    unreadable: tuple[tuple[int, str], ...]  # objects whose symbols could not be read, and why


class _Required(Fact):
    name: bytes
    hash: int
    hidden: bool


class _Reference(Fact):
    """A symbol reference with everything the lookup needs, prepared once per file."""

    name: bytes
    gnu: int  # its DT_GNU_HASH value
    required: _Required | None
    reloc_class: RelocClass
    lazy: bool
    weak: bool
    binds_to_itself: bool  # a protected definition keeps its own


class BindingCache:
    """What binding learns about files and names during one run (an audit binds many programs that
    share libraries): each file's prepared references, and the GNU hash of each name."""

    def __init__(self) -> None:
        self.references: dict[str, tuple[_Reference, ...]] = {}  # by the file's host path
        self._hashes: dict[bytes, int] = {}
        # Whether a file defines a reference (check_match over its symbols of that name), by (path, name,
        # version required, PLT or not): every program of a directory looks up malloc in the same libc.
        self.defines: dict[tuple[str, bytes, _Required | None, bool], bool] = {}

    def hash(self, name: bytes) -> int:
        known = self._hashes.get(name)
        if known is None:
            known = self._hashes[name] = gnu_hash(name)
        return known


_Member = tuple[int, ElfFile, SymbolTable]  # (object index, its file, its symbol table)


class _Scope:
    """The global scope with each object's symbol table, read through the hash tables."""

    def __init__(self, result: LoadResult, files: FileCache, cache: BindingCache | None = None) -> None:
        self._defined = cache.defines if cache is not None else {}
        self.members: list[_Member] = []
        self.unreadable: list[tuple[int, str]] = []
        for obj in result.objects:
            if not obj.found or obj.host_path is None or obj.facts is None or not obj.facts.dynamic:
                continue
            try:
                elf = files.elf(obj.host_path)
                member = (obj.index, elf, elf.symbol_table)
            except ElfFormatError as error:
                self.unreadable.append((obj.index, str(error)))
                continue
            self.members.append(member)
        self.by_object = {member[0]: member for member in self.members}
        # name -> the members that may define it (a superset: check_match decides), in scope order
        self._candidates: dict[bytes, list[_Member]] = {}
        self._answers: dict[tuple[bytes, _Required | None, RelocClass, int], tuple[int | None, tuple[int, ...]]] = {}

    def prepare(self, names: set[bytes], hashes: Mapping[bytes, int]) -> None:
        """The members that may define each of ``names``, found one member at a time: a C-speed set
        intersection with the member's exported names where that set exists or pays for itself (its
        symbols no more than the names the run has asked it about), else a Bloom-filter probe per name
        (librustc_driver's 21k symbols, libLLVM's 39k: 1.8k names asked, no set built)."""
        candidates: dict[bytes, list[_Member]] = {name: [] for name in names}
        for member in self.members:
            table = member[2]
            table.asked += len(names)
            try:
                if table.names_ready or table.count <= SET_COST * table.asked:
                    hits: Iterable[bytes] = names & table.definition_names()
                else:
                    admits = table.admits
                    hits = [name for name in names if admits(hashes[name])]
                    table.admitted.update(hits)  # the lookup's chain walk need not ask again
            except ElfFormatError as error:  # its Bloom words or string table prove out of bounds
                self.unreadable.append((member[0], str(error)))
                continue  # it defines nothing this scope can read; the others still bind
            for name in hits:
                candidates[name].append(member)
        self._candidates.update(candidates)

    def lookup(
        self, reference: _Reference, first: _Member | None, collect_others: bool
    ) -> tuple[int | None, tuple[int, ...]]:
        """The object defining the referenced name, and later ones that define it too."""
        key = (reference.name, reference.required, reference.reloc_class, first[0] if first is not None else -1)
        known = self._answers.get(key)
        if known is None:
            known = self._answers[key] = self._lookup(reference, first, collect_others)
        return known

    def _lookup(
        self, reference: _Reference, first: _Member | None, collect_others: bool
    ) -> tuple[int | None, tuple[int, ...]]:
        name, gnu, required, reloc_class = reference[0], reference[1], reference[2], reference[3]
        candidates = self._candidates.get(name)
        if candidates is None:  # a name not prepared (winner()): each member's Bloom filter says
            candidates = self._candidates[name] = [member for member in self.members if member[2].admits(gnu)]
        if first is not None:  # DT_SYMBOLIC: the object itself first, then the global scope
            candidates = [first, *candidates]
        elif reloc_class is RelocClass.COPY and candidates and candidates[0] is self.members[0]:
            candidates = candidates[1:]  # a copy relocation is looked up skipping the executable
        winner: int | None = None
        others: list[int] = []
        plt = reloc_class is RelocClass.PLT
        known = self._defined
        for index, elf, table in candidates:
            key = (elf.path, name, required, plt)
            defined = known.get(key)
            if defined is None:
                defined = known[key] = _defines(table, name, gnu, required, plt)
            if defined:
                if winner is None:
                    winner = index
                    if not collect_others:
                        break
                elif index != winner:
                    others.append(index)
        return winner, tuple(others)


def _defines(table: SymbolTable, name: bytes, gnu: int, required: _Required | None, plt: bool) -> bool:
    """check_match over every symbol of that name in one object (dl-lookup.c), for a reference of
    GNU hash ``gnu`` requiring version ``required``, made by a PLT relocation or not."""
    versions: dict[int, VersionEntry] | None = None
    unversioned_candidates = 0
    has_versym = table.has_versym
    for index in table.find(name, gnu):
        symbol = table.symbol(index)
        if not symbol.can_bind:
            continue
        if plt and symbol.shndx == C.SHN_UNDEF:
            continue  # a PLT lookup never takes the canonical PLT entry of an undefined symbol
        if not has_versym:
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


def _required_version(table: SymbolTable, ndx: int) -> _Required | None:
    if ndx <= 1:
        return None
    entry = table.versions().get(ndx)
    if entry is None:
        return None
    return _Required(entry.name, entry.hash, entry.hidden)


def _is_symbolic(elf: ElfFile) -> bool:
    dynamic = elf.dynamic
    return dynamic is not None and (dynamic.value(C.DT_SYMBOLIC) is not None or bool(dynamic.flags & C.DF_SYMBOLIC))


_Key = tuple[int, RelocClass, bool]  # (symbol index, relocation class, lazy): one reference as relocated


def _reference_keys(elf: ElfFile) -> list[_Key]:
    """Each (symbol, class) the relocations name, in file order, once (with its first relocation's
    laziness): what :func:`_prepare` turns into references, listed without reading any symbol."""
    seen: set[tuple[int, RelocClass]] = set()
    keys = []
    for symbol_index, reloc_class, lazy in elf.symbol_references:
        if (symbol_index, reloc_class) not in seen:
            seen.add((symbol_index, reloc_class))
            keys.append((symbol_index, reloc_class, lazy))
    return keys


def _references(elf: ElfFile, table: SymbolTable, cache: BindingCache, keys: list[_Key]) -> list[_Reference | None]:
    """The reference each key makes, or None where the loader looks nothing up (a local symbol binds to
    its object; a hidden definition too)."""
    lazy_allowed = not _binds_now(elf)
    references: list[_Reference | None] = []
    required_by_index: dict[int, _Required | None] = {}  # a file uses a handful of version indices
    for symbol_index, reloc_class, lazy in keys:
        name, bind, visibility, shndx, version_index = table.reference(symbol_index)
        defined = shndx != C.SHN_UNDEF
        if bind == C.STB_LOCAL or (defined and visibility in (C.STV_HIDDEN, C.STV_INTERNAL)):
            references.append(None)
            continue
        if version_index in required_by_index:
            required = required_by_index[version_index]
        else:
            required = required_by_index[version_index] = _required_version(table, version_index)
        references.append(
            _Reference._make(
                (
                    name,
                    cache.hash(name),
                    required,
                    reloc_class,
                    lazy and lazy_allowed,
                    bind == C.STB_WEAK,
                    defined and visibility == C.STV_PROTECTED,  # a protected definition binds to itself
                )
            )
        )
    return references


def _prepare(elf: ElfFile, table: SymbolTable, cache: BindingCache) -> tuple[_Reference, ...]:
    """The file's references (memoised for the run)."""
    prepared = cache.references.get(elf.path)
    if prepared is None:
        references = _references(elf, table, cache, _reference_keys(elf))
        prepared = cache.references[elf.path] = tuple(reference for reference in references if reference is not None)
    return prepared


def _bind_object(scope: _Scope, member: _Member, cache: BindingCache, collect_others: bool, out: list[Binding]) -> None:
    _bind_references(scope, member, _prepare(member[1], member[2], cache), collect_others, out)


def _bind_references(
    scope: _Scope, member: _Member, references: Iterable[_Reference], collect_others: bool, out: list[Binding]
) -> None:
    index, elf, _table = member
    symbolic = member if _is_symbolic(elf) else None
    for reference in references:
        target: int | None
        others: tuple[int, ...]
        if reference.binds_to_itself:
            target, others = index, ()
        else:
            target, others = scope.lookup(reference, symbolic, collect_others)
        out.append(
            Binding._make(  # in field order: requester, symbol, version, class, lazy, weak, target, others
                (
                    index,
                    reference.name,
                    reference.required.name if reference.required is not None else None,
                    reference.reloc_class,
                    reference.lazy,
                    reference.weak,
                    target,
                    others,
                )
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


def _symbols_of_version(table: SymbolTable, version_index: int) -> tuple[bytes, ...]:
    """The names of a file's symbols whose versym is ``version_index`` (one pass over .gnu.version)."""
    return tuple(
        sorted(
            {
                table.symbol(i).name
                for i in range(1, table.count)
                if table.versym(i) & C.VERSYM_INDEX_MASK == version_index
            }
        )
    )


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
            member = scope.by_object.get(library) if library is not None else None
            if library is None or member is None:
                continue  # not loaded: the missing library is the problem, reported elsewhere
            try:
                defined = {definition.name for definition in member[1].version_definitions}
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
                users = _symbols_of_version(table, requirement.index & C.VERSYM_INDEX_MASK)
                problems.append(VersionProblem(index, library, need.file, requirement.name, kind, users))
    return problems


def _bind_members(
    scope: _Scope, members: list[_Member], cache: BindingCache, collect_interposition: bool
) -> tuple[list[Binding], list[tuple[int, str]]]:
    """The references of ``members`` bound in ``scope`` (prepared for their names first), in member
    order, and the objects whose symbols could not be read."""
    names: set[bytes] = set()
    for member in members:
        try:
            references = _prepare(member[1], member[2], cache)
            names.update(reference.name for reference in references if not reference.binds_to_itself)
        except ElfFormatError:
            continue  # reported when the member is bound
    scope.prepare(names, {name: cache.hash(name) for name in names})
    bindings: list[Binding] = []
    unreadable = list(scope.unreadable)
    for member in members:
        try:
            _bind_object(scope, member, cache, collect_interposition, bindings)
        except ElfFormatError as error:
            unreadable.append((member[0], str(error)))
    return bindings, unreadable


_RELOC_CLASSES = tuple(RelocClass)  # a Binding crosses the helper's pipe with its class as a position here
_RELOC_CODES = {reloc_class: code for code, reloc_class in enumerate(_RELOC_CLASSES)}


def _plain(bindings: list[Binding]) -> list[tuple[object, ...]]:
    """Bindings as marshal writes them (a RelocClass is a str subclass, which it refuses)."""
    codes = _RELOC_CODES
    return [(r, s, v, codes[c], lazy, weak, t, o) for r, s, v, c, lazy, weak, t, o in bindings]


def _from_plain(value: object) -> list[Binding] | None:
    """What :func:`_plain` wrote, or None when ``value`` is anything else."""
    if not isinstance(value, list):
        return None
    make, classes = Binding._make, _RELOC_CLASSES
    try:
        return [make((r, s, v, classes[c], lazy, weak, t, o)) for r, s, v, c, lazy, weak, t, o in value]
    except (TypeError, ValueError, IndexError):  # not 8 fields, not a tuple, no such class
        return None


class PendingBinding:
    """A binding under way. With a helper allowed, the requester with the most references is bound by a
    forked process from the start, in chunks, front to back; :meth:`finish` binds the others here, then
    takes over the back half of what the helper has not reached (the helper stops where told, or a
    chunk later), and gathers the report as one process binding them all would have written it. When the
    helper fails, or a file proves unreadable on either side, everything is bound again here: the answer
    never depends on the helper, nor on where the two met."""

    def __init__(
        self,
        result: LoadResult,
        files: FileCache,
        cache: BindingCache,
        collect_interposition: bool,
        requesters: frozenset[int] | None,
        helper: bool,
    ) -> None:
        self._result, self._files, self._cache = result, files, cache
        self._collect, self._requesters = collect_interposition, requesters
        self._scope = _Scope(result, files, cache)
        self._bound = [
            member
            for member in self._scope.members
            if result.objects[member[0]].via is not Via.INTERPRETER and (requesters is None or member[0] in requesters)
        ]
        self._delegated: _Member | None = None
        self._helper: ForkedWork | None = None
        self.from_helper = 0  # bindings of the report the helper made (0: it had no part in it)
        if helper and self._bound and not self._scope.unreadable:
            weights = [symbolic_relocations_at_most(member[1]) for member in self._bound]
            heaviest = self._bound[weights.index(max(weights))]
            if max(weights) >= HELPER_MIN_REFERENCES:
                self._board = SharedWords(3)
                self._board[_TOTAL], self._board[_PROGRESS], self._board[_LIMIT] = 0, 0, _NO_LIMIT
                work = ForkedWork(lambda: self._bound_by_helper(heaviest))
                if work.started:
                    self._delegated, self._helper = heaviest, work

    def _bind_keys(self, member: _Member, keys: list[_Key], out: list[Binding]) -> list[bool]:
        """Bind the references of ``keys`` (of ``member``); for each key, whether it made one."""
        references = _references(member[1], member[2], self._cache, keys)
        kept = [reference for reference in references if reference is not None]
        names = {reference.name for reference in kept if not reference.binds_to_itself}
        self._scope.prepare(names, {name: self._cache.hash(name) for name in names})
        _bind_references(self._scope, member, kept, self._collect, out)
        return [reference is not None for reference in references]

    def _bound_by_helper(self, member: _Member) -> list[object] | None:
        """In the helper: [where it stopped, its bindings], chunk by chunk until the end or the limit."""
        keys = _reference_keys(member[1])
        self._board[_TOTAL] = len(keys)
        bindings: list[Binding] = []
        position = 0
        while (end := min(position + HELPER_CHUNK, len(keys), self._board[_LIMIT])) > position:
            self._bind_keys(member, keys[position:end], bindings)
            position = self._board[_PROGRESS] = end
        return None if self._scope.unreadable else [position, _plain(bindings)]

    def _take_over(self, member: _Member) -> tuple[int, list[Binding], list[bool]]:
        """Here: bind the back half of the keys the helper has not reached (past the chunk it may be
        binding), after telling it to stop there; (first key taken, its bindings, which keys made one)."""
        reached, total = self._board[_PROGRESS], self._board[_TOTAL]
        if total and total - reached <= HELPER_CHUNK:  # done, or nearly: nothing worth taking
            return total, [], []
        keys = _reference_keys(member[1])
        start = reached + HELPER_CHUNK + max(len(keys) - reached - HELPER_CHUNK, 0) // 2
        if start >= len(keys):
            return len(keys), [], []
        self._board[_LIMIT] = start
        tail: list[Binding] = []
        return start, tail, self._bind_keys(member, keys[start:], tail)

    def finish(self) -> BindingReport:
        bindings: list[Binding] | None = None
        if self._helper is not None and self._delegated is not None:
            position = self._bound.index(self._delegated)
            own = self._bound[:position] + self._bound[position + 1 :]
            own_bindings, unreadable = _bind_members(self._scope, own, self._cache, self._collect)
            try:
                start, tail, made = self._take_over(self._delegated)
                readable = not unreadable and not self._scope.unreadable
            except ElfFormatError:
                start, tail, made, readable = 0, [], [], False
            helped = self._helper.result()
            if readable and isinstance(helped, list) and len(helped) == 2:
                stop, plain = helped
                front = _from_plain(plain)
                if front is not None and isinstance(stop, int) and start <= stop <= start + len(made):
                    # the helper went past the limit by a chunk at most: our copies of those are dropped
                    tail = tail[sum(made[: stop - start]) :]
                    earlier = {member[0] for member in own[:position]}
                    later = (at for at, binding in enumerate(own_bindings) if binding.requester not in earlier)
                    split = next(later, len(own_bindings))
                    bindings = [*own_bindings[:split], *front, *tail, *own_bindings[split:]]
                    self.from_helper = len(front)
            if bindings is None:  # bound again here, in a fresh scope: the answer of one process
                self._scope = _Scope(self._result, self._files, self._cache)
        if bindings is None:
            bindings, unreadable = _bind_members(self._scope, self._bound, self._cache, self._collect)
        versions = _check_versions(self._result, self._scope, self._requesters)
        return BindingReport(tuple(bindings), tuple(versions), tuple(unreadable))

    def cancel(self) -> None:
        """Stop the helper (the caller gave up before finishing)."""
        if self._helper is not None:
            self._helper.cancel()


def start_binding(
    result: LoadResult,
    files: FileCache,
    *,
    cache: BindingCache | None = None,
    collect_interposition: bool = False,
    requesters: frozenset[int] | None = None,
    helper: bool = False,
) -> PendingBinding:
    """:func:`bind`, started: with ``helper`` (the caller may use a second CPU), its heaviest requester
    is bound by a forked process while the caller does other work; ``finish()`` gives the report."""
    return PendingBinding(
        result, files, cache if cache is not None else BindingCache(), collect_interposition, requesters, helper
    )


def bind(
    result: LoadResult,
    files: FileCache,
    *,
    cache: BindingCache | None = None,
    collect_interposition: bool = False,
    requesters: frozenset[int] | None = None,
) -> BindingReport:
    """Every symbol reference of the loaded objects, bound in the program's global scope.

    ``files`` is the run's FileCache (the emulation's), through which each object's symbols are
    read; ``cache`` carries what one binding learns to the next ones of the run. ``requesters``
    limits which objects' references are bound (default: all but ld.so, as ldd -r); an audit binds a
    library that is itself audited only once, in its own scope.
    """
    pending = start_binding(
        result, files, cache=cache, collect_interposition=collect_interposition, requesters=requesters
    )
    return pending.finish()


class Definition(Fact):
    """A .dynsym definition of a name in one loaded object."""

    object: int
    symbol: Symbol
    version: bytes | None
    exported: bool  # global/weak/unique with default or protected visibility: it can bind


def _definition(table: SymbolTable, index: int, symbol_index: int) -> Definition | None:
    symbol = table.symbol(symbol_index)
    if symbol.shndx == C.SHN_UNDEF:
        return None
    entry = table.versions().get(symbol.version_index) if table.has_versym else None
    version = entry.name if entry is not None and symbol.version_index > 1 else None
    return Definition(index, symbol, version, symbol.is_exported)


def definers(result: LoadResult, files: FileCache, names: set[bytes]) -> dict[bytes, list[Definition]]:
    """Every loaded object's .dynsym definitions of each name, in scope order, exported or not.

    Few names are looked up through each object's hash table; many (a deep chain where every object
    misses one) through one pass over every table: the cost stays linear in the scope's symbols.
    """
    found: dict[bytes, list[Definition]] = {}
    members = _Scope(result, files).members
    scan = len(names) * len(members) > sum(table.count for _index, _elf, table in members)
    for index, _elf, table in members:
        try:
            if scan:
                hits: list[tuple[bytes, int]] = [
                    (table.symbol(i).name, i) for i in range(1, table.count) if table.symbol(i).name in names
                ]
            else:
                hits = [(name, i) for name in names for i in table.find(name)]
            for name, symbol_index in hits:
                definition = _definition(table, index, symbol_index)
                if definition is not None:
                    found.setdefault(name, []).append(definition)
        except ElfFormatError:
            continue
    return found


def definitions(result: LoadResult, files: FileCache, name: bytes) -> list[Definition]:
    """Every loaded object's definitions of ``name``, in scope order, exported or not."""
    return definers(result, files, {name}).get(name, [])


def winner(result: LoadResult, files: FileCache, name: bytes) -> int | None:
    """The object an unversioned data reference to ``name`` from the program would bind to."""
    reference = _Reference(name, gnu_hash(name), None, RelocClass.DATA, False, False, False)
    return _Scope(result, files).lookup(reference, None, False)[0]
