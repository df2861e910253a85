"""``elfdeps why FILE LIB`` as text and as the ``why`` object of the JSON report (issue 7 part 4;
schema: elfdeps/schemas/report-v2.schema.json, ``$defs/why``).

Text: the objects LIB names (one line each, how the loader found them), then one line per chain,
shortest first, each hop with how the loader resolved that DT_NEEDED entry, then how many chains
were left out. Names from files go through ``printable``.
"""

from __future__ import annotations

import os

from elfdeps.depgraph.chains import Chains
from elfdeps.depgraph.model import edge_how, edge_loads
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import Edge, LoadResult, via_label
from elfdeps.render.printable import shown as printable

if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["render_why", "why_json"]


def _hop(result: LoadResult, edge: Edge, show_paths: bool) -> str:
    assert edge.target is not None
    target = result.objects[edge.target]
    shown = target.path if show_paths and target.path is not None else edge.name
    how = edge_how(result, edge)
    if edge.shadowed_path is not None:
        how += f"; its own search finds {edge.shadowed_path}"
    return f"{printable(shown)} [{printable(how)}]"


def render_why(result: LoadResult, chains: Chains, query: str, out: TextIO, show_paths: bool = False) -> None:
    root = printable(result.main_path if show_paths else os.path.basename(result.main_path))
    if not chains.targets:
        out.write(f"nothing {root} loads matches {printable(query)}\n")
        return
    for index in chains.targets:
        obj = result.objects[index]
        requester = result.objects[obj.needed_by] if obj.needed_by is not None else None
        where = (
            f"{printable(obj.path)} [{printable(via_label(obj, requester))}]" if obj.path is not None else "not found"
        )
        out.write(f"{printable(obj.name)} => {where}\n")
    count = len(chains.chains)
    out.write(f"{count} chain{'s' if count != 1 else ''} from {root}, shortest first:\n")
    for chain in chains.chains:
        out.write("  " + " -> ".join([root, *(_hop(result, edge, show_paths) for edge in chain)]) + "\n")
    if chains.more is None:
        out.write("  more chains not shown (--max-chains N shows more)\n")
    elif chains.more:
        plural = "s" if chains.more != 1 else ""
        out.write(f"  {chains.more} more chain{plural} not shown (--max-chains N shows more)\n")


def why_json(result: LoadResult, chains: Chains, query: str) -> dict[str, Any]:
    """The ``why`` object of the JSON report (names as os.fsdecode, like the rest of the report)."""

    def hop(edge: Edge) -> dict[str, Any]:
        assert edge.target is not None
        target = result.objects[edge.target]
        return {
            "requester": result.objects[edge.requester].path or result.main_path,
            "name": os.fsdecode(edge.name),
            "path": target.path,
            "found": target.found,
            "via": target.via.value if target.via is not None else None,
            "how": edge_how(result, edge),
            "loads": edge_loads(result, edge),
            "shadowed_by": edge.shadowed_path,
        }

    return {
        "query": query,
        "targets": [
            {"name": result.objects[i].display_name, "path": result.objects[i].path, "found": result.objects[i].found}
            for i in chains.targets
        ],
        "chains": [[hop(edge) for edge in chain] for chain in chains.chains],
        "more_chains": chains.more,
    }
