"""Text renderings of a load: ``list`` (ldd's lines, a contract: DESIGN.md §3.1) and ``tree``
(each loaded object once, under the entry that made the loader load it, labelled with how it was
found; a library not found on one line saying where a copy is; a closing summary).

Every name and path read from a file or the file system goes through ``shown`` (printable.py).
"""

from __future__ import annotations

import os

from elfdeps.depgraph.tree import DependencyIndex, NodeRole, TreeNode, dependency_tree
from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.model import VIA_LABELS, Attempt, DependencyKind, LoadedObject, LoadResult, Outcome, Via, via_label
from elfdeps.render.printable import shown

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import TextIO

    from elfdeps.advice.fix import CombinedFix
    from elfdeps.rust.objects import RustFacts

__all__ = ["Palette", "TreeOptions", "describe_attempt", "fix_lines", "render_list", "render_tree", "rust_label"]


class Palette(Fact):
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


class TreeOptions(Fact):
    """How ``render_tree`` draws (the `tree` command's options)."""

    full: bool = False  # every reference, subtrees repeated (-a)
    max_depth: int | None = None
    paths: bool = False  # NAME => PATH instead of NAME (-p)
    hide: tuple[str, ...] = ()  # globs of names/paths whose lines (and subtrees) are left out
    hide_system: bool = False  # leave out what the system provides (ld.so.cache, default dirs)
    verbose: bool = False  # every place tried for each library not found
    unicode: bool = False  # box-drawing branches (a UTF-8 terminal) instead of ASCII


_SYSTEM = (Via.LD_SO_CACHE, Via.DEFAULT, Via.INTERPRETER)
_BRANCHES = {  # (branch, last branch, continuation, last continuation)
    False: ("|-- ", "`-- ", "|   ", "    "),
    True: ("├── ", "└── ", "│   ", "    "),
}
MAX_INDENT = 24  # deeper levels are drawn at this indent with their depth written out


def render_list(result: LoadResult, out: TextIO) -> None:
    """ldd's trace lines without load addresses and the vDSO line."""
    lines = 0
    for obj in result.objects[1:]:
        name = shown(obj.name)
        if not obj.found:
            out.write(f"\t{name} => not found\n")
        elif obj.path == obj.display_name:
            out.write(f"\t{name}\n")
        else:
            out.write(f"\t{name} => {shown(obj.path or '')}\n")
        lines += 1
    if lines == 0 and result.error is None:
        out.write("\tstatically linked\n")  # what ld.so prints when nothing but the file itself loads


def describe_attempt(attempt: Attempt, with_name: bool = True) -> str:
    """One place tried: ``/dir/libx.so  [runpath of app]: no such file``."""
    source = VIA_LABELS.get(attempt.source, attempt.source.value)
    if attempt.source is Via.RPATH:
        source = "rpath"
    if attempt.owner:
        source += f" of {shown(os.path.basename(attempt.owner) or attempt.owner)}"
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
    where = attempt.path if with_name else (attempt.directory.rstrip("/") or "/") + "/"
    return f"{shown(where)}  [{source}]: {outcome}{detail}"


def _near(path: str, relative: bool) -> str:
    """A directory as the user would type it: relative below the current directory, else absolute
    (always absolute inside a --root, whose paths are not this machine's)."""
    directory = os.path.dirname(path)
    if not relative:
        return directory
    try:
        below = os.path.relpath(directory)
    except ValueError:
        return directory
    return below if not below.startswith("..") else directory


def _missing_note(obj: LoadedObject, relative: bool) -> str:
    suitable = [match for match in obj.nearby if match.suitable]
    if suitable:
        more = f" and {len(suitable) - 1} more" if len(suitable) > 1 else ""
        note = f"; {shown(suitable[0].note)}" if suitable[0].note else ""
        return f"a copy in {shown(_near(suitable[0].path, relative))}{more}{note}"
    if obj.note:
        return shown(obj.note)
    if obj.nearby:
        return f"only an incompatible copy in {shown(_near(obj.nearby[0].path, relative))}"
    if not obj.required:
        return "an auxiliary filtee: the loader goes on without it"
    return f"{len(obj.attempts)} places tried"


