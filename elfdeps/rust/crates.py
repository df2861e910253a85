"""Which crate builds live in which loaded object, who imports them and where those imports bind, and
the problems that follow (rust.md §6.2-6.4): a pure function of a LoadResult and the run's FileCache
(and, optionally, the BindingReport of the same run).

- Only objects that are Rust (kind != not-rust, :mod:`elfdeps.rust.objects`) are examined; C files
  cost a few C-speed searches each.
- Definitions are the expensive fact (every exported name parsed). With ``complete=False`` (what an
  audit needs) the largest Rust object's definitions are skipped when they cannot matter: no other
  object holds a crate whose name even occurs in its symbol names, and no import is left unresolved.
  That keeps rustc's own tree (librustc_driver: 20k exported v0 names) cheap. ``complete=True``
  (the ``crates`` view) always reads everything.
- Duplication counts objects, not symbols; builds held within one single object (rustc_driver holds
  std's hashbrown and its own) are rustc's business, not a problem.

Public API: :func:`crate_report` -> :class:`CrateReport`; :class:`ObjectCrates`, :class:`CrateBuild`,
:class:`ImportSite`.
"""

from __future__ import annotations

from elfdeps.elf.symbols import can_bind
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.rust import detect
from elfdeps.rust.mangling import Crate
from elfdeps.rust.objects import (
    SYSROOT_CRATES,
    CrateCode,
    Defines,
    Imports,
    RustFacts,
    mentions_crate,
    rust_defines,
    rust_facts,
    rust_imports,
)
from elfdeps.rust.problems import Holder, Problem

if TYPE_CHECKING:
    from collections.abc import Iterable

    from elfdeps.binding import BindingReport
    from elfdeps.elf.cache import FileCache
    from elfdeps.elf.reader import ElfFile
    from elfdeps.model import LoadResult

__all__ = ["CrateBuild", "CrateReport", "ImportSite", "ObjectCrates", "crate_report", "prepare_crate_report"]

NO_CODE = CrateCode(0, 0, ())


class ObjectCrates(Fact):
    """One loaded Rust object's facts."""

    object: int  # index in load order
    facts: RustFacts
    imports: Imports
    defines: Defines | None  # None: skipped (complete=False, provably not needed)

    @property
    def fingerprints(self) -> tuple[int, ...]:
        """The ``__rustc`` disambiguators its names carry: each identifies the rustc that made the code
        (defined) or the toolchain std it needs (imported) (rust.md §1.1)."""
        crates = set(self.imports.crates) | set(self.defines.crates if self.defines is not None else ())
        return tuple(sorted(crate.scid for crate in crates if crate.name == b"__rustc" and crate.scid is not None))


class ImportSite(Fact):
    """One object's references to one crate build, and where they bind."""

    object: int
    names: tuple[bytes, ...]
    bound_to: tuple[tuple[int | None, int], ...]  # (target object or None = unresolved, count); () = unknown


class CrateBuild(Fact):
    crate: Crate
    holders: tuple[Holder, ...]
    importers: tuple[ImportSite, ...]


class CrateReport(Fact):
    objects: tuple[ObjectCrates, ...]  # the Rust objects, in load order
    builds: tuple[CrateBuild, ...]  # sorted by crate name, then StableCrateId
    problems: tuple[Problem, ...]
    complete: bool  # every Rust object's definitions were read
    unreadable: tuple[tuple[int, str], ...] = ()  # objects whose symbols could not be read, and why


class _RustObjects(Fact):
    """The loaded objects that are Rust, with what crate_report reads of them before any binding."""

    rust: list[tuple[int, ElfFile, RustFacts]]  # (object index, file, facts), in load order
    paths: dict[int, str]
    imports: dict[int, Imports]
    unreadable: list[tuple[int, str]]


def _rust_objects(result: LoadResult, files: FileCache) -> _RustObjects:
    found = _RustObjects([], {}, {}, [])
    for obj in result.objects:
        if not obj.found or obj.host_path is None:
            continue
        try:
            elf = files.elf(obj.host_path)
            facts = rust_facts(elf)
            if facts.is_rust:
                found.imports[obj.index] = rust_imports(elf)
        except ElfFormatError as error:  # the audit reports the file as malformed; here it is left out
            found.unreadable.append((obj.index, str(error)))
            continue
        if facts.is_rust:
            found.rust.append((obj.index, elf, facts))
            found.paths[obj.index] = obj.path or obj.host_path
    return found


def prepare_crate_report(result: LoadResult, files: FileCache) -> None:
    """Read now what :func:`crate_report` (``complete=False``) reads whatever the binding says: each
    object's facts and imports, the definitions of all but the largest Rust object and whether the
    largest mentions their crates (all memoised on the run's ElfFiles). For a caller whose binding
    runs in a helper process meanwhile; errors are left for crate_report to meet and report."""
    _skippable(_rust_objects(result, files).rust)


