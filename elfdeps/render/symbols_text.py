"""`elfdeps symbols`: each symbol reference and the object it binds to (like LD_DEBUG=bindings),
or, with --defines, every loaded object that defines a name and the one that wins."""

from __future__ import annotations

import os
from typing import Any, TextIO

from elfdeps.binding import BindingReport, definitions, winner
from elfdeps.model import LoadResult
from elfdeps.render.jsonreport import write_report

__all__ = ["render_bindings", "render_definers"]


def render_bindings(
    result: LoadResult, report: BindingReport, out: TextIO, *, missing_only: bool, as_json: bool
) -> bool:
    """Print the bindings; True when some strong reference binds nowhere."""
    rows: list[dict[str, Any]] = []
    for binding in report.bindings:
        if missing_only and not binding.fails:
            continue
        rows.append(
            {
                "object": result.objects[binding.requester].path or result.main_path,
                "symbol": os.fsdecode(binding.symbol),
                "version": os.fsdecode(binding.version) if binding.version else None,
                "kind": binding.reloc_class.value,
                "lazy": binding.lazy,
                "weak": binding.weak_reference,
                "binds_to": result.objects[binding.target].path if binding.target is not None else None,
            }
        )
    if as_json:
        write_report("symbols", [result], out, extra={"bindings": rows})
    else:
        current = None
        for row in rows:
            if row["object"] != current:
                current = row["object"]
                out.write(f"{current}\n")
            name = row["symbol"] + (f"@{row['version']}" if row["version"] else "")
            target = row["binds_to"] or ("(unresolved, weak: 0)" if row["weak"] else "NOT FOUND")
            out.write(f"    {name} => {target}\n")
    return any(binding.fails for binding in report.bindings)


def render_definers(result: LoadResult, name: bytes, out: TextIO, *, as_json: bool) -> bool:
    """Every loaded object that defines ``name``, in scope order, and the one a reference binds to."""
    winning = winner(result, name)
    rows: list[dict[str, Any]] = [
        {
            "object": result.objects[definition.object].path or result.main_path,
            "version": os.fsdecode(definition.version) if definition.version else None,
            "default": not definition.symbol.hidden_version,
            "visibility": ("default", "internal", "hidden", "protected")[definition.symbol.visibility],
            "binding": {0: "local", 1: "global", 2: "weak", 10: "unique"}.get(
                definition.symbol.bind, str(definition.symbol.bind)
            ),
            "wins": definition.object == winning,
        }
        for definition in definitions(result, name)
    ]
    if as_json:
        write_report("symbols", [result], out, extra={"defines": os.fsdecode(name), "definers": rows})
    else:
        if not rows:
            out.write(f"{os.fsdecode(name)}: defined by no loaded object\n")
        for row in rows:
            version = f"@{'@' if row['default'] else ''}{row['version']}" if row["version"] else ""
            mark = "wins" if row["wins"] else "    "
            out.write(
                f"{mark}  {os.fsdecode(name)}{version}  {row['object']}  ({row['binding']}, {row['visibility']})\n"
            )
    return bool(rows)
