"""The combined fix `tree` prints (one LD_LIBRARY_PATH for every missing library, verified by emulating
the start again) makes the program start, for real: on a copy of each Rust fixture case whose program
the loader cannot start, elfdeps' `fix` is applied and the program is run. Its output must be what the
case's working twin prints (the same program started with cargo's path), and the real loader must list
what elfdeps lists with the fix."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from oracle import trace
from rust_support import fixture_or_skip

from elfdeps.cli import main
from fixtures.rust import SCENARIOS, loader

CASES = [(scenario.name, case.name) for scenario in SCENARIOS for case in scenario.cases if case.not_found]
# The case whose program is the same build started the way that works (what it must print once fixed).
TWINS = {
    "f1b_no_search_path": "f1b_with_search_path",
    "f1b_deps_only": "f1b_with_search_path",
    "f1d_rpath_deep_copy": "f1d_rpath_in_place",
    "f5_only_other_toolchain": "f5_matching_libstd_bundle",
}


def _elfdeps(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out, io.StringIO())
    return code, out.getvalue()


def test_every_case_with_a_missing_library_has_a_working_twin() -> None:
    # f1b: nothing on the path, or deps/ only (libstd missing); f1d: -C rpath's climbing entry broken by
    # a move; f5: another toolchain's libdir given
    assert {name for _scenario, name in CASES} == set(TWINS)


@pytest.mark.parametrize(("scenario", "case_name"), CASES)
def test_following_the_fix_makes_the_program_start(scenario: str, case_name: str, tmp_path: Path) -> None:
    fx = fixture_or_skip(scenario)
    case = fx.case(case_name)
    copy = tmp_path / "copy"
    shutil.copytree(fx.path("."), copy, symlinks=True, ignore=shutil.ignore_patterns("logs"))
    program = copy / case.target
    given = fx.ld_library_path(case)
    if given:  # the case's own path, moved with the copy where it pointed into the fixture
        given = given.replace(str(fx.path(".")), str(copy))
    environment = ["--ld-library-path", given] if given else []
    code, report = _elfdeps("tree", "--json", "--no-env", *environment, str(program))
    assert code == 1, "the case's program misses libraries"
    fix: dict[str, Any] = json.loads(report)["files"][0]["fix"]
    assert fix["complete"] and fix["still_missing"] == [], fix
    assert fix["ld_library_path"].startswith(given or ""), "the given path stays first"

    code, listed = _elfdeps("list", "--no-env", "--ld-library-path", fix["ld_library_path"], str(program))
    assert code == 0
    assert tuple(listed.splitlines()) == trace(str(program), env={"LD_LIBRARY_PATH": fix["ld_library_path"]}).lines

    ran = loader.run(program, fix["ld_library_path"])
    assert ran.returncode == 0, ran.stderr
    twin = fx.case(TWINS[case_name]).outcome
    assert twin is not None and twin.returncode == 0 and twin.stdout
    assert tuple(ran.stdout.splitlines()) == twin.stdout
