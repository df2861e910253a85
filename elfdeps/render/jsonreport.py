"""The JSON report (a contract: DESIGN.md §3.3, schema ``elfdeps/schemas/report-v2.schema.json``).

Names are bytes inside elfdeps; here they become str with ``os.fsdecode`` (surrogate escapes), which
json.dumps writes as ``\\udcXX`` escapes, so a non-UTF-8 name survives a round trip.
"""

from __future__ import annotations

import itertools
import json
import os

from elfdeps import __version__
from elfdeps.depgraph.tree import DependencyIndex, dependency_tree
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import Attempt, LoadedObject, LoadResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any, TextIO

    from elfdeps.advice.fix import CombinedFix
    from elfdeps.audit.runner import EntryOutcome, FindingCollector
    from elfdeps.rust.objects import RustFacts

__all__ = ["SCHEMA_VERSION", "file_report", "write_audit_report", "write_report"]

SCHEMA_VERSION = 2  # 2: the tree is a flat node list (no nesting), objects are linked by edges


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "path": attempt.path,
        "directory": attempt.directory,
        "source": attempt.source.value,
        "owner": attempt.owner,
        "outcome": attempt.outcome.value,
        "detail": attempt.detail,
    }


def _object(obj: LoadedObject, result: LoadResult, rust: RustFacts | None = None) -> dict[str, Any]:
    needed_by = result.objects[obj.needed_by].path if obj.needed_by is not None else None
    entry: dict[str, Any] = {
        "name": obj.display_name,
        "path": obj.path,
        "found": obj.found,
        "via": obj.via.value if obj.via is not None else None,
        "via_owner": obj.via_owner,
        "needed_by": needed_by,
        "depth": obj.depth,
        "soname": os.fsdecode(obj.soname) if obj.soname is not None else None,
        "required": obj.required,
        "searched": [_attempt(attempt) for attempt in obj.attempts],
    }
    if rust is not None:
        from elfdeps.render.crates_json import rust_label

        entry["rust"] = rust_label(rust)
    if not obj.found:
        entry["nearby"] = [
            {
                "path": m.path,
                "suitable": m.suitable,
                "ld_library_path": m.ld_library_path,
                "runpath": m.runpath,
                "note": m.note,
            }
            for m in obj.nearby
        ]
        if obj.note is not None:
            entry["note"] = obj.note
    return entry


def _tree(result: LoadResult, index: DependencyIndex, full: bool) -> dict[str, Any]:
    """The dependency tree as a flat list in pre-order, each node naming its parent's position: no
    nesting, so a chain ten thousand deep is as easy to read back as a flat one (schema v2)."""
    nodes, truncated = dependency_tree(result, index, full=full)
    entries = []
    for node in nodes:
        obj = result.objects[node.object]
        edge = node.edge
        entries.append(
            {
                "parent": node.parent,
                "depth": node.depth,
                "object": node.object,
                "name": os.fsdecode(edge.name) if edge is not None else result.main_path,
                "path": obj.path,
                "found": obj.found,
                "via": obj.via.value if obj.via is not None else None,
                "kind": edge.kind.value if edge is not None else "main",
                "role": node.role.value,
                "reused": edge.reused if edge is not None else False,
                "shadowed_by": edge.shadowed_path if edge is not None else None,
            }
        )
    return {"full": full, "truncated": truncated, "nodes": entries}


def _edges(result: LoadResult) -> list[dict[str, Any]]:
    return [
        {
            "requester": edge.requester,
            "target": edge.target,
            "kind": edge.kind.value,
            "name": os.fsdecode(edge.name),
            "raw_name": os.fsdecode(edge.raw_name),
            "reused": edge.reused,
            "shadowed_by": edge.shadowed_path,
        }
        for edge in result.edges
    ]


def _strings(value: bytes | None, separator: bytes = b":") -> list[str]:
    return [os.fsdecode(part) for part in value.split(separator)] if value is not None else []


def _fix(fix: CombinedFix) -> dict[str, Any]:
    return {
        "ld_library_path": fix.ld_library_path,
        "directories": list(fix.directories),
        "missing": list(fix.missing),
        "still_missing": list(fix.still_missing),
        "complete": fix.complete,
        "secure": fix.secure,
        "cargo_target": fix.cargo_target,
    }