def crate_report(
    result: LoadResult, files: FileCache, binding: BindingReport | None = None, *, complete: bool = True
) -> CrateReport:
    """The crates of a loaded program and their problems (see the module docstring). ``files`` is the
    run's FileCache (the one the emulation and the binding read through)."""
    loaded = _rust_objects(result, files)
    rust, paths, imports, unreadable = loaded.rust, loaded.paths, loaded.imports, loaded.unreadable
    targets = _binding_targets(binding, frozenset(imports))
    unresolved = _unresolved(result, files, imports, targets)
    skipped = None if complete or unresolved else _skippable(rust)
    defines: dict[int, Defines] = {}
    for index, elf, _ in rust:
        if index != skipped:
            try:
                defines[index] = rust_defines(elf)
            except ElfFormatError as error:
                unreadable.append((index, str(error)))
    objects = tuple(ObjectCrates(index, facts, imports[index], defines.get(index)) for index, _, facts in rust)
    holders = _holders(objects)
    elfs = {index: elf for index, elf, _ in rust}
    found = [
        detect.RustObject(
            item.object, item.facts, item.imports, item.defines, paths[item.object], _soname(elfs[item.object])
        )
        for item in objects
    ]
    problems: list[Problem] = []
    problems += detect.duplicates(holders, found, targets)
    problems += detect.two_builds(holders, found, elfs, targets)
    problems += detect.mismatches(unresolved, holders, {item.object: item.facts for item in objects})
    problems += detect.toolchain_mix(found, result)
    problems += detect.soname_mismatches(found)
    builds = _builds(holders, imports, targets)
    return CrateReport(objects, builds, tuple(problems), skipped is None and not unreadable, tuple(unreadable))


def _soname(elf: ElfFile) -> bytes | None:
    return elf.dynamic.soname if elf.dynamic is not None else None


# -- bindings -------------------------------------------------------------------------------------


def _binding_targets(
    binding: BindingReport | None, requesters: frozenset[int]
) -> dict[tuple[int, bytes], int | None] | None:
    """(requester, symbol) -> the object it binds to, for the Rust requesters; None without a report."""
    if binding is None:
        return None
    targets: dict[tuple[int, bytes], int | None] = {}
    for item in binding.bindings:
        if item.requester in requesters:
            targets.setdefault((item.requester, item.symbol), item.target)
    return targets


def _provided(result: LoadResult, files: FileCache, name: bytes) -> bool:
    """Whether a loaded object has a definition of ``name`` that can bind (hash-table lookups, no scan)."""
    for obj in result.objects:
        if not obj.found or obj.host_path is None:
            continue
        try:
            table = files.elf(obj.host_path).symbol_table
            for index in table.find(name):
                symbol = table.symbol(index)
                if can_bind(symbol.bind, symbol.type, symbol.visibility, symbol.value, symbol.shndx):
                    return True
        except ElfFormatError:
            continue
    return False


def _unresolved(
    result: LoadResult,
    files: FileCache,
    imports: dict[int, Imports],
    targets: dict[tuple[int, bytes], int | None] | None,
) -> dict[tuple[int, Crate], tuple[bytes, ...]]:
    """Per (importer, expected build), the references nothing loaded defines. With a binding report,
    only references the loader looks up (named by a relocation); without one, every undefined name.
    A legacy name gives the crate but no build (Crate(name, None)); the sysroot crates' legacy names
    are local monomorphisations, never a build to expect."""
    missing: dict[tuple[int, Crate], tuple[bytes, ...]] = {}
    for index, found in imports.items():
        for crate, names in found.crates.items():
            if crate.scid is None and crate.name in SYSROOT_CRATES:
                continue
            if targets is not None:
                lost = tuple(name for name in names if (index, name) in targets and targets[(index, name)] is None)
            else:
                lost = tuple(name for name in names if not _provided(result, files, name))
            if lost:
                missing[(index, crate)] = lost
    return missing


# -- holders and builds ---------------------------------------------------------------------------


def _holders(objects: Iterable[ObjectCrates]) -> dict[Crate, list[Holder]]:
    holders: dict[Crate, list[Holder]] = {}
    for item in objects:
        identity = item.facts.crate
        codes = dict(item.defines.crates) if item.defines is not None else {}
        if identity is not None and identity not in codes:
            codes[identity] = NO_CODE  # the dylib of a crate whose code is all generic: it holds the crate
        for crate, code in codes.items():
            holder = Holder(item.object, code.exported, code.private, code.statics, crate == identity)
            holders.setdefault(crate, []).append(holder)
    return holders


def _builds(
    holders: dict[Crate, list[Holder]],
    imports: dict[int, Imports],
    targets: dict[tuple[int, bytes], int | None] | None,
) -> tuple[CrateBuild, ...]:
    sites: dict[Crate, list[ImportSite]] = {}
    for index, found in imports.items():
        for crate, names in found.crates.items():
            bound: tuple[tuple[int | None, int], ...] = ()
            if targets is not None:
                counts: dict[int | None, int] = {}
                for name in names:
                    if (index, name) in targets:
                        target = targets[(index, name)]
                        counts[target] = counts.get(target, 0) + 1
                bound = tuple(sorted(counts.items(), key=lambda item: (item[0] is None, item[0] or 0)))
            sites.setdefault(crate, []).append(ImportSite(index, names, bound))
    crates = sorted(set(holders) | set(sites), key=lambda crate: (crate.name, crate.scid or 0))
    return tuple(CrateBuild(crate, tuple(holders.get(crate, ())), tuple(sites.get(crate, ()))) for crate in crates)


def _skippable(rust: list[tuple[int, ElfFile, RustFacts]]) -> int | None:
    """The largest Rust object, when its definitions cannot create a problem: no crate held by any other
    Rust object occurs by name in its symbol names (C-speed searches of its string tables)."""
    if len(rust) < 2:
        return rust[0][0] if rust else None
    index, elf, facts = max(rust, key=lambda item: item[1].size)
    names: set[bytes] = set()
    try:
        for other, other_elf, other_facts in rust:
            if other == index:
                continue
            names.update(crate.name for crate in rust_defines(other_elf).crates)
            names.update(rust_defines(other_elf).legacy_crate_names())
            if other_facts.crate is not None:
                names.add(other_facts.crate.name)
        if facts.crate is not None and facts.crate.name in names:
            return None
        return index if not any(mentions_crate(elf, name) for name in names) else None
    except ElfFormatError:
        return None  # read everything; the unreadable object is reported by the caller
