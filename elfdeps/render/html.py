"""The HTML report of ``elfdeps graph -o report.html`` (issue 7 part 3): one self-contained file, the
SVG Graphviz drew (render/dot.py) inline, with the stylesheet, the script and the graph's facts as
JSON; no external asset and no network (a Content-Security-Policy with ``default-src 'none'`` and the
script's own hash says so to the browser), so it works opened from disk.

Untrusted names reach the page three ways, each escaped for its context: in the SVG (Graphviz
XML-escapes label text), in the title (``html.escape``) and in the JSON (``<``, ``>``, ``&`` as
``\\u`` escapes, so no ``</script>`` can end the data block; the script sets them as text only).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from typing import Any

from elfdeps.depgraph.model import GraphModel, Node
from elfdeps.facts import TYPE_CHECKING
from elfdeps.render.dot import summary
from elfdeps.render.html_assets import CSS, SCRIPT
from elfdeps.render.printable import shown as printable

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["html_report"]

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)  # XML declaration, DOCTYPE, generator comments
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')

_KIND_TEXT = {
    "executable": "executable",
    "rust-dylib": "Rust dylib",
    "libstd": "Rust libstd",
    "cdylib": "Rust cdylib",
    "c-library": "C library",
    "system": "system library",
    "missing": "not found",
}


def _inline_svg(svg: str) -> str:
    """Graphviz's SVG document as an element: no prolog, sized by the page (the viewBox stays)."""
    body = _PROLOG.sub("", svg, count=1)
    head, _, rest = body.partition(">")
    return _SIZE.sub("", head) + ">" + rest


def _searched(node: Node) -> list[str]:
    """Each place tried: ``/dir/libX.so [runpath of app]: absent``."""
    places = []
    for attempt in node.searched:
        source = attempt.source.value + (f" of {os.path.basename(attempt.owner)}" if attempt.owner else "")
        detail = f" ({attempt.detail})" if attempt.detail else ""
        places.append(printable(f"{attempt.path} [{source}]: {attempt.outcome.value}{detail}"))
    return places


_SHOWN_PER_RULE = 12  # an object may have thousands of interposed symbols: the panel lists a few per rule


def _findings(node: Node) -> dict[str, Any]:
    """Worst first; at most a dozen per rule, with the number of the others."""
    ranked = sorted(node.findings, key=lambda finding: -finding.severity.rank)
    listed, counts = [], dict.fromkeys((finding.rule for finding in ranked), 0)
    for finding in ranked:
        counts[finding.rule] += 1
        if counts[finding.rule] <= _SHOWN_PER_RULE:
            hint = printable(finding.hint) if finding.hint else None
            message = printable(finding.message)
            listed.append({"rule": finding.rule, "severity": finding.severity.value, "message": message, "hint": hint})
    left_out = {rule: count - _SHOWN_PER_RULE for rule, count in counts.items() if count > _SHOWN_PER_RULE}
    return {"listed": listed, "leftOut": left_out}


def _data(model: GraphModel, files: Sequence[str]) -> dict[str, Any]:
    needs: dict[str, dict[str, None]] = {}  # ordered sets: dependencies in DT_NEEDED order
    for edge in model.edges:
        needs.setdefault(edge.source, {})[edge.target] = None
    groups: dict[str, list[dict[str, Any]]] = {}
    for group in model.groups:
        entry = {"label": printable(group.label), "message": group.message, "members": list(group.members)}
        for member in group.members:
            groups.setdefault(member, []).append(entry)
    nodes = {}
    for node in model.nodes:
        nodes[node.id] = {
            "name": printable(node.name),
            "path": printable(node.path) if node.path is not None else None,
            "kind": _KIND_TEXT[node.kind.value],
            "how": node.how,
            "neededBy": list(node.needed_by),
            "needs": list(needs.get(node.id, ())),
            "findings": _findings(node),
            "groups": groups.get(node.id, []),
            "searched": _searched(node),
            "hidden": node.hidden,
            "members": node.members,
        }
    return {
        "title": ", ".join(printable(path) for path in files),
        "summary": summary(model),
        "nodes": nodes,
        "edges": [[edge.id, edge.source, edge.target] for edge in model.edges],
    }


def _script_json(value: Any) -> str:
    """JSON that cannot end or confuse the <script> element holding it."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_report(model: GraphModel, svg: str, files: Sequence[str]) -> str:
    """The whole report as one HTML document."""
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    policy = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'"
    title = html.escape("elfdeps graph: " + ", ".join(printable(path) for path in files))
    shown_files = html.escape(", ".join(printable(path) for path in files))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>elfdeps graph</h1><span class="files">{shown_files}</span><span class="spacer"></span>
<input id="search" type="search" placeholder="search a library or path" autocomplete="off" aria-label="search">
<span id="search-count"></span>
<button id="zoom-in" type="button" title="zoom in">+</button>
<button id="zoom-out" type="button" title="zoom out">&minus;</button>
<button id="zoom-fit" type="button" title="show everything">fit</button>
</header>
<main>
<div id="viewport">
{_inline_svg(svg)}
</div>
<aside id="details"></aside>
</main>
<script type="application/json" id="elfdeps-data">{_script_json(_data(model, files))}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
