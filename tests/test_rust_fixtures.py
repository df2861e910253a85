"""The Rust fixture corpus (fixtures/rust/): every analysis case against the real loader, a real run, and
the findings the files imply; the builder's cache and failure handling; the finding matcher.

Per case, three independent checks of what fixtures/rust/scenarios/ declares:
- the loader: `LD_TRACE_LOADED_OBJECTS=1 ld.so TARGET` with the case's LD_LIBRARY_PATH lists exactly
  the declared names as not found;
- a run: exit status, whole stdout, stderr substrings (the observable harm: ThreadIds, panic hooks,
  "registered 1" twice, `symbol lookup error`);
- the expected findings, rule by rule, equal what fixtures/rust/oracle.py derives from the files and
  the loader (readelf, c++filt, `ldd -r`), so an expectation cannot be silently wrong.

rust.md's facts per scenario (logs, NEEDED, symbols) are in test_rust_fixture_facts.py. The only skip
is a scenario needing `rustc +nightly` on a machine without one (fixtures/rust/README.md).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rust_support import fixture_or_skip

import fixtures.rust as rust_package
from fixtures.rust import (
    SCENARIOS,
    Case,
    FixtureBuildError,
    RustFixture,
    RustScenario,
    ToolchainUnavailable,
    Want,
    by_name,
    elf_facts,
    loader,
    nightly,
    oracle,
    rust_fixture,
)
from fixtures.rust.build import MANIFEST, build_scenario, fixture_key
from fixtures.rust.commands import Rustc
from fixtures.rust.matching import unmatched
from fixtures.rust.sources import File
from fixtures.rust.toolchain import probe, stable

# DESIGN.md §3.4 rule ids a Rust case may expect
RULES = {
    "missing-library",
    "missing-symbol",
    "needs-environment",
    "unused-dependency",
    "rpath-absolute",
    "rpath-nonexistent",
    "duplicate-crate",
    "crate-two-builds",
    "crate-mismatch",
    "rust-toolchain-mix",
    "soname-mismatch",
}
# Rules whose expected findings the oracle derives in full: compared as exact sets.
EXACT = (
    "missing-library",
    "missing-symbol",
    "rpath-absolute",
    "rpath-nonexistent",
    "soname-mismatch",
    "duplicate-crate",
    "crate-two-builds",
    "rust-toolchain-mix",
)
CASES = [(scenario.name, case.name) for scenario in SCENARIOS for case in scenario.cases]
IDS = [f"{scenario}/{case}" for scenario, case in CASES]
RUNS = [(s.name, c.name) for s in SCENARIOS for c in s.cases if c.outcome is not None]
# A scenario whose fixed twin lives in another scenario, and that twin.
TWIN_ELSEWHERE = {"twostd_mixed": ("twostd", "f2_shared_std_bundle")}


def _case(scenario: str, name: str) -> tuple[RustFixture, Case]:
    fx = fixture_or_skip(scenario)
    return fx, fx.case(name)


def _keys(fx: RustFixture, case: Case) -> set[oracle.Key]:
    return {
        (
            want.rule,
            want.severity,
            frozenset(os.path.realpath(path) for path in fx.objects(want)),
            want.crate or (fx.fill(want.library) if want.library else None),
        )
        for want in case.findings
        if want.rule in EXACT
    }


def _shown(fx: RustFixture, keys: set[oracle.Key]) -> list[tuple[str, str, list[str], str | None]]:
    """Keys with paths relative to the fixture, sorted: readable assertion diffs."""
    prefix = os.path.realpath(fx.dir) + "/"
    return sorted(
        (rule, severity, sorted(p.removeprefix(prefix) for p in objects), extra)
        for rule, severity, objects, extra in keys
    )


# ------------------------------------------------------------------------------------ declarations


def test_scenarios_and_cases_are_declared_consistently() -> None:
    names = [scenario.name for scenario in SCENARIOS]
    assert len(set(names)) == len(names) == 8
    case_names = [name for _, name in CASES]
    assert len(set(case_names)) == len(case_names) >= 30
    for scenario in SCENARIOS:
        own = {case.name for case in scenario.cases}
        for case in scenario.cases:
            assert case.fixes is None or case.fixes in own, f"{case.name} fixes an unknown case {case.fixes}"
            assert {want.rule for want in case.findings} <= RULES, case.name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_has_a_silent_twin_that_runs(scenario: RustScenario) -> None:
    """Each scenario has a case with no finding at all whose program runs cleanly and says which
    problem it fixes (twostd_mixed's twin is in twostd)."""
    home, twin_name = TWIN_ELSEWHERE.get(scenario.name, (scenario.name, None))
    twins = [
        case
        for case in by_name(home).cases
        if not case.findings and case.outcome and case.outcome.returncode == 0 and case.fixes
    ]
    assert twins, f"{scenario.name} has no silent twin"
    if twin_name is not None:
        assert twin_name in {twin.name for twin in twins}


def test_readme_table_lists_the_rules_of_every_case() -> None:
    """fixtures/rust/README.md's "Cases and expected findings" row of each case names exactly the rules
    its declared findings have ("none" for a silent twin): the table stays in step with the data."""
    readme = (Path(__file__).resolve().parent.parent / "fixtures" / "rust" / "README.md").read_text()
    pattern = re.compile("|".join(sorted(RULES, key=len, reverse=True)))
    checked = 0
    for scenario in SCENARIOS:
        for case in scenario.cases:
            rows = [line for line in readme.splitlines() if line.startswith(f"| `{case.name}` |")]
            assert len(rows) == 1, f"README has {len(rows)} rows for {case.name}"
            findings = rows[0].rstrip(" |").rsplit(" | ", 1)[1]
            expected = {want.rule for want in case.findings}
            assert set(pattern.findall(findings)) == expected, case.name
            assert (findings == "none") == (not expected), case.name
            checked += 1
    assert checked == len(CASES)


# ------------------------------------------------------------------------------------------- cases


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_loader_finds_what_the_case_says(scenario: str, name: str) -> None:
    fx, case = _case(scenario, name)
    trace = loader.trace(fx.path(case.target), fx.ld_library_path(case))
    assert set(trace.not_found) == {fx.fill(n) for n in case.not_found}
    assert any(os.path.basename(path) == "libc.so.6" for path in trace.paths)


@pytest.mark.parametrize(("scenario", "name"), RUNS, ids=[f"{s}/{c}" for s, c in RUNS])
def test_running_shows_the_declared_outcome(scenario: str, name: str) -> None:
    fx, case = _case(scenario, name)
    assert case.outcome is not None
    run = loader.run(fx.path(case.target), fx.ld_library_path(case))
    assert run.returncode == case.outcome.returncode, run.stderr
    if case.outcome.stdout is not None:
        assert run.stdout.splitlines() == list(case.outcome.stdout)
    for text in case.outcome.stderr:
        assert fx.fill(text) in run.stderr
    for text in case.outcome.stderr_lacks:
        assert fx.fill(text) not in run.stderr


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_expected_findings_follow_from_the_files(scenario: str, name: str) -> None:
    """The expected findings of every EXACT rule are exactly those the oracle derives."""
    fx, case = _case(scenario, name)
    loaded = oracle.load(fx, case)
    derived = (
        oracle.missing_libraries(loaded)
        | oracle.missing_symbols(fx, case, loaded)
        | oracle.rpath_findings(loaded)
        | oracle.soname_mismatches(loaded)
        | oracle.duplicate_crates(loaded)
        | oracle.crate_two_builds(loaded)
        | oracle.toolchain_mix(loaded)
    )
    assert _shown(fx, _keys(fx, case)) == _shown(fx, derived)


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_needs_environment_is_every_library_found_through_it(scenario: str, name: str) -> None:
    fx, case = _case(scenario, name)
    loaded = oracle.load(fx, case)
    found = sorted(str(library) for *_, library in oracle.needs_environment(fx, case, loaded))
    wants = [want for want in case.findings if want.rule == "needs-environment"]
    for library in found:
        matching = [w for w in wants if fnmatch.fnmatchcase(library, fx.fill(w.library or ""))]
        assert len(matching) == 1, f"{library}: {len(matching)} needs-environment expectations match"
    for want in wants:
        assert want.objects == (case.target,)
        assert any(fnmatch.fnmatchcase(library, fx.fill(want.library or "")) for library in found), want
    assert bool(found) == bool(wants)


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_crate_mismatches_and_missing_symbols_hold(scenario: str, name: str) -> None:
    """crate-mismatch: exactly the importers the oracle finds, each expected crate among theirs; a
    missing-symbol naming its symbol: `ldd -r` reports that symbol for that object."""
    fx, case = _case(scenario, name)
    loaded = oracle.load(fx, case)
    mismatches = oracle.crate_mismatches(loaded)
    wants = [want for want in case.findings if want.rule == "crate-mismatch"]
    assert {os.path.realpath(p) for want in wants for p in fx.objects(want)} == set(mismatches)
    for want in wants:
        (importer,) = fx.objects(want)
        assert want.crate is None or want.crate in mismatches[os.path.realpath(importer)]
    for want in (w for w in case.findings if w.rule == "missing-symbol" and w.symbol):
        (obj,) = fx.objects(want)
        assert want.symbol in oracle.unbound_names(fx, case, loaded, os.path.realpath(obj))


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_expected_unused_dependencies_bind_nothing(scenario: str, name: str) -> None:
    """unused-dependency of the target: exactly what `ldd -u` reports (unless a library is missing);
    of a library: it NEEDs the library, which is loaded, and none of its .dynsym imports is first
    defined there (stricter than relocation-based binding). README: which unused ones are not reported."""
    fx, case = _case(scenario, name)
    loaded = oracle.load(fx, case)
    wants = [want for want in case.findings if want.rule == "unused-dependency"]
    if not loaded.trace.not_found:
        unused = {os.path.basename(p) for p in loader.unused_dependencies(loaded.target, fx.ld_library_path(case))}
        assert {fx.fill(w.library or "") for w in wants if w.objects == (case.target,)} == unused
    definers = oracle.first_definers(loaded)
    for want in (w for w in wants if w.objects != (case.target,)):
        (obj,) = fx.objects(want)
        library = fx.fill(want.library or "")
        assert library in elf_facts.dynamic(obj).needed
        provider = os.path.realpath(str(loaded.trace.path_of(library)))
        bound = [s.name for s in elf_facts.imports(obj) if definers.get(s.name) == provider]
        assert bound == [], f"{obj} binds {bound[:3]} from {library}"


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=IDS)
def test_expected_objects_exist(scenario: str, name: str) -> None:
    fx, case = _case(scenario, name)
    assert fx.path(case.target).is_file()
    for want in case.findings:
        files = fx.objects(want)
        if want.rule in ("duplicate-crate", "crate-two-builds", "rust-toolchain-mix"):
            assert len(files) >= 2, want
        else:
            assert len(files) == 1, want


