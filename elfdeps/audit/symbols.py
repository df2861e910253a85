"""Findings about symbol binding: missing-symbol, missing-version, interposed-symbol,
unused-dependency, underlinked-symbol. They read the emulated start and its BindingReport."""

from __future__ import annotations

import os

from elfdeps.advice.archives import ArchiveIndex
from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.binding import Binding, BindingReport, VersionProblemKind, definers
from elfdeps.depgraph.tree import DependencyIndex
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.elf.relocations import RelocClass
from elfdeps.elf.symbols import is_exported
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING
from elfdeps.loader.environment import TargetSystem
from elfdeps.model import DependencyKind, LoadResult, Via
from elfdeps.rust.demangle import demangle_all, readable
from elfdeps.rust.mangling import parse

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["symbol_findings"]


def _path(result: LoadResult, index: int) -> str:
    return result.objects[index].path or result.main_path


class _Explanations:
    """Why each missing name of one program is missing, computed once for all of them (an object in a
    deep chain may miss a name each: per-name scans of every object would be quadratic)."""

    def __init__(
        self,
        result: LoadResult,
        files: FileCache,
        target: TargetSystem,
        names: set[bytes],
        archives: ArchiveIndex | None,
    ) -> None:
        self.files = files
        self.hidden = self._hidden_definers(result, files, names)
        self.unloaded = self._unloaded_exporters(result, files, target, names)
        self.archives = archives

    @staticmethod
    def _hidden_definers(result: LoadResult, files: FileCache, names: set[bytes]) -> dict[bytes, list[str]]:
        """Loaded objects that define a name but keep it local or hidden (.dynsym, else .symtab)."""
        found: dict[bytes, list[str]] = {}
        if not names:
            return found
        dynamic = definers(result, files, names)
        for name, places in dynamic.items():
            for definition in places:
                if not definition.exported or definition.symbol.hidden_version:
                    found.setdefault(name, []).append(result.objects[definition.object].path or "")
        for obj in result.objects:
            if not obj.found or obj.host_path is None:
                continue
            try:
                local = files.elf(obj.host_path).static_definitions
            except ElfFormatError:
                continue
            path = obj.path or ""
            for name in names & local.keys() if len(names) < len(local) else (n for n in local if n in names):
                if not is_exported(*local[name]) and path not in found.get(name, ()):
                    found.setdefault(name, []).append(path)
        return found

    @staticmethod
    def _unloaded_exporters(
        result: LoadResult, files: FileCache, target: TargetSystem, names: set[bytes]
    ) -> dict[str, dict[bytes, list[str]]]:
        """Per directory near the program (not a system one): the shared libraries there that export
        a missing name but are not loaded (a build tree's forgotten library)."""
        system = {d.rstrip("/") for d in target.default_dirs} | set(target.conf_dirs)
        loaded = {os.path.realpath(obj.host_path) for obj in result.objects if obj.host_path}
        exporters: dict[str, dict[bytes, list[str]]] = {}
        if not names:
            return exporters
        directories = {os.path.dirname(result.main_path)} | {
            os.path.dirname(obj.host_path) for obj in result.objects if obj.host_path and obj.found
        }
        for directory in sorted(directories - system):
            table: dict[bytes, list[str]] = {}
            for path in _neighbour_libraries(directory or "."):
                if os.path.realpath(path) in loaded:
                    continue
                for name in names & _exports(path, files):
                    table.setdefault(name, []).append(path)
            exporters[directory] = table
        return exporters

    def unloaded_for(self, result: LoadResult, requester: int, name: bytes) -> list[str]:
        directories = sorted(
            {
                os.path.dirname(result.objects[requester].host_path or result.main_path),
                os.path.dirname(result.main_path),
            }
        )
        found: list[str] = []
        for directory in directories:
            found += self.unloaded.get(directory, {}).get(name, [])
        return found

    def in_archive(self, result: LoadResult, requester: int, name: bytes) -> tuple[str, str | None]:
        """Where a missing name is defined in a build script's static archive of the same cargo build,
        why no dylib exports it (the seed's vsnprintf_wrapper), and the fix."""
        if self.archives is None:
            return "", None
        host = result.objects[requester].host_path or result.main_path
        target_dir = self.archives.target_dir(host) or self.archives.target_dir(result.main_path)
        definitions = self.archives.definitions(target_dir).get(name, []) if target_dir else []
        if not definitions:
            return "", None
        found = definitions[0]
        made_by = f", which the build script of crate {found.crate} made" if found.crate else ""
        generic = self._generic_caller(host, found.crate)
        detail = (
            f"; defined in the static archive {found.archive}{made_by}, but no loaded library exports it:"
            f" a dylib exports a native static library's symbol only when the extern block declaring it"
            f' says #[link(name = "{found.library}", kind = "static")]{generic}'
        )
        owner = f" of crate {found.crate}" if found.crate else ""
        hint = (
            f'add #[link(name = "{found.library}", kind = "static")] to the extern block{owner} that declares'
            f" {os.fsdecode(name)}, so that its dylib exports it"
        )
        return detail, hint

    def _generic_caller(self, host: str, crate: str | None) -> str:
        """When the requester holds generic code of the crate that declares the symbol: the reason the
        reference is here, in another crate's dylib."""
        if crate is None:
            return ""
        try:
            exports = self.files.elf(host).symbol_table.definition_names()
        except ElfFormatError:
            return ""
        wanted = os.fsencode(crate)
        callers = []
        for name in sorted(exports)[:MAX_SCANNED]:  # a dylib's own exports: tens, rarely thousands
            parsed = parse(name)
            if parsed is not None and parsed.owner is not None and parsed.owner.name == wanted:
                callers.append(name)
                if len(callers) == 2:
                    break
        if not callers:
            return ""
        examples = ", ".join(os.fsdecode(name) for name in demangle_all(callers))
        return (
            f"; {os.path.basename(host)} references it because generic code of {crate} ({examples}) was"
            f" instantiated there"
        )


