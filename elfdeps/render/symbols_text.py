"""`elfdeps symbols`: each symbol reference and the object it binds to (like LD_DEBUG=bindings),
or, with --defines, every loaded object that defines a name and the one that wins."""

from __future__ import annotations

import os
from typing import Any, TextIO

from elfdeps.binding import BindingReport
from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError
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
    """Every loaded object whose .dynsym defines ``name`` (exported), in scope order; the first wins."""
    definers: list[dict[str, Any]] = []
    for obj in result.objects:
        if not obj.found or obj.elf is None or obj.elf.dynamic is None:
            continue
        try:
            table = obj.elf.symbol_table
            for index in table.find(name):
                symbol = table.symbol(index)
                if symbol.shndx == C.SHN_UNDEF or symbol.bind == 0:
                    continue
                version = table.versions().get(symbol.version_index) if table.has_versym else None
                definers.append(
                    {
                        "object": obj.path,
                        "version": os.fsdecode(version.name) if version and symbol.version_index > 1 else None,
                        "default": not symbol.hidden_version,
                        "visibility": ("default", "internal", "hidden", "protected")[symbol.visibility],
                        "binding": {1: "global", 2: "weak", 10: "unique"}.get(symbol.bind, str(symbol.bind)),
                    }
                )
        except ElfFormatError:
            continue
    if as_json:
        write_report("symbols", [result], out, extra={"defines": os.fsdecode(name), "definers": definers})
    else:
        if not definers:
            out.write(f"{os.fsdecode(name)}: defined by no loaded object\n")
        for position, row in enumerate(definers):
            version = f"@{'@' if row['default'] else ''}{row['version']}" if row["version"] else ""
            mark = "wins" if position == 0 else "    "
            out.write(
                f"{mark}  {os.fsdecode(name)}{version}  {row['object']}  ({row['binding']}, {row['visibility']})\n"
            )
    return bool(definers)
