"""The JSON report (a contract: DESIGN.md §3.3, schema ``elfdeps/schemas/report-v1.schema.json``).

Names are bytes inside elfdeps; here they become str with ``os.fsdecode`` (surrogate escapes), which
json.dumps writes as ``\\udcXX`` escapes, so a non-UTF-8 name survives a round trip.
"""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from elfdeps import __version__
from elfdeps.model import Attempt, LoadedObject, LoadResult

__all__ = ["SCHEMA_VERSION", "file_report", "write_audit_report", "write_report"]

SCHEMA_VERSION = 1


def _attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "path": attempt.path,
        "directory": attempt.directory,
        "source": attempt.source.value,
        "owner": attempt.owner,
        "outcome": attempt.outcome.value,
        "detail": attempt.detail,
    }


def _object(obj: LoadedObject, result: LoadResult) -> dict[str, Any]:
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
    return entry


def _tree(result: LoadResult) -> dict[str, Any]:
    """The DT_NEEDED tree, each object expanded once, under the entry that loaded it."""
    children: dict[int, list[Any]] = {}
    for edge in result.edges:
        children.setdefault(edge.requester, []).append(edge)
    expanded: set[int] = set()

    def node(index: int, name: str, kind: str, reused: bool, shadowed: str | None, expand: bool) -> dict[str, Any]:
        obj = result.objects[index]
        entry: dict[str, Any] = {
            "name": name,
            "path": obj.path,
            "found": obj.found,
            "via": obj.via.value if obj.via is not None else None,
            "kind": kind,
            "reused": reused,
            "shadowed_by": shadowed,
            "children": [],
        }
        if expand and obj.found and index not in expanded:
            expanded.add(index)
            for edge in children.get(index, []):
                if edge.target is None:
                    continue
                loads_it = result.objects[edge.target].needed_by == index
                entry["children"].append(
                    node(
                        edge.target,
                        os.fsdecode(edge.name),
                        edge.kind.value,
                        edge.reused,
                        edge.shadowed_path,
                        loads_it,
                    )
                )
        return entry

    return node(0, result.main_path, "main", False, None, True)


def _strings(value: bytes | None, separator: bytes = b":") -> list[str]:
    return [os.fsdecode(part) for part in value.split(separator)] if value is not None else []


def file_report(result: LoadResult) -> dict[str, Any]:
    main = result.main
    elf = main.elf
    assert elf is not None
    dynamic = elf.dynamic
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
        "interpreter": os.fsdecode(elf.interpreter) if elf.interpreter else None,
        "elf_class": elf.elf_class_bits,
        "machine": elf.machine_name,
        "soname": os.fsdecode(dynamic.soname) if dynamic is not None and dynamic.soname is not None else None,
        "needed": [os.fsdecode(n) for n in dynamic.needed] if dynamic is not None else [],
        "rpath": _strings(dynamic.rpath if dynamic is not None else None),
        "runpath": _strings(dynamic.runpath if dynamic is not None else None),
        "flags": list(dynamic.flag_names()) if dynamic is not None else [],
        "objects": [_object(obj, result) for obj in result.objects],
        "load_error": (
            {"name": error.name, "path": error.path, "message": error.message} if error is not None else None
        ),
        "tree": _tree(result),
        "notes": notes,
    }


def _environment(result: LoadResult) -> dict[str, Any]:
    target = result.target
    if target is None:
        return {}
    return {
        "root": target.fs.root,
        "default_dirs": list(target.default_dirs),
        "lib": target.dst_lib,
        "platform": target.platform,
        "hwcaps": [p.split("/")[1] for p in target.hwcaps_subdirs],
        "glibc_version": ".".join(map(str, target.glibc_version)) if target.glibc_version else None,
        "cache": target.cache_source,
    }


def write_report(command: str, results: list[LoadResult], out: TextIO, extra: dict[str, Any] | None = None) -> None:
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "elfdeps", "version": __version__},
        "command": command,
        "environment": _environment(results[0]) if results else {},
        "files": [file_report(result) for result in results],
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
    for key in ("symbol", "version", "library", "subject", "hint", "entry"):
        value = getattr(finding, key)
        if value is not None:
            entry[key] = value
    if finding.related:
        entry["related"] = list(finding.related)
    return entry


def write_audit_report(report: Any, out: TextIO) -> None:
    """The audit as JSON: every analysed file's report, then the findings (ignores and baseline applied)."""
    results = [entry.result for entry in report.entries if entry.result is not None]
    files = []
    for entry in report.entries:
        if entry.result is None:
            continue
        file_entry = file_report(entry.result)
        file_entry["required_versions"] = dict(sorted(entry.highest_versions.items()))
        files.append(file_entry)
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "elfdeps", "version": __version__},
        "command": "audit",
        "environment": _environment(results[0]) if results else {},
        "files": files,
        "findings": [_finding(finding) for finding in report.findings],
        "suppressed": report.suppressed,
    }
    json.dump(document, out, indent=2)
    out.write("\n")
