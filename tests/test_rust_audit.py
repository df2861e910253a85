"""`elfdeps audit` on every Rust fixture case (fixtures/rust/, issue 6): exactly the findings the case
declares (rule, severity, objects, crate, library, symbol; fixtures/rust/matching.py), and none for the
fixed twins. The declarations are checked against the files and the real loader by
tests/test_rust_fixtures.py, independently of elfdeps."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rust_support import fixture_or_skip

from elfdeps.cli import main
from fixtures.rust import SCENARIOS
from fixtures.rust.matching import unmatched

CASES = [(scenario.name, case.name) for scenario in SCENARIOS for case in scenario.cases]


def audit_json(target: str, ld_library_path: str | None) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["audit", "--json", "--no-env", "-j", "1", "--no-progress"]
    if ld_library_path:
        argv += ["--ld-library-path", ld_library_path]
    code = main([*argv, target], out, err)
    assert not err.getvalue(), err.getvalue()
    report: dict[str, Any] = json.loads(out.getvalue())
    assert code == (1 if any(f["severity"] == "error" for f in report["findings"]) else 0)
    return report


@pytest.mark.parametrize(("scenario", "case_name"), CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_rust_case_findings_exact(scenario: str, case_name: str) -> None:
    fixture = fixture_or_skip(scenario)
    case = fixture.case(case_name)
    report = audit_json(str(fixture.file(case.target)), fixture.ld_library_path(case))
    wants_left, findings_left = unmatched(fixture, case, report["findings"])
    shown = json.dumps([{k: f[k] for k in ("rule", "severity", "object", "message")} for f in findings_left], indent=1)
    assert not wants_left, f"expected but not reported: {wants_left}"
    assert not findings_left, f"reported but not expected:\n{shown}"