# ------------------------------------------------------------------------------------------ matcher


def _finding_for(fx: RustFixture, want: Want) -> dict[str, object]:
    """A finding as elfdeps would write it for ``want``: loader-style paths (`bin/../lib/...`)."""
    first, *others = fx.objects(want)
    finding: dict[str, object] = {
        "rule": want.rule,
        "severity": want.severity,
        "object": str(first.parent / ".." / first.parent.name / first.name),
        "message": f"about {want.crate or 'it'}",
        "related": [str(path) for path in others],
    }
    if want.library is not None:
        finding["library"] = "/some/dir/" + fx.fill(want.library).replace("*", "0")
    if want.symbol is not None:
        finding["symbol"] = want.symbol
    return finding


def test_matcher_pairs_findings_with_expectations() -> None:
    fx = rust_fixture("dup")
    case = fx.case("f4a_two_versions")
    findings = [_finding_for(fx, want) for want in case.findings]
    assert unmatched(fx, case, findings) == ((), ())
    # a missing finding, a wrong severity, an extra finding: each is reported
    assert unmatched(fx, case, findings[1:])[0] == (case.findings[0],)
    wrong = {**findings[0], "severity": "warning"}
    assert unmatched(fx, case, [wrong, *findings[1:]]) == ((case.findings[0],), (wrong,))
    extra = {**findings[0], "rule": "interposed-symbol"}
    assert unmatched(fx, case, [*findings, extra]) == ((), (extra,))
    # a multi-object finding must name every file of the expectation
    partial = {**findings[0], "related": []}
    assert unmatched(fx, case, [partial, *findings[1:]])[0] == (case.findings[0],)
    # the crate may be a field or a word of the message
    crate_field = {**findings[0], "crate": "util", "message": "two builds"}
    assert unmatched(fx, case, [crate_field, *findings[1:]]) == ((), ())
    other_crate = {**findings[0], "crate": "tag"}
    assert unmatched(fx, case, [other_crate, *findings[1:]])[0] == (case.findings[0],)


