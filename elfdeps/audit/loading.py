"""Findings about finding libraries: missing-library, incompatible-library, shadowed-library,
needs-environment, loader-error. They read the emulated start (LoadResult) only."""

from __future__ import annotations

import os

from elfdeps.advice.fix import CombinedFix
from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import LoadedObject, LoadResult, NearbyMatch, Outcome, Via

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["loading_findings"]


def _requester(result: LoadResult, obj: LoadedObject) -> LoadedObject:
    return result.objects[obj.needed_by] if obj.needed_by is not None else result.main


def _fix_hint(requester: LoadedObject, best: NearbyMatch, fix: CombinedFix | None) -> str:
    """What to do, in words that add up: the one checked LD_LIBRARY_PATH for the whole program, and
    a lasting fix that no other rule flags (no patchelf on files cargo rebuilds, no absolute RUNPATH
    into a home or a toolchain); then what elfdeps knows of the copy (a stale cache, a toolchain)."""
    run_with = f"LD_LIBRARY_PATH={best.ld_library_path}"
    if fix is not None and fix.directories:
        scope = "every missing library" if fix.complete else f"{len(fix.missing) - len(fix.still_missing)} of them"
        run_with = f"LD_LIBRARY_PATH={fix.ld_library_path} (resolves {scope}, checked)"
    if fix is not None and fix.cargo_target is not None:
        hint = (
            f"a cargo build: `cargo run` and `cargo test` set the path themselves; to run it directly, {run_with};"
            " to ship it, copy the program and the libraries into one directory and give the copy RUNPATH $ORIGIN"
        )
    elif best.runpath.startswith("$ORIGIN"):
        hint = f"run with {run_with}, or give {requester.path} RUNPATH {best.runpath} (patchelf --add-rpath)"
    else:
        hint = f"run with {run_with}, or ship {best.path} next to {requester.path} and give it RUNPATH $ORIGIN"
    return f"{hint}; {best.note}" if best.note else hint


def _missing(result: LoadResult, fix: CombinedFix | None) -> Iterator[Finding]:
    for obj in result.missing:
        requester = _requester(result, obj)
        tried = len(obj.attempts)
        related: tuple[str, ...] = ()
        where = ""
        suitable = [match for match in obj.nearby if match.suitable]
        hint = obj.note
        if suitable:
            best = suitable[0]
            related = tuple(match.path for match in obj.nearby)
            where = f"; a copy is in {os.path.dirname(best.path)}"
            hint = _fix_hint(requester, best, fix)
        yield Finding(
            "missing-library",
            RULES["missing-library"].severity,
            requester.path or result.main_path,
            f"needs {obj.display_name}, which the loader cannot find ({tried} places tried"
            f"{'; elfdeps tree -v lists them' if tried else ''}){where}",
            library=obj.display_name,
            related=related,
            hint=hint,
        )


def _incompatible(result: LoadResult) -> Iterator[Finding]:
    seen: set[tuple[str, str]] = set()
    for obj in result.objects:
        for attempt in obj.attempts:
            if attempt.outcome not in (Outcome.WRONG_CLASS, Outcome.WRONG_MACHINE):
                continue
            requester = _requester(result, obj)
            key = (requester.path or "", attempt.path)
            if key in seen:
                continue
            seen.add(key)
            yield Finding(
                "incompatible-library",
                RULES["incompatible-library"].severity,
                requester.path or result.main_path,
                f"skipped {attempt.path} while looking for {obj.display_name}: {attempt.detail}",
                library=obj.display_name,
                related=(attempt.path,),
                hint="remove the incompatible file or move it out of the search path",
            )


def _shadowed(result: LoadResult) -> Iterator[Finding]:
    for edge in result.edges:
        if not edge.shadowed_path or edge.target is None:
            continue
        requester = result.objects[edge.requester]
        loaded = result.objects[edge.target]
        yield Finding(
            "shadowed-library",
            RULES["shadowed-library"].severity,
            requester.path or result.main_path,
            f"needs {os.fsdecode(edge.name)}: its own search finds {edge.shadowed_path}, but the loader"
            f" reuses the already-loaded {loaded.path}",
            library=os.fsdecode(edge.name),
            related=(edge.shadowed_path, loaded.path or ""),
            hint="two different files answer to one soname; make sure both builds are compatible, or remove one",
        )


def _environment(result: LoadResult) -> Iterator[Finding]:
    for obj in result.objects:
        if obj.via not in (Via.LD_LIBRARY_PATH, Via.PRELOAD):
            continue
        how = "LD_LIBRARY_PATH" if obj.via is Via.LD_LIBRARY_PATH else "a preload"
        yield Finding(
            "needs-environment",
            RULES["needs-environment"].severity,
            result.main_path,
            f"{obj.display_name} resolves only thanks to {how} given for the analysis ({obj.path})",
            library=obj.display_name,
            related=(obj.path or "",),
            hint="add a RUNPATH ($ORIGIN-relative) or install the library where the loader looks",
        )


def loading_findings(result: LoadResult, fix: CombinedFix | None = None) -> list[Finding]:
    findings = [*_missing(result, fix), *_incompatible(result), *_shadowed(result), *_environment(result)]
    if result.error is not None:
        error = result.error
        findings.append(
            Finding(
                "loader-error",
                Severity.ERROR,
                result.main_path,
                f"the loader would stop: {error.subject}: {error.message}",
                library=error.name,
                related=(error.path,) if error.path else (),
            )
        )
    return findings
