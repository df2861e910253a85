"""The text of ``elfdeps crates`` (issue 6 item 5): per loaded Rust object its kind, rustc release,
identity and the crates whose own code it holds; per crate build who imports it and where those
imports bind; then the problems, one line each.

By default the lists stay short enough to read on rustc's own tree (a dylib holding 200 crates): the
largest holdings of each object, and only the builds other objects import; ``verbose`` shows
everything. Every name from a file goes through ``shown``; symbol names are shown demangled (the JSON
keeps the raw ones).

Public API: :func:`render_crates`, :func:`shown_builds`, :data:`HOLDINGS_SHOWN`.
"""

from __future__ import annotations

from elfdeps.facts import TYPE_CHECKING
from elfdeps.render.printable import shown
from elfdeps.rust.demangle import demangle
from elfdeps.rust.describe import object_name, problem_text
from elfdeps.rust.problems import Level

if TYPE_CHECKING:
    from typing import TextIO

    from elfdeps.model import LoadResult
    from elfdeps.render.text import Palette
    from elfdeps.rust.crates import CrateBuild, CrateReport, ImportSite, ObjectCrates
    from elfdeps.rust.mangling import Crate
    from elfdeps.rust.problems import Holder

__all__ = ["HOLDINGS_SHOWN", "render_crates", "shown_builds"]

HOLDINGS_SHOWN = 6  # crates listed per object without verbose


def _crate(crate: Crate) -> str:
    name = shown(crate.name)
    return name if crate.scid is None else f"{name}[{crate.scid:016x}]"


def _release(version: bytes) -> str:
    return shown(version.split(b" ", 1)[0])


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _code(holder: Holder) -> str:
    """``806 exported``, ``6 private``, ``3 exported + 1 private``, ``no code of its own``."""
    parts = [
        f"{number} {word}" for number, word in ((holder.exported, "exported"), (holder.private, "private")) if number
    ]
    return " + ".join(parts) if parts else "generic code only"


def _holdings(held: list[tuple[Crate, Holder]], verbose: bool) -> str:
    """What one object holds, its own crate first, then the largest."""
    if not held:
        return "holds no crate's own code (it only imports)"
    held.sort(key=lambda pair: (not pair[1].identity, -(pair[1].exported + pair[1].private), pair[0].name))
    shown_here = held if verbose else held[:HOLDINGS_SHOWN]
    parts = [
        f"{_crate(crate)} ({'its own crate, ' if holder.identity else ''}{_code(holder)})"
        for crate, holder in shown_here
    ]
    more = len(held) - len(shown_here)
    text = f"holds {_count(len(held), 'crate')}: " + ", ".join(parts)
    return text + (f", and {more} more (-v lists them)" if more else "")


def shown_builds(report: CrateReport, verbose: bool) -> list[CrateBuild]:
    """The builds the text lists: every one with verbose, else those other objects import (a build held
    by several objects is a problem, listed as one)."""
    return list(report.builds) if verbose else [build for build in report.builds if build.importers]


def _where(build: CrateBuild, result: LoadResult) -> str:
    """Where a build's code lives: its own dylib, embedded in another object, or nowhere loaded."""
    if not build.holders:
        if build.crate.scid is None:
            return "names without a build id (legacy mangling): bound where the loader finds them"
        return "no loaded object holds its code"
    places = []
    for holder in build.holders:
        name = shown(object_name(result, holder.object))
        places.append(f"its own dylib {name}" if holder.identity else f"embedded in {name}")
    return ", ".join(places)


def _site(site: ImportSite, result: LoadResult, palette: Palette) -> str:
    importer = shown(object_name(result, site.object))
    text = f"{importer}: {_count(len(site.names), 'name')}"
    if site.bound_to:
        targets = []
        for target, count in site.bound_to:
            if target is None:
                targets.append(palette.bad(f"NOT FOUND ({count})"))
            elif target == site.object:
                targets.append(f"itself ({count})")
            else:
                targets.append(f"{shown(object_name(result, target))} ({count})")
        text += " -> " + ", ".join(targets)
    else:
        text += ", none looked up by the loader"
    return text + palette.dim(f", e.g. {shown(demangle(site.names[0]))}") if site.names else text


def _object_line(item: ObjectCrates, result: LoadResult, mixed: bool, palette: Palette) -> str:
    facts = item.facts
    words = [palette.name(shown(object_name(result, item.object))), facts.kind.value]
    if facts.crate is not None:
        words.append(_crate(facts.crate))
    if mixed and facts.versions:
        words.append("rustc " + "+".join(_release(v) for v in facts.versions))
    return " ".join(words)


def render_crates(
    result: LoadResult, report: CrateReport, out: TextIO, palette: Palette, *, verbose: bool = False
) -> None:
    """The crates of one emulated start (see the module docstring)."""
    loaded = sum(1 for obj in result.objects if obj.found)
    releases = sorted({v for item in report.objects for v in item.facts.versions})
    header = f"{palette.name(shown(result.main_path))}: "
    if not report.objects:
        out.write(header + f"no Rust object among the {_count(loaded, 'loaded object')}\n")
    else:
        header += f"{_count(len(report.objects), 'Rust object')} of {loaded} loaded"
        if releases:
            header += ", rustc " + ", ".join(_release(v) for v in releases)
        out.write(header + "\n")
    for obj in result.missing:
        out.write(palette.bad(f"  not found: {shown(obj.name)}") + " (the crates it would hold are not known)\n")
    for index, error in report.unreadable:
        out.write(palette.warn(f"  not read: {shown(object_name(result, index))}: {shown(error)}") + "\n")
    if not report.objects:
        return
    holdings: dict[int, list[tuple[Crate, Holder]]] = {}
    for build in report.builds:
        for holder in build.holders:
            holdings.setdefault(holder.object, []).append((build.crate, holder))
    out.write("  objects:\n")
    mixed = len(releases) > 1
    for item in report.objects:
        out.write(f"    {_object_line(item, result, mixed, palette)}\n")
        out.write(f"      {_holdings(holdings.get(item.object, []), verbose)}\n")
    builds = shown_builds(report, verbose)
    if builds:
        out.write("  crate builds" + (":" if verbose else " imported by other objects:") + "\n")
    for build in builds:
        out.write(f"    {_crate(build.crate)}: {_where(build, result)}\n")
        for site in build.importers:
            out.write(f"      {_site(site, result, palette)}\n")
    left_out = len(report.builds) - len(builds)
    if left_out:
        out.write(palette.dim(f"  ({_count(left_out, 'more build')}, imported by no other object: -v)") + "\n")
    if not report.problems:
        out.write("  problems: none\n")
        return
    out.write("  problems:\n")
    for problem in report.problems:
        level = problem.level.value
        colour = (
            palette.bad
            if problem.level is Level.ERROR
            else palette.warn
            if problem.level is Level.WARNING
            else palette.dim
        )
        out.write(f"    {colour(level)}: {shown(problem_text(problem, result))}\n")