def _cache_miss_line(obj: LoadedObject, result: LoadResult) -> str | None:
    """A cache miss leaves no candidate path: the line that says where in the order it was asked."""
    asked = result.system is not None and result.system.has_cache and b"/" not in obj.name
    if asked and not any(attempt.source is Via.LD_SO_CACHE for attempt in obj.attempts):
        return "ld.so.cache  [ld.so.cache]: no entry"
    return None


def _search_groups(result: LoadResult, shown_missing: list[int]) -> list[tuple[list[int], list[str]]]:
    """The places tried for each missing library, libraries with the same places in one group."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for index in shown_missing:
        obj = result.objects[index]
        lines = [describe_attempt(attempt, with_name=False) for attempt in obj.attempts]
        cache_line = _cache_miss_line(obj, result)
        if cache_line is not None:
            position = next((i for i, a in enumerate(obj.attempts) if a.source is Via.DEFAULT), len(lines))
            lines.insert(position, cache_line)
        groups.setdefault(tuple(lines), []).append(index)
    return [(members, list(lines)) for lines, members in groups.items()]


class _Drawing:
    """Branch prefixes for pre-order nodes, each built from its parent's: linear, bounded width."""

    def __init__(self, nodes: list[TreeNode], unicode: bool) -> None:
        self.branch, self.last_branch, self.bar, self.space = _BRANCHES[unicode]
        last_child: dict[int, int] = {}
        for position, node in enumerate(nodes):
            if node.parent is not None:
                last_child[node.parent] = position
        self.is_last = {position for position in last_child.values()}
        self.continuation: dict[int, str] = {0: ""}

    def prefix(self, position: int, node: TreeNode) -> str:
        assert node.parent is not None
        above = self.continuation.get(node.parent, "")
        branch = self.last_branch if position in self.is_last else self.branch
        if node.depth > MAX_INDENT:  # keep the width bounded: write the depth out instead
            capped = above[: MAX_INDENT * len(self.bar)]
            self.continuation[position] = capped
            return f"{capped}[{node.depth}] {branch}"
        self.continuation[position] = above + (self.space if position in self.is_last else self.bar)
        return above + branch


def _hidden(obj: LoadedObject, options: TreeOptions) -> bool:
    if options.hide_system and obj.via in _SYSTEM:
        return True
    if not options.hide:
        return False
    import fnmatch

    names = [obj.display_name, os.path.basename(obj.path or "")]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in options.hide for name in names if name)


def _visible(nodes: list[TreeNode], result: LoadResult, options: TreeOptions) -> list[TreeNode]:
    """The nodes drawn: hidden ones (and everything below them) left out, parents renumbered."""
    kept: list[TreeNode] = [nodes[0]]
    new_position: dict[int, int] = {0: 0}
    for position, node in enumerate(nodes[1:], 1):
        assert node.parent is not None
        parent = new_position.get(node.parent)
        obj = result.objects[node.object]
        interpreter_repeat = not options.full and obj.via is Via.INTERPRETER  # the header names it
        if parent is None or interpreter_repeat or _hidden(obj, options):
            continue
        new_position[position] = len(kept)
        kept.append(node._replace(parent=parent))
    return kept


def rust_label(facts: RustFacts, with_version: bool) -> str:
    """A Rust object's label: ``rust-dylib base``, ``toolchain std 1.95.0``, ``cdylib`` (escaped)."""
    words = ["toolchain" if facts.kind == "toolchain-std" else facts.kind.value]
    if facts.crate is not None:
        words.append(shown(facts.crate.name))
    if (with_version or facts.kind == "toolchain-std") and facts.versions:
        words.append("+".join(shown(version.split(b" ", 1)[0]) for version in facts.versions))
    return " ".join(words)