def file_report(
    result: LoadResult,
    *,
    full_tree: bool = False,
    fix: CombinedFix | None = None,
    rust: Mapping[int, RustFacts] | None = None,
) -> dict[str, Any]:
    """One analysed file; ``rust``: the Rust objects' facts (elfdeps.rust.labels), as each object's ``rust``."""
    facts = result.main.facts
    assert facts is not None, "the main file of a result was read"
    index = DependencyIndex(result)
    notes = [
        {
            "kind": "shadowed",
            "requester": result.objects[edge.requester].path,
            "name": os.fsdecode(edge.name),
            "loaded": result.objects[edge.target].path if edge.target is not None else None,
            "own_search": edge.shadowed_path,
        }
        for edge in result.edges
        if edge.shadowed_path
    ]
    notes += [{"kind": "preload", "message": warning} for warning in result.warnings]
    error = result.error
    return {
        "path": result.main_path,
        "interpreter": os.fsdecode(facts.interpreter) if facts.interpreter else None,
        "elf_class": facts.elf_class,
        "machine": facts.machine,
        "soname": os.fsdecode(facts.soname) if facts.soname is not None else None,
        "needed": [os.fsdecode(name) for name in facts.needed],
        "rpath": _strings(facts.rpath),
        "runpath": _strings(facts.runpath),
        "flags": list(facts.flags),
        "objects": [_object(obj, result, rust.get(obj.index) if rust else None) for obj in result.objects],
        "edges": _edges(result),
        "load_error": (
            {"name": error.name, "path": error.path, "message": error.message} if error is not None else None
        ),
        "tree": _tree(result, index, full_tree),
        "notes": notes,
        **({"fix": _fix(fix)} if fix is not None else {}),
    }


def _environment(result: LoadResult) -> dict[str, Any]:
    system = result.system
    if system is None:
        return {}
    return {
        "root": system.root,
        "default_dirs": list(system.default_dirs),
        "lib": system.dst_lib,
        "platform": system.platform,
        "hwcaps": list(system.hwcaps),
        "glibc_version": ".".join(map(str, system.glibc_version)) if system.glibc_version else None,
        "cache": system.cache,
    }


def write_report(
    command: str,
    results: list[LoadResult],
    out: TextIO,
    extra: dict[str, Any] | None = None,
    *,
    full_tree: bool = False,
    fixes: list[CombinedFix | None] | None = None,
    rust: list[dict[int, RustFacts]] | None = None,
) -> None:
    fixes = fixes or [None] * len(results)
    labels = rust or [{}] * len(results)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "elfdeps", "version": __version__},
        "command": command,
        "environment": _environment(results[0]) if results else {},
        "files": [
            file_report(result, full_tree=full_tree, fix=fix, rust=found)
            for result, fix, found in zip(results, fixes, labels, strict=True)
        ],
    }
    if extra:
        report.update(extra)
    json.dump(report, out, indent=2)
    out.write("\n")


def _finding(finding: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "object": finding.object,
        "message": finding.message,
    }
    for key in ("symbol", "version", "library", "subject", "hint", "entry", "crate"):
        value = getattr(finding, key)
        if value is not None:
            entry[key] = value
    if finding.related:
        entry["related"] = list(finding.related)
    if finding.folded:
        entry["folded"] = finding.folded
    return entry


def _indented(value: Any, level: int) -> str:
    """``value`` as json.dump(indent=2) writes it ``level`` levels deep."""
    return json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)


def write_audit_report(entries: Iterable[EntryOutcome], collector: FindingCollector, out: TextIO) -> list[EntryOutcome]:
    """The audit as JSON, written while the entries arrive so that memory stays flat however many
    files there are: every analysed file's report, then the findings (ignores and baseline applied).
    The bytes are json.dump(document, indent=2)'s. Returns the entries without their load results."""
    kept: list[EntryOutcome] = []
    waiting: list[EntryOutcome] = []  # entries met before the first one with a result (for environment)
    iterator = iter(entries)
    for entry in iterator:
        collector.add(entry)
        waiting.append(entry)
        if entry.result is not None:
            break
    first = next((entry.result for entry in waiting if entry.result is not None), None)
    out.write("{\n")
    out.write(f'  "schema_version": {SCHEMA_VERSION},\n')
    out.write(f'  "tool": {_indented({"name": "elfdeps", "version": __version__}, 1)},\n')
    out.write('  "command": "audit",\n')
    out.write(f'  "environment": {_indented(_environment(first) if first is not None else {}, 1)},\n')
    out.write('  "files": [')
    written = 0
    for entry in itertools.chain(waiting, _collected(iterator, collector)):
        if entry.result is not None:
            file_entry = file_report(entry.result)
            file_entry["required_versions"] = dict(sorted(entry.highest_versions.items()))
            out.write(("," if written else "") + "\n    " + _indented(file_entry, 2))
            written += 1
        kept.append(entry._replace(result=None))
    out.write("\n  ],\n" if written else "],\n")
    findings = [_finding(finding) for finding in collector.unique.values()]
    out.write(f'  "findings": {_indented(findings, 1)},\n')
    out.write(f'  "suppressed": {collector.suppressed},\n')
    out.write(f'  "toolchain_findings": {len(collector.in_toolchains)},\n')
    skipped = {
        "copies": [list(pair) for pair in collector.walk.copies],
        "build_scripts": list(collector.walk.build_scripts),
    }
    out.write(f'  "skipped": {_indented(skipped, 1)}\n')
    out.write("}\n")
    return kept


def _collected(entries: Iterator[EntryOutcome], collector: FindingCollector) -> Iterator[EntryOutcome]:
    for entry in entries:
        collector.add(entry)
        yield entry
