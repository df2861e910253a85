"""The graph model as Graphviz DOT text, and DOT rendered to SVG/PNG/PDF by the ``dot`` program
(issue 7; DOT language: graphviz.org/doc/info/lang.html).

The DOT text is written here, line by line in the model's order (files, then load order; edges in
DT_NEEDED order), so the same input gives the same bytes. Names from ELF files are untrusted: each
label goes through ``printable`` and then DOT's own escaping (backslash and quote, and '&', which
Graphviz would otherwise read as the start of an HTML entity). Only ``render`` needs Graphviz: the
``graphviz`` Python package (imported there, lazily) runs Debian's ``dot``.
"""

from __future__ import annotations

from collections import Counter, deque
from itertools import pairwise
from typing import NamedTuple

from elfdeps.audit.rules import Severity
from elfdeps.depgraph.model import GraphEdge, GraphModel, Group, Node, NodeKind
from elfdeps.errors import ElfdepsError
from elfdeps.render.printable import shown as printable

__all__ = ["WIDE", "DotOptions", "RendererMissing", "dot_text", "rankdir", "render", "summary"]

FONT = "Helvetica,Arial,sans-serif"
RED, ORANGE, PURPLE, GREY, LIGHT = "#d7301f", "#e08a00", "#7b3294", "#4d4d4d", "#b3b3b3"

# kind -> (fill colour, border colour, extra style, legend text)
KIND_STYLE: dict[NodeKind, tuple[str, str, str, str]] = {
    NodeKind.EXECUTABLE: ("#c6dbef", "#2b5d8a", "bold", "executable"),
    NodeKind.RUST_DYLIB: ("#fdd0a2", "#a6501a", "", "Rust dylib"),
    NodeKind.LIBSTD: ("#f4a261", "#8a3b12", "bold", "Rust libstd"),
    NodeKind.CDYLIB: ("#fee6ce", "#a6501a", "dashed", "Rust cdylib"),
    NodeKind.C_LIBRARY: ("#e5f5e0", "#41773c", "", "C library"),
    NodeKind.SYSTEM: ("#f0f0f0", "#9a9a9a", "", "system library"),
    NodeKind.MISSING: ("#fde0dd", RED, "bold,dashed", "not found"),
}


WIDE = 8  # more objects than this at one depth: "auto" lays the graph out left to right


class DotOptions(NamedTuple):
    rankdir: str = "auto"  # TB, LR, BT, RL, or auto: TB unless the graph is wide (WIDE)
    edge_labels: bool = False  # --label: how each DT_NEEDED was found
    show_paths: bool = False  # --path: full paths instead of sonames
    legend: bool = True


class RendererMissing(ElfdepsError):
    """The ``dot`` program is not installed (exit code 2)."""


def _quote(text: str) -> str:
    """A DOT double-quoted string showing ``text`` literally (it is already printable)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") + '"'


def _label(*lines: str) -> str:
    """Lines joined with DOT's centred line break (each escaped on its own)."""
    return "\\n".join(_quote(line)[1:-1] for line in lines).join('""')


def _attributes(pairs: dict[str, str]) -> str:
    return "[" + ", ".join(f"{key}={value}" for key, value in pairs.items()) + "]"


def _node_line(node: Node, options: DotOptions) -> str:
    fill, border, extra, _legend = KIND_STYLE[node.kind]
    title = node.path if options.show_paths and node.path is not None else node.name
    lines = [printable(title)]
    if node.members > 1:
        lines[0] = f"{lines[0]} ({node.members})"
    if node.kind is NodeKind.MISSING:
        lines.append("(not found)")
    if node.hidden:
        lines.append(f"+{node.hidden} more")
    style = ",".join(part for part in ("rounded,filled", extra) if part)
    classes = [f"kind-{node.kind.value}"]
    attributes = {"id": f'"{node.id}"', "label": _label(*lines), "fillcolor": f'"{fill}"', "color": f'"{border}"'}
    problem = node.problem
    if problem is Severity.ERROR:
        attributes.update(color=f'"{RED}"', penwidth="2.5")
        classes.append("problem-error")
    elif problem is Severity.WARNING:
        attributes.update(color=f'"{ORANGE}"', penwidth="2")
        classes.append("problem-warning")
    if node.kind is NodeKind.MISSING:
        attributes["fontcolor"] = f'"{RED}"'
    elif node.kind is NodeKind.SYSTEM:
        attributes["fontcolor"] = '"#555555"'
    if node.root:
        attributes["peripheries"] = "2"
        classes.append("root")
    attributes["style"] = f'"{style}"'
    attributes["class"] = f'"{" ".join(classes)}"'
    return f"  {node.id} {_attributes(attributes)};"


