"""A missing library explains the symbols it would have defined: their missing-symbol findings are
folded into that library's missing-library finding (a count and a few examples), so five missing
dylibs make five errors, not thirty.

Proof comes from the combined fix (elfdeps.advice.fix): the start is emulated and bound again with
the copies found elsewhere; a reference that binds there to a library that was missing is folded into
it; one that still binds nowhere stays a missing-symbol finding. Without copies nothing can be proved
either way: the references are folded as "not checked" into the missing-library findings.
"""

from __future__ import annotations

import os

from elfdeps.audit.rules import Finding
from elfdeps.binding import BindingReport
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import LoadResult
from elfdeps.rust.demangle import readable

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fold_missing_symbols"]

EXAMPLES = 3

_Reference = tuple[str, str | None, str | None]  # (requester path, symbol, version)


def _failing(result: LoadResult, report: BindingReport) -> set[_Reference]:
    return {
        (
            result.objects[binding.requester].path or result.main_path,
            os.fsdecode(binding.symbol),
            os.fsdecode(binding.version) if binding.version else None,
        )
        for binding in report.bindings
        if binding.fails
    }


def _provider_names(fixed: LoadResult, fixed_report: BindingReport) -> dict[_Reference, str]:
    """Each reference that binds once the copies are found, and the name of the library it binds to."""
    names: dict[_Reference, str] = {}
    for binding in fixed_report.bindings:
        if binding.target is None:
            continue
        requester = fixed.objects[binding.requester].path or fixed.main_path
        version = os.fsdecode(binding.version) if binding.version else None
        names[(requester, os.fsdecode(binding.symbol), version)] = fixed.objects[binding.target].display_name
    return names


def _with_folded(finding: Finding, symbols: Sequence[str], checked: bool) -> Finding:
    examples = ", ".join(readable(symbols[:EXAMPLES])) + (
        f" and {len(symbols) - EXAMPLES} more" if len(symbols) > EXAMPLES else ""
    )
    count = len(symbols)
    references = f"{count} undefined symbol{'s' if count != 1 else ''}"
    if checked:
        text = f"; {references} would bind to it once found ({examples})"
    else:
        text = f"; {references} not checked: the missing libraries may define them ({examples})"
    return finding._replace(message=finding.message + text, folded=finding.folded + count)


def fold_missing_symbols(
    findings: list[Finding],
    result: LoadResult,
    report: BindingReport,
    fixed: LoadResult | None,
    fixed_report: BindingReport | None,
) -> list[Finding]:
    """``findings`` with the missing-symbol findings a missing library explains folded into it."""
    missing = [index for index, finding in enumerate(findings) if finding.rule == "missing-library"]
    if not missing:
        return findings
    failing = _failing(result, report)
    providers = _provider_names(fixed, fixed_report) if fixed is not None and fixed_report is not None else None
    by_library: dict[int, list[str]] = {}  # position of a missing-library finding -> its folded symbols
    kept: list[Finding] = []
    for finding in findings:
        if finding.rule != "missing-symbol" or finding.symbol is None:
            kept.append(finding)
            continue
        reference = (finding.object, finding.symbol, finding.version)
        if reference not in failing:
            kept.append(finding)
            continue
        if providers is None:
            library = None  # no copy to check against: fold into the requester's own (or the first) one
        else:
            library = providers.get(reference)
            if library is None:
                kept.append(finding)  # even with the copies, nothing defines it: a real missing symbol
                continue
        candidates = [i for i in missing if library is None or findings[i].library == library]
        if not candidates:
            kept.append(finding)
            continue
        own = [i for i in candidates if findings[i].object == finding.object]
        by_library.setdefault((own or candidates)[0], []).append(finding.symbol)
    folded = {id(findings[position]): symbols for position, symbols in by_library.items()}
    return [
        _with_folded(finding, folded[id(finding)], providers is not None) if id(finding) in folded else finding
        for finding in kept
    ]