def _rust_labels(rust: Mapping[int, RustFacts]) -> dict[int, str]:
    """Labels of the Rust objects; each names its rustc release when the program mixes several."""
    mixed = len({version for facts in rust.values() for version in facts.versions}) > 1
    return {index: rust_label(facts, mixed) for index, facts in rust.items()}


def _line(node: TreeNode, result: LoadResult, options: TreeOptions, palette: Palette, rust: Mapping[int, str]) -> str:
    assert node.edge is not None
    obj = result.objects[node.object]
    requester = result.objects[node.edge.requester]
    name = shown(node.edge.name)
    if node.role is NodeRole.NOT_FOUND:
        relative = result.system is None or result.system.root is None
        note = _missing_note(obj, relative)
        return f"{palette.bad(name)} => {palette.bad('not found')} {palette.dim('(' + note + ')')}"
    label = shown(via_label(obj, requester))
    if node.edge.kind is not DependencyKind.NEEDED:
        label = f"{node.edge.kind.value}, {label}"
    system = obj.via in _SYSTEM
    text = palette.dim(name) if system else palette.name(name)
    if options.paths:
        text += f" => {shown(obj.path or '')}"
    text += " " + palette.dim(f"[{label}]")
    if node.object in rust:
        text += " " + rust[node.object]
    if node.role is NodeRole.CYCLE:
        text += " " + palette.warn("(cycle)")
    if node.edge.shadowed_path:
        text += " " + palette.warn(
            f"(shadowed: {shown(os.path.basename(requester.path or ''))}'s own search finds"
            f" {shown(node.edge.shadowed_path)})"
        )
    if node.hidden_children:
        text += " " + palette.dim(f"(+{node.hidden_children} below --max-depth)")
    return text


def _header(result: LoadResult, palette: Palette, rust: Mapping[int, str]) -> str:
    header = palette.name(shown(result.main_path))
    facts = result.main.facts
    interpreter = next((obj for obj in result.objects if obj.via is Via.INTERPRETER), None)
    if facts is not None and facts.interpreter:
        header += f" (interpreter => {shown(facts.interpreter)})"
    elif interpreter is not None:
        header += f" (interpreter => {shown(interpreter.path or '')})"
    if 0 in rust:
        header += " " + rust[0]
    return header


def _summary(result: LoadResult, hidden: int, truncated: bool) -> str:
    found = [obj for obj in result.objects[1:] if obj.found]
    libraries = sum(1 for obj in found if obj.via is not Via.INTERPRETER)
    interpreter = len(found) - libraries
    parts = [f"{libraries} {'library' if libraries == 1 else 'libraries'}"]
    if interpreter:
        parts.append("the interpreter")
    text = f"{' and '.join(parts)} loaded"
    missing = result.missing
    if missing:
        names = sorted({obj.display_name for obj in missing})
        text += f"; {len(names)} not found ({', '.join(shown(name) for name in names[:5])}"
        text += f" and {len(names) - 5} more)" if len(names) > 5 else ")"
    elif result.error is None:
        text += ", all found"
    through_env = sum(1 for obj in found if obj.via in (Via.LD_LIBRARY_PATH, Via.PRELOAD))
    if through_env:
        text += f"; {through_env} only through the given LD_LIBRARY_PATH or preload"
    if hidden:
        text += f"; {hidden} not shown"
    if truncated:
        text += "; the full view was cut short (too many repeated subtrees)"
    return text