def _edge_line(edge: GraphEdge, missing: bool, options: DotOptions) -> str:
    attributes = {"id": f'"{edge.id}"'}
    classes = ["dep"]
    label = edge.how if options.edge_labels else ""
    if missing:
        attributes["color"] = f'"{RED}"'
        classes.append("to-missing")
    elif not edge.loads:
        attributes["color"] = f'"{LIGHT}"'
        classes.append("reused")
    if edge.unused:
        attributes["style"] = "dotted"
        attributes["penwidth"] = "1.6"
        classes.append("unused")
        label = f"{label}, unused" if label else ""
    if edge.shadowed_path is not None:
        attributes.update(color=f'"{ORANGE}"', style="dashed", penwidth="1.6")
        classes.append("shadowed")
        label = f"{label}, shadowed" if label else "shadowed"
    if label:
        attributes["label"] = _label(label)
    attributes["class"] = f'"{" ".join(classes)}"'
    return f"  {edge.source} -> {edge.target} {_attributes(attributes)};"


def _group_lines(number: int, group: Group) -> list[str]:
    """Members tied one to the next, undirected, without pulling the layout."""
    lines = []
    for position, (left, right) in enumerate(pairwise(group.members)):
        attributes = {
            "id": f'"g{number}_{position}"',
            "dir": "none",
            "style": "dashed",
            "color": f'"{PURPLE}"',
            "fontcolor": f'"{PURPLE}"',
            "penwidth": "2",
            "constraint": "false",
            "label": _label(f"same {printable(group.label)}"),
            "class": '"group"',
        }
        lines.append(f"  {left} -> {right} {_attributes(attributes)};")
    return lines


def _legend(model: GraphModel, missing_ids: set[str]) -> list[str]:
    """One table of what the picture uses: node kinds present, problem outlines, edge styles (fixed text)."""
    present = {node.kind for node in model.nodes}
    rows = []
    for kind, (fill, border, _extra, text) in KIND_STYLE.items():
        if kind in present:
            swatch = f'<td bgcolor="{fill}" color="{border}" border="1" width="18"> </td>'
            rows.append(f'<tr>{swatch}<td align="left">{text}</td></tr>')
    problems = {node.problem for node in model.nodes}
    if Severity.ERROR in problems:
        rows.append(f'<tr><td color="{RED}" border="2" width="18"> </td><td align="left">error (audit)</td></tr>')
    if Severity.WARNING in problems:
        rows.append(f'<tr><td color="{ORANGE}" border="2" width="18"> </td><td align="left">warning (audit)</td></tr>')
    samples = [(GREY, "\u2500\u2500\u25b6", "loads it"), (LIGHT, "\u2500\u2500\u25b6", "already loaded")]
    if any(edge.target in missing_ids for edge in model.edges):
        samples.append((RED, "\u2500\u2500\u25b6", "needs, not found"))
    if any(edge.unused for edge in model.edges):
        samples.append((GREY, "\u00b7\u00b7\u00b7\u25b6", "unused dependency"))
    if any(edge.shadowed_path is not None for edge in model.edges):
        samples.append((ORANGE, "- - \u25b6", "shadowed resolution"))
    if model.groups:
        samples.append((PURPLE, "- - -", "same crate, several copies"))
    for colour, glyphs, text in samples:
        rows.append(f'<tr><td><font color="{colour}">{glyphs}</font></td><td align="left">{text}</td></tr>')
    table = (
        '<table border="1" cellborder="0" style="rounded" color="#cccccc" cellspacing="2" cellpadding="2">'
        '<tr><td colspan="2" align="left"><b>legend</b></td></tr>' + "".join(rows) + "</table>"
    )
    # A plain node, not a cluster: a cluster makes dot ignore ordering=out (the DT_NEEDED order).
    return [f'  legend [id="legend", class="legend", shape=plaintext, style="", fontsize=9, label=<{table}>];']


