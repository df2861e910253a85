"""Text renderings of a load: ``list`` (ldd's lines, a contract: DESIGN.md §3.1) and ``tree``
(lddtree's layout with provenance labels and, for each library not found, the places tried).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple, TextIO

from elfdeps.model import Attempt, DependencyKind, Edge, LoadedObject, LoadResult, Outcome, Via

__all__ = ["Palette", "render_list", "render_tree", "via_label"]


class Palette(NamedTuple):
    """ANSI colours, or none (NO_COLOR, not a tty)."""

    enabled: bool = False

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bad(self, text: str) -> str:
        return self._wrap("1;31", text)

    def warn(self, text: str) -> str:
        return self._wrap("33", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def name(self, text: str) -> str:
        return self._wrap("1", text)


_LABELS = {
    Via.RUNPATH: "runpath",
    Via.LD_LIBRARY_PATH: "LD_LIBRARY_PATH",
    Via.LD_SO_CACHE: "ld.so.cache",
    Via.DEFAULT: "default",
    Via.DIRECT: "direct",
    Via.PRELOAD: "preload",
    Via.INTERPRETER: "interpreter",
    Via.MAIN: "main",
}


def via_label(obj: LoadedObject, requester: LoadedObject | None) -> str:
    """``[rpath]``, ``[rpath of libfoo.so]``, ``[runpath]``, ... without the brackets."""
    if obj.via is Via.RPATH:
        if requester is not None and obj.via_owner == requester.path:
            return "rpath"
        owner = os.path.basename(obj.via_owner or "") or "?"
        return f"rpath of {owner}"
    if obj.via is None:
        return "not found"
    return _LABELS[obj.via]


def render_list(result: LoadResult, out: TextIO) -> None:
    """ldd's trace lines without load addresses and the vDSO line."""
    lines = 0
    for obj in result.objects[1:]:
        name = obj.display_name
        if not obj.found:
            out.write(f"\t{name} => not found\n")
        elif obj.path == name:
            out.write(f"\t{name}\n")
        else:
            out.write(f"\t{name} => {obj.path}\n")
        lines += 1
    if lines == 0 and result.error is None:
        out.write("\tstatically linked\n")  # what ld.so prints when nothing but the file itself loads


def _describe_attempt(attempt: Attempt) -> str:
    source = _LABELS.get(attempt.source, attempt.source.value)
    if attempt.source is Via.RPATH:
        source = "rpath"
    if attempt.owner:
        source += f" of {os.path.basename(attempt.owner) or attempt.owner}"
    outcome = {
        Outcome.ABSENT: "no such file",
        Outcome.NO_DIRECTORY: "no such directory",
        Outcome.WRONG_CLASS: "skipped",
        Outcome.WRONG_MACHINE: "skipped",
        Outcome.REJECTED_NODEFLIB: "refused",
        Outcome.ERROR: "error",
        Outcome.FOUND: "found",
    }[attempt.outcome]
    detail = f" ({attempt.detail})" if attempt.detail and attempt.outcome is not Outcome.NO_DIRECTORY else ""
    return f"{attempt.path}  [{source}]: {outcome}{detail}"


def _missing_details(obj: LoadedObject, result: LoadResult, palette: Palette) -> Iterator[str]:
    if not obj.attempts:
        yield palette.dim("no place to search: no RUNPATH, no LD_LIBRARY_PATH, no cache entry, no default dirs")
    else:
        yield palette.dim("searched, in order:")
        # A cache miss leaves no candidate path: say where in the order the cache was asked.
        cache_asked = (
            result.target is not None
            and result.target.cache is not None
            and b"/" not in obj.name
            and not any(attempt.source is Via.LD_SO_CACHE for attempt in obj.attempts)
        )
        for attempt in obj.attempts:
            if cache_asked and attempt.source is Via.DEFAULT:
                yield "  " + palette.dim(f"ld.so.cache: no entry for {obj.display_name}")
                cache_asked = False
            text = _describe_attempt(attempt)
            if attempt.outcome in (Outcome.WRONG_CLASS, Outcome.WRONG_MACHINE, Outcome.ERROR):
                text = palette.warn(text)
            yield "  " + text
        if cache_asked:
            yield "  " + palette.dim(f"ld.so.cache: no entry for {obj.display_name}")
    if obj.nearby:
        for match in obj.nearby:
            verdict = "" if match.suitable else palette.warn(" (wrong class or machine: would not fix it)")
            yield f"found elsewhere: {match.path}{verdict}"
            if match.note:
                yield palette.warn(f"  {match.note}")
            if match.suitable:
                yield palette.dim(f"  fix: LD_LIBRARY_PATH={match.ld_library_path}")
                yield palette.dim(f"   or: RUNPATH {match.runpath} in the requester (patchelf --add-rpath)")
    elif not obj.required:
        yield palette.dim("a DT_AUXILIARY filtee: the loader ignores its absence")


def _object_line(edge_name: str, obj: LoadedObject, label: str, palette: Palette) -> str:
    if not obj.found:
        return f"{palette.name(edge_name)} => {palette.bad('not found')}"
    return f"{palette.name(edge_name)} => {obj.path} {palette.dim('[' + label + ']')}"


def render_tree(result: LoadResult, out: TextIO, palette: Palette, show_all: bool = False) -> None:
    main = result.main
    interpreter = next((obj for obj in result.objects if obj.via is Via.INTERPRETER), None)
    elf = main.elf
    header = palette.name(result.main_path)
    if elf is not None and elf.interpreter:
        header += f" (interpreter => {os.fsdecode(elf.interpreter)})"
    elif interpreter is not None:
        header += f" (interpreter => {interpreter.path})"
    out.write(header + "\n")
    if elf is not None and elf.dynamic is None:
        out.write("    statically linked\n")
    children: dict[int, list[Edge]] = {}
    for edge in result.edges:
        children.setdefault(edge.requester, []).append(edge)
    expanded: set[int] = set()

    def walk(index: int, depth: int, ancestors: tuple[int, ...]) -> None:
        for edge in children.get(index, []):
            if edge.target is None:
                continue
            obj = result.objects[edge.target]
            requester = result.objects[edge.requester]
            indent = "    " * depth
            name = os.fsdecode(edge.name)
            label = via_label(obj, requester)
            if edge.kind is not DependencyKind.NEEDED:
                label = f"{edge.kind.value}, {label}"
            line = _object_line(name, obj, label, palette)
            if edge.target in ancestors:
                out.write(f"{indent}{line} {palette.warn('(cycle)')}\n")
                continue
            out.write(f"{indent}{line}\n")
            if not obj.found:
                for detail in _missing_details(obj, result, palette):
                    out.write(f"{indent}    {detail}\n")
                continue
            if edge.shadowed_path:
                out.write(
                    f"{indent}    "
                    + palette.warn(
                        f"shadowed: {os.path.basename(requester.path or '')}'s own search finds"
                        f" {edge.shadowed_path}, but the loader reuses the already-loaded {obj.path}"
                    )
                    + "\n"
                )
            loading_edge = obj.needed_by == edge.requester and edge.target not in expanded
            if loading_edge or show_all:
                expanded.add(edge.target)
                walk(edge.target, depth + 1, (*ancestors, edge.target))

    walk(0, 1, (0,))
    if result.error is not None:
        error = result.error
        where = f" ({error.path})" if error.path and error.path != error.name else ""
        out.write(palette.bad(f"    loading stops: {error.name}{where}: {error.message}") + "\n")
    for warning in result.warnings:
        out.write(palette.warn(f"    {warning}") + "\n")