# ------------------------------------------------------------------------------------------ builder


def test_cached_fixture_is_reused_without_building() -> None:
    fx = rust_fixture("ws")
    manifest = (fx.dir / MANIFEST).stat().st_mtime_ns
    assert build_scenario(by_name("ws")) == fx.dir
    assert (fx.dir / MANIFEST).stat().st_mtime_ns == manifest
    assert not list(fx.dir.parent.glob(".rust-ws-*/"))  # no temporary build directory left behind


def test_cache_key_covers_the_recipe_and_the_toolchains(tmp_path: Path) -> None:
    scenario = by_name("twostd")
    default = stable()
    changed = RustScenario(scenario.name, scenario.pins, (*scenario.recipe, File("extra.txt", "x")))
    keys = {
        fixture_key(scenario, tmp_path, default, None),
        fixture_key(changed, tmp_path, default, None),
        fixture_key(scenario, tmp_path / "elsewhere", default, None),
    }
    assert len(keys) == 3
    try:
        second = nightly()
    except ToolchainUnavailable:
        return  # the nightly's part of the key cannot be shown without one
    assert fixture_key(scenario, tmp_path, default, second) != fixture_key(scenario, tmp_path, default, None)


BROKEN = RustScenario(
    "broken",
    "a source that does not compile",
    (File("broken.rs", 'fn main() { let x: u32 = "text"; }\n'), Rustc("broken", "broken.rs", "broken", "bin")),
)


