"""Rust facts as JSON (schema ``report-v2``, ``$defs/rust_label`` and ``$defs/crates``): the ``rust``
label of a loaded object (``tree``/``list`` ``--json``), and the ``crates`` report of one analysed file.

Objects are named by their index in the file's ``objects`` list (the load order). Symbol names are
the raw ones, each with its ``demangled`` spelling beside it. Bytes that are not UTF-8 are kept as
``os.fsdecode`` surrogate escapes, as everywhere in the report.

Public API: :func:`rust_label`, :func:`crate_json`, :func:`crates_json`.
"""

from __future__ import annotations

import os

from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from elfdeps.model import LoadResult
    from elfdeps.rust.crates import CrateBuild, CrateReport, ImportSite, ObjectCrates
    from elfdeps.rust.mangling import Crate
    from elfdeps.rust.objects import RustFacts
    from elfdeps.rust.problems import Holder, Problem

__all__ = ["crate_json", "crates_json", "rust_label"]


def crate_json(crate: Crate | None) -> dict[str, Any] | None:
    """``{"name": "std", "stable_crate_id": "e28293b1aa0f68bd"}``; the id is null for legacy names."""
    if crate is None:
        return None
    return {
        "name": os.fsdecode(crate.name),
        "stable_crate_id": f"{crate.scid:016x}" if crate.scid is not None else None,
    }


def rust_label(facts: RustFacts) -> dict[str, Any]:
    """A loaded Rust object's kind, crate identity and the rustc releases that built it."""
    return {
        "kind": facts.kind.value,
        "crate": crate_json(facts.crate),
        "rustc": [os.fsdecode(version) for version in facts.versions],
    }


def _names(names: tuple[bytes, ...]) -> list[dict[str, str]]:
    from elfdeps.rust.demangle import demangle_all

    return [
        {"name": os.fsdecode(name), "demangled": os.fsdecode(spelled)}
        for name, spelled in zip(names, demangle_all(names), strict=True)
    ]


def _holder(holder: Holder) -> dict[str, Any]:
    return {
        "object": holder.object,
        "own": holder.identity,
        "exported": holder.exported,
        "private": holder.private,
        "statics": _names(tuple(static.name for static in holder.statics)),
    }


def _site(site: ImportSite) -> dict[str, Any]:
    return {
        "object": site.object,
        "names": _names(site.names),
        "bound_to": [{"object": target, "references": count} for target, count in site.bound_to],
    }


def _build(build: CrateBuild) -> dict[str, Any]:
    return {
        "crate": crate_json(build.crate),
        "holders": [_holder(holder) for holder in build.holders],
        "importers": [_site(site) for site in build.importers],
    }


def _object(item: ObjectCrates, result: LoadResult) -> dict[str, Any]:
    return {
        "object": item.object,
        "path": result.objects[item.object].path,
        **rust_label(item.facts),
        "runtime": item.defines.runtime if item.defines is not None else None,
        "unparsed": item.imports.unparsed + (item.defines.unparsed if item.defines is not None else 0),
    }


def _problem(problem: Problem, result: LoadResult) -> dict[str, Any]:
    from elfdeps.rust.describe import problem_kind, problem_objects, problem_text
    from elfdeps.rust.problems import CrateMismatch, CrateTwoBuilds, DuplicatedCrate, SonameMismatch, ToolchainMix

    entry: dict[str, Any] = {
        "kind": problem_kind(problem),
        "level": problem.level.value,
        "objects": list(problem_objects(problem)),
        "message": problem_text(problem, result),
    }
    if isinstance(problem, DuplicatedCrate):
        entry["crates"] = [crate_json(problem.crate), *(crate_json(crate) for crate in problem.folded)]
        entry["exported_by"] = list(problem.exported_by)
        entry["cross_bindings"] = problem.cross_bindings
        entry["examples"] = _names(problem.examples)
        entry["statics"] = _names(problem.statics)
    elif isinstance(problem, CrateTwoBuilds):
        entry["crates"] = [crate_json(crate) for crate, _ in problem.builds]
        entry["statics"] = _names(problem.statics)
    elif isinstance(problem, CrateMismatch):
        entry["crates"] = [crate_json(problem.expected), *(crate_json(crate) for crate, _ in problem.loaded)]
        entry["unresolved"] = problem.unresolved
        entry["examples"] = _names(problem.examples)
    elif isinstance(problem, ToolchainMix):
        entry["releases"] = [{"rustc": os.fsdecode(v), "objects": list(where)} for v, where in problem.versions]
        entry["links"] = [list(link) for link in problem.links]
    elif isinstance(problem, SonameMismatch):
        entry["file_name"] = os.fsdecode(problem.file_name)
        entry["soname"] = os.fsdecode(problem.soname) if problem.soname is not None else None
    return entry


def crates_json(result: LoadResult, report: CrateReport) -> dict[str, Any]:
    """The ``crates`` entry of one analysed file."""
    return {
        "path": result.main_path,
        "complete": report.complete,
        "objects": [_object(item, result) for item in report.objects],
        "builds": [_build(build) for build in report.builds],
        "problems": [_problem(problem, result) for problem in report.problems],
        "unreadable": [{"object": index, "error": error} for index, error in report.unreadable],
    }