def _widest_level(model: GraphModel) -> int:
    """The most objects at one breadth-first depth from the analysed files (explicit queue)."""
    children: dict[str, list[str]] = {}
    for edge in model.edges:
        children.setdefault(edge.source, []).append(edge.target)
    depth = {node.id: 0 for node in model.nodes if node.root}
    queue = deque(depth)
    while queue:
        current = queue.popleft()
        for child in children.get(current, ()):
            if child not in depth:
                depth[child] = depth[current] + 1
                queue.append(child)
    return max(Counter(depth.values()).values(), default=0)


def rankdir(model: GraphModel, requested: str) -> str:
    """The layout direction: as requested, or for "auto" TB unless some depth holds more than WIDE
    objects (node labels are wide and low: a wide tree packs far tighter sideways)."""
    if requested != "auto":
        return requested
    return "LR" if _widest_level(model) > WIDE else "TB"


def summary(model: GraphModel) -> str:
    """One line under the picture: the analysed files and what is wrong at a glance."""
    roots = ", ".join(printable(node.name) for node in model.nodes if node.root)
    missing = sum(1 for node in model.nodes if node.kind is NodeKind.MISSING)
    loaded = sum(node.members for node in model.nodes if node.kind is not NodeKind.MISSING)
    parts = [f"{loaded} object{'s' if loaded != 1 else ''}", f"{missing} not found"]
    unused = sum(1 for edge in model.edges if edge.unused)
    if unused:
        parts.append(f"{unused} unused dependenc{'ies' if unused != 1 else 'y'}")
    for group in model.groups:
        parts.append(f"{printable(group.label)} in {len(group.members)} objects")
    return f"{roots}: {', '.join(parts)}"


def dot_text(model: GraphModel, options: DotOptions) -> str:
    """The DOT text of ``model`` (deterministic: same model and options, same bytes)."""
    missing_ids = {node.id for node in model.nodes if node.kind is NodeKind.MISSING}
    lines = [
        "digraph elfdeps {",
        f"  graph [rankdir={rankdir(model, options.rankdir)}, ordering=out, nodesep=0.25, ranksep=0.45,"
        f' fontname="{FONT}", fontsize=10, bgcolor="white", pad=0.2, labelloc=b, labeljust=l,'
        f" label={_label(summary(model))}];",
        f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11, height=0.3, margin="0.12,0.04"];',
        f'  edge [fontname="{FONT}", fontsize=9, arrowsize=0.6, color="{GREY}"];',
    ]
    if options.legend and model.nodes:
        lines += _legend(model, missing_ids)
    lines += [_node_line(node, options) for node in model.nodes]
    lines += [_edge_line(edge, edge.target in missing_ids, options) for edge in model.edges]
    for number, group in enumerate(model.groups):
        lines += _group_lines(number, group)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, output_format: str) -> bytes:
    """``dot -T<format>`` of the text (svg, png, pdf) through the graphviz package."""
    import graphviz

    try:
        return graphviz.Source(dot, engine="dot").pipe(format=output_format, quiet=True)  # type: ignore[no-any-return]
    except graphviz.ExecutableNotFound as error:
        raise RendererMissing(
            f"drawing {output_format.upper()} needs the dot program: install the Debian package graphviz"
            " (apt-get install graphviz); a .dot file needs nothing"
        ) from error
