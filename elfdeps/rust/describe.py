"""One line of plain text per Rust problem of a loaded program (:mod:`elfdeps.rust.problems`), for the
``crates`` view (text and JSON) and the groups of ``graph``: what is duplicated or mixed, and where.

The lines are plain ``str`` built from names read from files (``os.fsdecode``): a text renderer passes
them through ``shown`` before they reach a terminal; JSON escapes on its own. Examples are demangled
(display only). The advice that goes with a problem (what to change) is the audit's, not this module's.

Public API: :func:`problem_kind`, :func:`problem_objects`, :func:`problem_text`, :func:`crate_text`,
:func:`object_name`.
"""

from __future__ import annotations

import os

from elfdeps.facts import TYPE_CHECKING
from elfdeps.rust.demangle import demangle
from elfdeps.rust.problems import (
    CrateMismatch,
    CrateTwoBuilds,
    DuplicatedCrate,
    Level,
    Problem,
    SonameMismatch,
    ToolchainMix,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from elfdeps.model import LoadResult
    from elfdeps.rust.mangling import Crate

__all__ = ["crate_text", "object_name", "problem_kind", "problem_objects", "problem_text"]

_KINDS = {  # the DESIGN.md §3.4 rule each problem class becomes in an audit
    DuplicatedCrate: "duplicate-crate",
    CrateTwoBuilds: "crate-two-builds",
    CrateMismatch: "crate-mismatch",
    ToolchainMix: "rust-toolchain-mix",
    SonameMismatch: "soname-mismatch",
}
_RUNTIME_EFFECTS = "panic hook, thread-locals, ThreadId counter, stdout buffer and allocator per copy"


def problem_kind(problem: Problem) -> str:
    return _KINDS[type(problem)]


def crate_text(crate: Crate) -> str:
    """``std[e28293b1aa0f68bd]``; a crate known by name only (legacy names) is its name alone."""
    name = os.fsdecode(crate.name)
    return name if crate.scid is None else f"{name}[{crate.scid:016x}]"


def object_name(result: LoadResult, index: int) -> str:
    """An object as the lines name it: its file name (the path is in the JSON)."""
    obj = result.objects[index]
    return os.path.basename(obj.path or "") or obj.display_name


def _names(result: LoadResult, indices: Iterable[int]) -> str:
    return ", ".join(object_name(result, index) for index in indices)


def _release(version: bytes) -> str:
    return os.fsdecode(version.split(b" ", 1)[0])


def _example(names: tuple[bytes, ...]) -> str:
    return f", e.g. {os.fsdecode(demangle(names[0]))}" if names else ""


def problem_objects(problem: Problem) -> tuple[int, ...]:
    """The objects a problem is about, in load order, each once."""
    if isinstance(problem, DuplicatedCrate):
        found = [holder.object for holder in problem.holders]
    elif isinstance(problem, CrateTwoBuilds):
        found = [index for _, where in problem.builds for index in where]
    elif isinstance(problem, CrateMismatch):
        found = [problem.importer, *(index for _, where in problem.loaded for index in where)]
    elif isinstance(problem, ToolchainMix):
        found = [index for _, where in problem.versions for index in where]
    else:
        found = [problem.object]
    return tuple(sorted(set(found)))


def problem_text(problem: Problem, result: LoadResult) -> str:
    """The problem in one line (no level, no trailing newline)."""
    if isinstance(problem, DuplicatedCrate):
        return _duplicated(problem, result)
    if isinstance(problem, CrateTwoBuilds):
        builds = "; ".join(f"{crate_text(crate)} in {_names(result, where)}" for crate, where in problem.builds)
        versions = sorted({os.fsdecode(v) for _, found in problem.versions for v in found})
        text = f"{len(problem.builds)} builds of {os.fsdecode(problem.name)} loaded: {builds}"
        if versions:
            text += f" (versions {', '.join(versions)})"
        if problem.statics:
            text += f"; each with its own mutable statics{_example(problem.statics)}"
        return text
    if isinstance(problem, CrateMismatch):
        loaded = "; ".join(f"{crate_text(crate)} in {_names(result, where)}" for crate, where in problem.loaded)
        text = (
            f"{object_name(result, problem.importer)} expects {crate_text(problem.expected)}, which nothing loaded"
            f" provides ({problem.unresolved} references{_example(problem.examples)}), but {loaded} is loaded"
        )
        theirs = [v for v in problem.loaded_versions if v not in problem.expected_versions]
        if problem.expected_versions and theirs:
            text += f" (rustc {_release(problem.expected_versions[0])} vs {_release(theirs[0])})"
        return text
    if isinstance(problem, ToolchainMix):
        releases = "; ".join(f"{_release(v)} ({_names(result, where)})" for v, where in problem.versions)
        text = f"{len(problem.versions)} rustc releases among the Rust objects: {releases}"
        if problem.links:
            links = ", ".join(f"{object_name(result, a)} -> {object_name(result, b)}" for a, b in problem.links)
            text += f"; linked across releases (the Rust ABI is not stable): {links}"
        return text
    soname = os.fsdecode(problem.soname) if problem.soname is not None else "none"
    return f"{os.fsdecode(problem.file_name)} carries SONAME {soname}: another build copied under this file name"


def _duplicated(problem: DuplicatedCrate, result: LoadResult) -> str:
    objects = sorted({holder.object for holder in problem.holders})
    where = f"{len(objects)} objects ({_names(result, objects)})"
    crate = crate_text(problem.crate)
    if problem.runtime and problem.folded:
        crate += f" (with {len(problem.folded)} more std crates: {', '.join(_short(problem.folded))})"
    text = f"{crate} has its own code in {where}"
    if problem.exported_by:
        text += f", exported by {_names(result, problem.exported_by)}"
    if problem.runtime and problem.level is Level.ERROR:
        text += ": one half-shared runtime"
    elif problem.runtime and problem.level is Level.WARNING:
        text += f": separate runtimes ({_RUNTIME_EFFECTS}); only C-ABI data may cross"
    if problem.cross_bindings:
        text += f"; {problem.cross_bindings} references bind from one copy to another{_example(problem.examples)}"
    elif problem.statics and not problem.runtime:
        text += f"; mutable statics{_example(problem.statics)}"
    return text


def _short(crates: tuple[Crate, ...], limit: int = 4) -> list[str]:
    names = [os.fsdecode(crate.name) for crate in crates]
    return names if len(names) <= limit else [*names[:limit], f"{len(names) - limit} more"]