def fix_lines(fix: CombinedFix | None, palette: Palette) -> tuple[str, ...]:
    """The combined fix for a program with missing libraries, as the tree and audit print it."""
    if fix is None or not fix.directories:
        return ()
    count = len(fix.missing)
    lines = [palette.name(f"fix: LD_LIBRARY_PATH={shown(fix.ld_library_path)}")]
    if fix.complete:
        every = "the missing library resolves" if count == 1 else f"all {count} missing libraries resolve"
        lines.append(f"     with it {every} (checked by emulating the start again)")
    else:
        resolved = count - len([name for name in fix.still_missing if name in fix.missing])
        lines.append(
            f"     with it {resolved} of {count} resolve; still not found:"
            f" {', '.join(shown(name) for name in fix.still_missing)} (no usable copy where elfdeps looked)"
        )
    if fix.secure:
        lines.append("     but a set-user-ID program ignores LD_LIBRARY_PATH: install the libraries, or add a RUNPATH")
    if fix.cargo_target is not None:
        lines.append(
            f"     a cargo build ({shown(fix.cargo_target)}): `cargo run` and `cargo test` set this path themselves;"
            " to ship it, copy the libraries next to the program and give the copy RUNPATH $ORIGIN"
        )
    return tuple(palette.dim(line) if index else line for index, line in enumerate(lines))


def render_tree(
    result: LoadResult,
    out: TextIO,
    palette: Palette,
    options: TreeOptions = TreeOptions(),  # noqa: B008 - an immutable NamedTuple
    index: DependencyIndex | None = None,
    fix_lines: tuple[str, ...] = (),
    rust: Mapping[int, RustFacts] | None = None,
) -> None:
    """The tree of one emulated start, then the search lists (-v), ``fix_lines`` and a summary;
    ``rust``: the Rust objects' facts (:func:`elfdeps.rust.labels.rust_labels`), labelled on their lines."""
    labels = _rust_labels(rust) if rust else {}
    out.write(_header(result, palette, labels) + "\n")
    facts = result.main.facts
    if facts is not None and not facts.dynamic:
        out.write("    statically linked\n")
    nodes, truncated = dependency_tree(result, index, full=options.full, max_depth=options.max_depth)
    visible = _visible(nodes, result, options)
    drawing = _Drawing(visible, options.unicode)
    missing_shown: list[int] = []
    for position, node in enumerate(visible[1:], 1):
        out.write(drawing.prefix(position, node) + _line(node, result, options, palette, labels) + "\n")
        if node.role is NodeRole.NOT_FOUND and node.object not in missing_shown:
            missing_shown.append(node.object)
    for line in _details(result, missing_shown, options, palette):
        out.write(line + "\n")
    if result.error is not None:
        error = result.error
        where = f" ({shown(error.path)})" if error.path and error.path != error.name else ""
        out.write(palette.bad(f"loading stops: {shown(error.name)}{where}: {shown(error.message)}") + "\n")
    for warning in result.warnings:
        out.write(palette.warn(shown(warning)) + "\n")
    for line in fix_lines:
        out.write(line + "\n")
    shown_objects = {node.object for node in visible}
    hidden = sum(1 for obj in result.objects[1:] if obj.index not in shown_objects and obj.via is not Via.INTERPRETER)
    out.write(palette.dim(_summary(result, hidden if options.hide or options.hide_system else 0, truncated)) + "\n")


def _missing_for(result: LoadResult, index: int) -> str:
    obj = result.objects[index]
    requester = result.objects[obj.needed_by] if obj.needed_by is not None else result.main
    return f"{shown(obj.display_name)} for {shown(os.path.basename(requester.path or result.main_path))}"


def _details(result: LoadResult, missing: list[int], options: TreeOptions, palette: Palette) -> Iterator[str]:
    """With -v: the places tried for the libraries not found (one list per group sharing it), the
    candidates skipped on the way, and every copy found elsewhere."""
    if not options.verbose or not missing:
        return
    for members, lines in _search_groups(result, missing):
        names = ", ".join(_missing_for(result, index) for index in members)
        yield palette.dim(f"{names}: searched, in order:" if lines else f"{names}: no place to search")
        for line in lines:
            yield "    " + (palette.warn(line) if "skipped" in line or "error" in line else line)
        for index in members:
            for match in result.objects[index].nearby:
                verdict = "" if match.suitable else palette.warn(" (wrong class or machine: would not fix it)")
                yield f"    found elsewhere: {shown(match.path)}{verdict}"
                if match.note:
                    yield palette.warn(f"      {shown(match.note)}")
