"""`elfdeps audit` on every Rust fixture case (fixtures/rust/, issue 6): exactly the findings the case
declares (rule, severity, objects, crate, library, symbol; fixtures/rust/matching.py), and none for the
fixed twins. The declarations are checked against the files and the real loader by
tests/test_rust_fixtures.py, independently of elfdeps."""

from __future__ import annotations

import glob
import io
import json
import os
import subprocess
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


RUST_RULES = {"duplicate-crate", "crate-two-builds", "crate-mismatch", "rust-toolchain-mix", "soname-mismatch"}


def _rust_findings(*paths: str) -> list[tuple[str, str]]:
    """The Rust findings of `audit -a` (toolchain files' findings shown) over ``paths``."""
    out = io.StringIO()
    main(["audit", "--json", "--no-env", "-a", "-j", "2", "--no-progress", *paths], out, io.StringIO())
    report = json.loads(out.getvalue())
    assert report["files"], paths
    return [(f["rule"], f["object"]) for f in report["findings"] if f["rule"] in RUST_RULES]


def _toolchain() -> tuple[str, str]:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True).stdout
    libdir = subprocess.run(["rustc", "--print", "target-libdir"], capture_output=True, text=True, check=True).stdout
    (libstd,) = glob.glob(os.path.join(libdir.strip(), "libstd-*.so"))
    return os.path.join(sysroot.strip(), "bin", "rustc"), libstd


def test_no_rust_finding_on_the_toolchains_own_files() -> None:
    rustc, libstd = _toolchain()
    assert _rust_findings(rustc) == []
    assert _rust_findings(libstd) == []


def test_no_rust_finding_on_the_systems_programs() -> None:
    assert _rust_findings("/usr/bin", "/usr/sbin") == []


@pytest.mark.full
def test_no_rust_finding_on_the_systems_libraries() -> None:
    assert _rust_findings("/usr/lib/x86_64-linux-gnu") == []
