"""SARIF 2.1.0 output for code-scanning services (GitHub accepts it): one run, the rule registry as
the tool's rules, one result per finding with a stable partial fingerprint."""

from __future__ import annotations

import hashlib
import json
import os

from elfdeps import __version__
from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.audit.runner import AuditReport
from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["write_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _location(path: str, base: str) -> dict[str, Any]:
    absolute = os.path.abspath(path)
    if absolute.startswith(base + os.sep):
        artifact = {"uri": os.path.relpath(absolute, base).replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}
    else:
        artifact = {"uri": "file://" + absolute}
    return {"physicalLocation": {"artifactLocation": artifact}}


def _result(finding: Finding, base: str) -> dict[str, Any]:
    text = finding.message + (f" Hint: {finding.hint}" if finding.hint else "")
    # surrogateescape: a name that is not UTF-8 (os.fsdecode's \udcXX) hashes as the file's own bytes
    key = "\0".join(str(part) for part in finding.key).encode("utf-8", "surrogateescape")
    fingerprint = hashlib.sha256(key).hexdigest()
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": list(RULES).index(finding.rule),
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [_location(finding.object, base)],
        "partialFingerprints": {"elfdepsFinding/v1": fingerprint},
    }
    properties: dict[str, Any] = {
        key: value
        for key, value in (("symbol", finding.symbol), ("version", finding.version), ("library", finding.library))
        if value
    }
    if finding.related:
        properties["related"] = list(finding.related)
    if properties:
        result["properties"] = properties
    return result


def write_sarif(report: AuditReport, out: TextIO, base: str | None = None) -> None:
    base = os.path.abspath(base or os.getcwd())
    rules = [
        {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.summary},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "helpUri": "https://pypi.org/project/elfdeps-analyzer/",
        }
        for rule in RULES.values()
    ]
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "elfdeps",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/elfdeps-analyzer/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + base + "/"}},
                "results": [_result(finding, base) for finding in report.findings],
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
    json.dump(sarif, out, indent=2)
    out.write("\n")
