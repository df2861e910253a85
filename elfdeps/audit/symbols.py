"""Findings about symbol binding: missing-symbol, missing-version, interposed-symbol,
unused-dependency, underlinked-symbol. They read the emulated start and its BindingReport."""

from __future__ import annotations

import os
from collections.abc import Iterator

from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.binding import Binding, BindingReport, VersionProblemKind, definitions
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.elf.relocations import RelocClass
from elfdeps.errors import ElfFormatError
from elfdeps.model import DependencyKind, LoadResult, Via

__all__ = ["symbol_findings"]

STB_LOCAL = 0
STV_HIDDEN, STV_INTERNAL = 2, 1


def _path(result: LoadResult, index: int) -> str:
    return result.objects[index].path or result.main_path


def _where_hidden(result: LoadResult, name: bytes) -> list[str]:
    """Loaded objects that define ``name`` but keep it local or hidden (.dynsym, else .symtab)."""
    hidden = {
        definition.object
        for definition in definitions(result, name)
        if not definition.exported or definition.symbol.hidden_version
    }
    places = []
    for obj in result.objects:
        if obj.index in hidden:
            places.append(obj.path or "")
        elif obj.found and obj.elf is not None:
            try:
                local = obj.elf.static_definitions.get(name)
            except ElfFormatError:
                continue
            if local is not None and (local[0] == STB_LOCAL or local[1] in (STV_HIDDEN, STV_INTERNAL)):
                places.append(obj.path or "")
    return places


MAX_NEIGHBOURS = 200


def _unloaded_definers(result: LoadResult, requester: int, name: bytes, files: FileCache) -> list[str]:
    """Shared libraries next to the requester (or the audited file) that export ``name`` but are not
    loaded: a build tree's forgotten library. System directories are not scanned (too big to matter)."""
    target = result.target
    system = {d.rstrip("/") for d in target.default_dirs} | set(target.conf_dirs) if target is not None else set()
    loaded = {os.path.realpath(obj.host_path) for obj in result.objects if obj.host_path}
    directories = {
        os.path.dirname(result.objects[requester].host_path or result.main_path),
        os.path.dirname(result.main_path),
    }
    found = []
    for directory in sorted(directories - system):
        for path in _neighbour_libraries(directory or "."):
            if os.path.realpath(path) in loaded:
                continue
            if name in _exports(path, files):
                found.append(path)
    return found


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


def _missing_symbols(result: LoadResult, report: BindingReport, files: FileCache) -> Iterator[Finding]:
    scope = [os.path.basename(obj.path or result.main_path) for obj in result.objects if obj.found]
    searched = ", ".join(scope[:8]) + (f" and {len(scope) - 8} more" if len(scope) > 8 else "")
    seen: set[tuple[int, bytes, bytes | None]] = set()
    for binding in report.bindings:
        if not binding.fails:
            continue
        key = (binding.requester, binding.symbol, binding.version)
        if key in seen:
            continue
        seen.add(key)
        name = os.fsdecode(binding.symbol)
        version = os.fsdecode(binding.version) if binding.version else None
        shown = f"{name}@{version}" if version else name
        if binding.reloc_class is RelocClass.UNKNOWN:
            when = "fails at start-up or when first called (elfdeps does not know this machine's relocation types)"
        elif binding.lazy:
            when = "fails when first called (lazy binding; at start-up with LD_BIND_NOW or -z now)"
        else:
            when = "fails at start-up"
        hidden = _where_hidden(result, binding.symbol)
        unloaded = _unloaded_definers(result, binding.requester, binding.symbol, files)
        detail = f"; defined but not exported (local or hidden) in {', '.join(hidden)}" if hidden else ""
        if unloaded:
            detail += f"; exported by {', '.join(unloaded)}, which nothing loads"
        yield Finding(
            "missing-symbol",
            RULES["missing-symbol"].severity,
            _path(result, binding.requester),
            f"undefined symbol {shown}: defined by none of the {len(scope)} objects searched ({searched});"
            f" {when}{detail}",
            symbol=name,
            version=version,
            related=(*hidden, *unloaded),
            hint=(
                "link the library that defines it (a static archive from a build script, a missing -l), "
                "or add it to the requester's DT_NEEDED"
            ),
        )


def _missing_versions(result: LoadResult, report: BindingReport) -> Iterator[Finding]:
    for problem in report.version_problems:
        library = result.objects[problem.library]
        version = os.fsdecode(problem.version)
        users = ", ".join(os.fsdecode(name) for name in problem.symbols[:8])
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
            f"{os.fsdecode(binding.symbol)} is also defined by {', '.join(others)}; this definition wins"
            " (first in load order)",
            symbol=os.fsdecode(binding.symbol),
            related=others,
        )


def _needed_closure(result: LoadResult, start: int) -> set[int]:
    closure = {start}
    pending = [start]
    while pending:
        current = pending.pop()
        for edge in result.edges_from(current):
            if edge.target is not None and edge.target not in closure and edge.kind is not DependencyKind.PRELOAD:
                closure.add(edge.target)
                pending.append(edge.target)
    return closure


def _unused_and_underlinked(result: LoadResult, report: BindingReport) -> Iterator[Finding]:
    by_requester: dict[int, list[Binding]] = {}
    for binding in report.bindings:
        by_requester.setdefault(binding.requester, []).append(binding)
    for requester, bindings in by_requester.items():
        targets = {binding.target for binding in bindings if binding.target is not None}
        for edge in result.edges_from(requester):
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
        closure = _needed_closure(result, requester)
        reported: set[int] = set()
        for binding in bindings:
            target = binding.target
            if target is None or target in closure or target == 0 or target in reported or binding.weak_reference:
                continue  # a weak reference (e.g. __cxa_finalize) asks for nothing: it is not underlinking
            if result.objects[target].via is Via.PRELOAD:
                continue  # a preload interposes on purpose
            if any(other in closure for other in binding.other_definitions):
                continue  # interposition: the requester's own dependencies define it too
            reported.add(target)
            yield Finding(
                "underlinked-symbol",
                RULES["underlinked-symbol"].severity,
                _path(result, requester),
                f"{os.fsdecode(binding.symbol)} binds to {_path(result, target)}, which is not among this"
                " file's own dependencies: it works only where something else loads that library",
                symbol=os.fsdecode(binding.symbol),
                library=_path(result, target),
                hint=f"add {os.path.basename(_path(result, target))} to the DT_NEEDED of this file",
            )


def symbol_findings(result: LoadResult, report: BindingReport, files: FileCache) -> list[Finding]:
    return [
        *_missing_symbols(result, report, files),
        *_missing_versions(result, report),
        *_interposed(result, report),
        *_unused_and_underlinked(result, report),
    ]
