"""The fuzz harness' CI budget (issue 8 part 6) and the checks that the harness itself can fail.

`test_fuzz_budget` draws CI_MUTANTS mutants with hypothesis (derandomised: the same mutants on every
run, so a CI failure reproduces locally) and runs every command, plain, --json and SARIF, in every
place (harness.full_plan), plus a subprocess sample; every property of harness.py is checked on every
run. The long run is `scripts/fuzz` (tests/fuzz/README.md).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.harness import (
    COMMANDS,
    Run,
    Tally,
    Workspace,
    argv_for,
    check_run,
    full_plan,
    fuzz_one,
    run_in_process,
    run_subprocess,
    schema,
)
from fuzz.mutate import DrawChooser, mutate
from fuzz.seeds import GROUPS, LIBRARY, PROGRAM, Seed, build_seeds

CI_MUTANTS = 120  # x ~19 runs each: ~40 s on the shared 2-core CI machine
SUBPROCESS_SHARE = 8  # one mutant in 8 also runs one command as `python3 -m elfdeps`


@dataclass
class FuzzEnv:
    seeds: dict[tuple[str, str], Seed]
    workspace: Workspace


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    seed_dir, seeds = build_seeds()
    workspace = Workspace(tmp_path_factory.mktemp("fuzz"), seed_dir, tuple(GROUPS))
    yield FuzzEnv(seeds, workspace)


def _describe(failures: list[tuple[Run, list[Any]]]) -> str:
    return "\n".join(
        f"elfdeps {' '.join(run.argv)} -> {run.code}: {problem.category}: {problem.detail}"
        for run, problems in failures
        for problem in problems
    )


# ---------------------------------------------------------------------------------------- the seeds


def test_seeds_are_mapped_and_intact(fuzz_env: FuzzEnv) -> None:
    """The mutators aim at structures pyelftools found; an intact seed breaks no property, and each
    program resolves (list exits 0), so a mutant's failures are the damage's."""
    assert len(fuzz_env.seeds) == 3 * len(GROUPS)
    for seed in fuzz_env.seeds.values():
        regions = set(seed.layout.regions)
        assert {"ehdr", "phdrs", "dynamic", "dynstr", "dynsym", "reloc", "shdrs", "shstrtab"} <= regions
        assert {"hash", "gnu_hash"} & regions, seed.path
        kinds = {name.kind for name in seed.layout.names}
        assert "symbol" in kinds, (seed.path, kinds)
        if seed.name == PROGRAM:
            assert {"interp", "needed", "version", "verneed-file"} <= kinds and {"runpath", "rpath"} & kinds
            assert {"verneed", "versym"} <= regions
        if seed.name == LIBRARY:
            assert {"soname", "needed", "version"} <= kinds and {"runpath", "rpath"} & kinds, kinds
            assert {"verdef", "versym"} <= regions
        tally = Tally()
        failures = fuzz_one(seed, seed.data, f"intact {seed.path}", fuzz_env.workspace, tally, full_plan(seed))
        assert not failures, _describe(failures)
    for group in GROUPS:
        program = str(fuzz_env.workspace.root / group / PROGRAM)
        run = run_in_process(argv_for(("list",), program, fuzz_env.workspace.config))
        assert run.code == 0, (group, run.out, run.err)
        assert f"{LIBRARY} => {fuzz_env.workspace.root / group / LIBRARY}" in run.out


# -------------------------------------------------------------------------------------- the budget


@st.composite
def mutants(draw: st.DrawFn, seeds: dict[tuple[str, str], Seed]) -> tuple[Seed, bytes, list[str], bool, int]:
    chooser = DrawChooser(draw)
    seed = seeds[chooser.choice(sorted(seeds))]
    content, steps = mutate(seed.data, seed.layout, chooser)
    return seed, content, steps, chooser.integer(0, 7) == 0, chooser.integer(0, SUBPROCESS_SHARE * len(COMMANDS) - 1)


def test_fuzz_budget(fuzz_env: FuzzEnv) -> None:
    """CI_MUTANTS mutants, every command in every place, every property; then the spread of outcomes
    shows the mutants were neither all refused at the header nor all harmless."""
    tally = Tally()

    @settings(
        max_examples=CI_MUTANTS,
        derandomize=True,
        database=None,
        deadline=None,  # time is a property of each run (harness.RUN_SECONDS), not of the example
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def one_mutant(data: st.DataObject) -> None:
        seed, content, steps, hostile, pick = data.draw(mutants(fuzz_env.seeds))
        command = COMMANDS[pick] if pick < len(COMMANDS) else None
        failures = fuzz_one(
            seed,
            content,
            f"{seed.group}/{seed.name} {'; '.join(steps)}",
            fuzz_env.workspace,
            tally,
            full_plan(seed),
            hostile_copy=hostile,
            subprocess_command=command,
        )
        assert not failures, f"{seed.path} with {steps}:\n{_describe(failures)}"

    gc.freeze()  # collections in fuzz_one then scan only what the runs create
    try:
        one_mutant()
    finally:
        gc.unfreeze()
    assert tally.mutants >= CI_MUTANTS * 9 // 10, tally.mutants
    assert tally.runs >= 15 * tally.mutants
    assert min(tally.exit_codes[0], tally.exit_codes[1], tally.exit_codes[2]) >= tally.runs // 50, tally.exit_codes
    assert tally.subprocess_runs >= 5
    assert sum(tally.problems.values()) == 0


# ------------------------------------------------------------------------ the harness can fail


def _run(argv: tuple[str, ...] = ("list", "x"), code: int | None = 0, out: str = "", err: str = "", **kw: Any) -> Run:
    return Run(argv, code, out, err, kw.pop("cpu", 0.01), 0.01, **kw)


@pytest.mark.parametrize(
    ("run", "category"),
    [
        (_run(code=3, err="elfdeps: internal error: X (run with --traceback for details)\n"), "crash"),
        (_run(code=None, escaped="RecursionError: too deep"), "crash"),
        (_run(err="Traceback (most recent call last):\n"), "traceback"),
        (_run(out="\tlib\x1b[2J.so => not found\n"), "control"),
        (_run(out="lib\x9b2J.so\n"), "control"),
        (_run(err="elfdeps: lib\x7f: x\n"), "control"),
        (_run(out="lib\udcff.so\n"), "control"),
        (_run(out="a\rb\n"), "control"),
        (_run(out="lib\udcff.so\n", not_utf8=True, rss_mib=30.0), "control"),
        (_run(code=3, err="elfdeps: internal error: MemoryError: \n", rss_mib=30.0), "memory"),
        (_run(err="warning: something\n"), "stderr"),
        (_run(argv=("list", "--json", "x"), out='{"schema_version": 2'), "json"),
        (_run(argv=("list", "--json", "x"), out='{"schema_version": 2}'), "json"),
        (_run(argv=("audit", "--format", "sarif", "x"), out="{}"), "json"),
        (_run(cpu=2.5), "slow"),
        (_run(code=None, escaped="hang"), "hang"),
        (_run(rss_mib=300.0), "memory"),
    ],
)
def test_each_property_is_checked(run: Run, category: str) -> None:
    assert category in {problem.category for problem in check_run(run)}


def test_clean_output_passes() -> None:
    assert check_run(_run(out="\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n├── é \\x1b\n", code=1)) == []


def test_injected_names_reach_the_output(fuzz_env: FuzzEnv) -> None:
    """An ESC written into a DT_NEEDED of a real program is in elfdeps' output, escaped: the control
    check above looks at text that does carry the injected names."""
    seed = fuzz_env.seeds[("gnu64", PROGRAM)]
    needed = next(name for name in seed.layout.names if name.kind == "needed")
    content = bytearray(seed.data)
    content[needed.offset : needed.offset + 4] = b"\x1b[2J"
    with fuzz_env.workspace.placed(seed, bytes(content)) as directory:
        run = run_in_process(argv_for(("list",), str(directory / PROGRAM), fuzz_env.workspace.config))
    assert run.code == 1
    assert "\\x1b[2J" in run.out and "not found" in run.out
    assert check_run(run) == []


def test_fast_validator_agrees_with_jsonschema(fuzz_env: FuzzEnv) -> None:
    """The harness validates with jsonschema-rs; python jsonschema (the other tests' validator) gives the
    same verdict on real outputs of every JSON-producing command, intact and with a required field gone."""
    program = str(fuzz_env.workspace.root / "gnu64" / PROGRAM)
    checked = 0
    for command in COMMANDS:
        if "--json" not in command and "sarif" not in command:
            continue
        run = run_in_process(argv_for(command, program, fuzz_env.workspace.config))
        document = json.loads(run.out)
        kind = "sarif" if "sarif" in command else document["schema_version"]
        loaded = schema(kind)
        assert loaded is not None
        draft = jsonschema.Draft4Validator if kind == "sarif" else jsonschema.Draft202012Validator
        assert list(draft(loaded).iter_errors(document)) == []
        assert check_run(run) == []
        broken = dict(document)
        del broken["runs" if kind == "sarif" else "tool"]
        assert list(draft(loaded).iter_errors(broken)) != []
        assert "json" in {p.category for p in check_run(_run(argv=command, out=json.dumps(broken)))}
        checked += 1
    assert checked == 5


def test_subprocess_run_reports_rss_and_bytes(fuzz_env: FuzzEnv, tmp_path: Path) -> None:
    program = fuzz_env.workspace.root / "gnu64" / PROGRAM
    run = run_subprocess(argv_for(("tree", "--json"), str(program), fuzz_env.workspace.config), tmp_path)
    assert run.code == 0 and check_run(run) == []
    assert run.rss_mib is not None and 5 < run.rss_mib < 256
    json.loads(run.out)


def test_a_descriptor_left_open_is_a_leak(fuzz_env: FuzzEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """fuzz_one compares the process' descriptors before and after a mutant's runs (after a collection)."""
    import fuzz.harness

    kept = []

    def leaky_main(argv: list[str], _out: object, _err: object) -> int:
        kept.append(open(argv[-1], "rb"))  # noqa: SIM115 - the leak under test
        return 0

    monkeypatch.setattr(fuzz.harness, "main", leaky_main)
    seed = fuzz_env.seeds[("gnu64", PROGRAM)]
    tally = Tally()
    try:
        failures = fuzz_one(seed, seed.data, "leak", fuzz_env.workspace, tally, (("main", ("list",)),))
    finally:
        for handle in kept:
            handle.close()
    assert [problem.category for _run, problems in failures for problem in problems] == ["fd-leak"]
    assert tally.problems["fd-leak"] == 1
