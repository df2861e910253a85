"""The audit's text report: findings grouped by file, worst first, each with its hint; then each
audited file's highest required symbol version per family, and a summary line."""

from __future__ import annotations

from elfdeps.audit.rules import Finding, Severity
from elfdeps.audit.runner import AuditReport
from elfdeps.facts import TYPE_CHECKING
from elfdeps.render.printable import shown
from elfdeps.render.text import Palette

if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["render_audit"]


def _label(severity: Severity, palette: Palette) -> str:
    text = f"{severity.value:7}"
    if severity is Severity.ERROR:
        return palette.bad(text)
    if severity is Severity.WARNING:
        return palette.warn(text)
    return palette.dim(text)


def render_audit(report: AuditReport, out: TextIO, palette: Palette, show_versions: bool = True) -> None:
    by_object: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_object.setdefault(finding.object, []).append(finding)
    for path in sorted(by_object, key=lambda p: (-max(f.severity.rank for f in by_object[p]), p)):
        out.write(palette.name(shown(path)) + "\n")
        for finding in sorted(by_object[path], key=lambda f: (-f.severity.rank, f.rule, f.message)):
            out.write(f"  {_label(finding.severity, palette)} {finding.rule}: {shown(finding.message)}\n")
            if finding.hint:
                out.write(palette.dim(f"          hint: {shown(finding.hint)}") + "\n")
    if show_versions:
        versioned = [entry for entry in report.entries if entry.highest_versions]
        if versioned:
            out.write(palette.dim("highest required symbol versions:") + "\n")
            for entry in versioned:
                versions = ", ".join(f"{v}" for _family, v in sorted(entry.highest_versions.items()))
                out.write(palette.dim(f"  {shown(entry.path)}: {shown(versions)}") + "\n")
    counts = {severity: 0 for severity in Severity}
    for finding in report.findings:
        counts[finding.severity] += 1

    def count(number: int, word: str) -> str:
        if number == 1 or word == "info":
            return f"{number} {word}"
        return f"{number} {word[:-1]}ies" if word.endswith("y") else f"{number} {word}s"

    summary = (
        f"{count(counts[Severity.ERROR], 'error')}, {count(counts[Severity.WARNING], 'warning')},"
        f" {count(counts[Severity.INFO], 'info')} in {count(len(report.entries), 'file')}"
    )
    if report.suppressed:
        summary += f" ({report.suppressed} suppressed by --ignore or the baseline)"
    left_out = []
    if report.walk.copies:
        left_out.append(count(len(report.walk.copies), "copy") + " of an audited file")
    if report.walk.build_scripts:
        left_out.append(count(len(report.walk.build_scripts), "build-script program"))
    if report.toolchain_findings:
        left_out.append(count(report.toolchain_findings, "finding") + " in Rust toolchain files (--all shows them)")
    if left_out:
        summary += "; not shown: " + ", ".join(left_out)
    out.write(summary + "\n")
