"""`elfdeps symbols`: each symbol reference and the object it binds to (like LD_DEBUG=bindings),
or, with --defines, every loaded object that defines a name and the one that wins."""

from __future__ import annotations

import os

from elfdeps.binding import BindingReport, Definition
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import LoadResult
from elfdeps.render.jsonreport import write_report
from elfdeps.render.printable import shown
from elfdeps.rust.demangle import demangle_all

if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["render_bindings", "render_definers"]


def render_bindings(
    result: LoadResult, report: BindingReport, out: TextIO, *, missing_only: bool, as_json: bool
) -> None:
    """Print the bindings (each reference and the object it binds to)."""
    rows: list[dict[str, Any]] = []
    shown_bindings = [binding for binding in report.bindings if binding.fails or not missing_only]
    spelled = demangle_all(binding.symbol for binding in shown_bindings)
    for binding, readable_name in zip(shown_bindings, spelled, strict=True):
        rows.append(
            {
                "object": result.objects[binding.requester].path or result.main_path,
                "symbol": os.fsdecode(binding.symbol),
                "version": os.fsdecode(binding.version) if binding.version else None,
                "kind": binding.reloc_class.value,
                "lazy": binding.lazy,
                "weak": binding.weak_reference,
                "binds_to": result.objects[binding.target].path if binding.target is not None else None,
                "demangled": os.fsdecode(readable_name) if readable_name != binding.symbol else None,
            }
        )
    if as_json:
        write_report("symbols", [result], out, extra={"bindings": rows})
    else:
        current = None
        for row in rows:
            if row["object"] != current:
                current = row["object"]
                out.write(f"{shown(current)}\n")
            name = (row["demangled"] or row["symbol"]) + (f"@{row['version']}" if row["version"] else "")
            unresolved = "(unresolved, weak: 0)" if row["weak"] else "NOT FOUND"
            target = shown(row["binds_to"]) if row["binds_to"] else unresolved
            out.write(f"    {shown(name)} => {target}\n")


def render_definers(
    result: LoadResult,
    asked: bytes,
    groups: list[tuple[bytes, list[Definition], int | None]],
    out: TextIO,
    *,
    as_json: bool,
) -> None:
    """Every loaded object that defines a name and the one a reference binds to: one group per
    symbol name (the name asked, or each mangled name spelled as it): (name, definitions in scope
    order, the winning object)."""
    rows: list[dict[str, Any]] = [
        {
            "symbol": os.fsdecode(name),
            "object": result.objects[definition.object].path or result.main_path,
            "version": os.fsdecode(definition.version) if definition.version else None,
            "default": not definition.symbol.hidden_version,
            "visibility": ("default", "internal", "hidden", "protected")[definition.symbol.visibility],
            "binding": {0: "local", 1: "global", 2: "weak", 10: "unique"}.get(
                definition.symbol.bind, str(definition.symbol.bind)
            ),
            "wins": definition.object == winning,
        }
        for name, found, winning in groups
        for definition in found
    ]
    if as_json:
        write_report("symbols", [result], out, extra={"defines": os.fsdecode(asked), "definers": rows})
        return
    if not rows:
        out.write(f"{shown(asked)}: defined by no loaded object\n")
    symbols = {row["symbol"] for row in rows}
    for name in sorted(symbols):
        if os.fsencode(name) != asked:
            out.write(f"{shown(asked)} is {shown(name)}:\n")
        for row in rows:
            if row["symbol"] != name:
                continue
            version = f"@{'@' if row['default'] else ''}{row['version']}" if row["version"] else ""
            mark = "wins" if row["wins"] else "    "
            out.write(
                f"{mark}  {shown(name)}{shown(version)}  {shown(row['object'])}"
                f"  ({row['binding']}, {row['visibility']})\n"
            )