def test_an_expected_failure_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELFDEPS_FIXTURE_CACHE", str(tmp_path))
    expected = RustScenario(
        "expected-failure", BROKEN.pins, (BROKEN.recipe[0], Rustc("broken", "broken.rs", "broken", "bin", expect_rc=1))
    )
    directory = build_scenario(expected)
    assert (directory / "logs" / "broken.txt").read_text().count("mismatched types") == 1
    assert not (directory / "broken").exists()


def test_an_unexpected_failure_stops_the_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELFDEPS_FIXTURE_CACHE", str(tmp_path))
    with pytest.raises(FixtureBuildError, match=r"step 'broken'.*returned 1, the recipe expects 0"):
        build_scenario(BROKEN)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir() and "broken" in p.name] == []


TINY = RustScenario(
    "tiny",
    "a program, to test the builder",
    (File("tiny.rs", 'fn main() { println!("tiny"); }\n'), Rustc("tiny", "tiny.rs", "tiny", "bin")),
)


def test_parallel_builds_of_one_fixture_give_one_complete_directory(tmp_path: Path) -> None:
    """Two processes asking for the same fixture at once (pytest-xdist workers): one builds, the other
    waits on the lock and reuses it; no temporary directory is left."""
    code = (
        "from fixtures.rust import RustScenario\n"
        "from fixtures.rust.build import build_scenario\n"
        "from fixtures.rust.commands import Rustc\n"
        "from fixtures.rust.sources import File\n"
        f"print(build_scenario({TINY!r}))\n"
    )
    env = {**os.environ, "ELFDEPS_FIXTURE_CACHE": str(tmp_path)}
    repo = Path(__file__).resolve().parent.parent
    workers = [
        subprocess.Popen([sys.executable, "-c", code], cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0].strip() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert outputs[0] == outputs[1]
    built = Path(outputs[0])
    assert (built / MANIFEST).is_file() and (built / "tiny").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [built.name]


MODULES = sorted(info.name for info in pkgutil.walk_packages(rust_package.__path__, "fixtures.rust."))


@pytest.mark.parametrize("name", ["fixtures.rust", *MODULES])
def test_fixture_modules_say_their_job_and_export_what_exists(name: str) -> None:
    imported = importlib.import_module(name)
    assert imported.__doc__ and imported.__doc__.strip()
    exported = getattr(imported, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert all(hasattr(imported, name) for name in exported)


def test_a_missing_toolchain_gives_one_reason() -> None:
    with pytest.raises(ToolchainUnavailable) as error:
        probe("elfdeps-no-such-toolchain")
    reason = str(error.value)
    assert "+elfdeps-no-such-toolchain" in reason
    assert "\n" not in reason