MAX_NEIGHBOURS = 200
MAX_SCANNED = 5000


def _neighbour_libraries(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [os.path.join(directory, entry) for entry in names if ".so" in entry][:MAX_NEIGHBOURS]


def _exports(path: str, files: FileCache) -> frozenset[bytes]:
    """The names a shared library on disk exports (parsed once per run through the run's FileCache)."""
    opened = files.open(path)
    if isinstance(opened, OpenFailure):
        return frozenset()
    try:
        elf = opened.elf()
        return elf.symbol_table.definition_names() if elf.dynamic is not None else frozenset()
    except ElfFormatError:
        return frozenset()


def _missing_symbols(
    result: LoadResult, report: BindingReport, files: FileCache, target: TargetSystem, archives: ArchiveIndex | None
) -> Iterator[Finding]:
    failing: dict[tuple[int, bytes, bytes | None], Binding] = {}
    for binding in report.bindings:
        if binding.fails:
            failing.setdefault((binding.requester, binding.symbol, binding.version), binding)
    if not failing:
        return
    explanations = _Explanations(result, files, target, {binding.symbol for binding in failing.values()}, archives)
    spelled = dict(
        zip(
            (binding.symbol for binding in failing.values()),
            demangle_all(binding.symbol for binding in failing.values()),
            strict=True,
        )
    )
    scope = [os.path.basename(obj.path or result.main_path) for obj in result.objects if obj.found]
    searched = ", ".join(scope[:8]) + (f" and {len(scope) - 8} more" if len(scope) > 8 else "")
    for binding in failing.values():
        name = os.fsdecode(binding.symbol)
        version = os.fsdecode(binding.version) if binding.version else None
        display = os.fsdecode(spelled[binding.symbol]) + (f"@{version}" if version else "")
        if binding.reloc_class is RelocClass.UNKNOWN:
            when = "fails at start-up or when first called (elfdeps does not know this machine's relocation types)"
        elif binding.lazy:
            when = "fails when first called (lazy binding; at start-up with LD_BIND_NOW or -z now)"
        else:
            when = "fails at start-up"
        hidden = explanations.hidden.get(binding.symbol, [])
        unloaded = explanations.unloaded_for(result, binding.requester, binding.symbol)
        detail = f"; defined but not exported (local or hidden) in {', '.join(hidden)}" if hidden else ""
        if unloaded:
            detail += f"; exported by {', '.join(unloaded)}, which nothing loads"
        archived, archive_hint = explanations.in_archive(result, binding.requester, binding.symbol)
        detail += archived
        yield Finding(
            "missing-symbol",
            RULES["missing-symbol"].severity,
            _path(result, binding.requester),
            f"undefined symbol {display}: defined by none of the {len(scope)} objects searched ({searched});"
            f" {when}{detail}",
            symbol=name,
            version=version,
            related=(*hidden, *unloaded),
            hint=archive_hint
            or (
                "link the library that defines it (a static archive from a build script, a missing -l), "
                "or add it to the requester's DT_NEEDED"
            ),
        )


def _missing_versions(result: LoadResult, report: BindingReport) -> Iterator[Finding]:
    for problem in report.version_problems:
        library = result.objects[problem.library]
        version = os.fsdecode(problem.version)
        users = ", ".join(readable(os.fsdecode(name) for name in problem.symbols[:8]))
        more = f" and {len(problem.symbols) - 8} more" if len(problem.symbols) > 8 else ""
        needed_by = f"; needed by {users}{more}" if users else ""
        if problem.kind is VersionProblemKind.NO_VERSION_INFO:
            message = f"needs version {version} of {os.fsdecode(problem.file)}, but {library.path} defines no versions"
            severity = Severity.WARNING
        else:
            message = f"version {version} not found in {library.path} (required by this file){needed_by}"
            severity = Severity.WARNING if problem.kind is VersionProblemKind.WEAK_MISSING else Severity.ERROR
        yield Finding(
            "missing-version",
            severity,
            _path(result, problem.requester),
            message,
            version=version,
            library=library.path,
            related=tuple(os.fsdecode(name) for name in problem.symbols),
            hint="build against the oldest library version you support, or ship the newer library",
        )


def _interposed(result: LoadResult, report: BindingReport) -> Iterator[Finding]:
    # The program's copy of a data object it copy-relocates (stdout, environ) interposes by design.
    copied = {b.symbol for b in report.bindings if b.requester == 0 and b.reloc_class is RelocClass.COPY}
    seen: set[tuple[bytes, int]] = set()
    for binding in report.bindings:
        if not binding.other_definitions or binding.target is None:
            continue
        if binding.target == 0 and binding.symbol in copied:
            continue
        key = (binding.symbol, binding.target)
        if key in seen:
            continue
        seen.add(key)
        others = tuple(_path(result, index) for index in binding.other_definitions)
        yield Finding(
            "interposed-symbol",
            RULES["interposed-symbol"].severity,
            _path(result, binding.target),
            f"{readable([os.fsdecode(binding.symbol)])[0]} is also defined by {', '.join(others)}; this definition wins"
            " (first in load order)",
            symbol=os.fsdecode(binding.symbol),
            related=others,
        )


def _unused_and_underlinked(result: LoadResult, report: BindingReport, index: DependencyIndex) -> Iterator[Finding]:
    by_requester: dict[int, list[Binding]] = {}
    for binding in report.bindings:
        by_requester.setdefault(binding.requester, []).append(binding)
    for requester, bindings in by_requester.items():
        targets = {binding.target for binding in bindings if binding.target is not None}
        for edge in index.children[requester]:
            if edge.kind is not DependencyKind.NEEDED or edge.target is None:
                continue
            dependency = result.objects[edge.target]
            if not dependency.found or edge.target in targets:
                continue
            yield Finding(
                "unused-dependency",
                RULES["unused-dependency"].severity,
                _path(result, requester),
                f"nothing is bound from {os.fsdecode(edge.name)} ({dependency.path})",
                library=dependency.path,
                hint="drop the DT_NEEDED (link with -Wl,--as-needed), unless it is needed for its initialisers",
            )
        reported: set[int] = set()
        for binding in bindings:
            target = binding.target
            if target is None or target == 0 or target in reported or binding.weak_reference:
                continue  # a weak reference (e.g. __cxa_finalize) asks for nothing: it is not underlinking
            if index.needs(requester, target) or result.objects[target].via is Via.PRELOAD:
                continue  # its own dependency, or a preload that interposes on purpose
            if any(index.needs(requester, other) for other in binding.other_definitions):
                continue  # interposition: the requester's own dependencies define it too
            reported.add(target)
            spelled = readable([os.fsdecode(binding.symbol)])[0]
            yield Finding(
                "underlinked-symbol",
                RULES["underlinked-symbol"].severity,
                _path(result, requester),
                f"{spelled} binds to {_path(result, target)}, which is not among this"
                " file's own dependencies: it works only where something else loads that library",
                symbol=os.fsdecode(binding.symbol),
                library=_path(result, target),
                hint=f"add {os.path.basename(_path(result, target))} to the DT_NEEDED of this file",
            )


def symbol_findings(
    result: LoadResult,
    report: BindingReport,
    files: FileCache,
    target: TargetSystem,
    archives: ArchiveIndex | None = None,
) -> list[Finding]:
    return [
        *_missing_symbols(result, report, files, target, archives),
        *_missing_versions(result, report),
        *_interposed(result, report),
        *_unused_and_underlinked(result, report, DependencyIndex(result)),
    ]
