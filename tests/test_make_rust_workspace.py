"""bench/make_rust_workspace.py: the crate DAG it plans (layers, diamonds, every crate reachable from the
program) and a small real build: every crate dylib resolves with the LD_LIBRARY_PATH it reports, the
program runs, a second call reuses the build."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import make_rust_workspace as generator
from fixtures.rust import elf_facts, loader


def test_plan_has_layers_diamonds_and_no_orphan() -> None:
    layers = generator.plan(generator.DEFAULT_N)
    crates = [crate for layer in layers for crate in layer]
    assert len(crates) == generator.DEFAULT_N
    assert len({crate.name for crate in crates}) == len(crates)
    dependents = Counter(dep.name for crate in crates for dep in crate.deps)
    below_top = [crate.name for layer in layers[1:] for crate in layer]
    assert set(below_top) <= set(dependents)  # every crate below layer 0 is used
    assert sum(dependents[name] >= 2 for name in below_top) >= len(below_top) // 2  # diamonds
    for crate in crates:
        assert all(dep.layer > crate.layer for dep in crate.deps)  # a DAG, layered downwards
    assert generator.plan(generator.DEFAULT_N) == layers  # the seed makes it deterministic


def test_small_workspace_builds_runs_and_is_reused(tmp_path: Path) -> None:
    out = tmp_path / "ws"
    workspace = generator.build(8, out)
    assert workspace.exe == out / "target/debug/app"
    dylibs = sorted(p.name for p in workspace.deps.glob("lib*.so"))
    assert len([name for name in dylibs if re.fullmatch(r"libc\d+n\d{3}\.so", name)]) == 8
    dynamic = elf_facts.dynamic(workspace.exe)
    assert dynamic.runpath is None and elf_facts.libstd_needed(workspace.exe)
    assert loader.trace(workspace.exe).not_found  # without the search path nothing of it resolves
    traced = loader.trace(workspace.exe, workspace.ld_library_path)
    assert traced.not_found == ()
    assert len([p for p in traced.paths if re.search(r"/libc\d+n\d{3}\.so$", p)]) == 8
    run = loader.run(workspace.exe, workspace.ld_library_path)
    assert run.returncode == 0 and re.fullmatch(r"\d+ c0n000: \{\"c0n000\": \d+\}\n", run.stdout)
    built = (out / "workspace.json").stat().st_mtime_ns
    again = generator.build(8, out)
    assert again == workspace
    assert (out / "workspace.json").stat().st_mtime_ns == built


def test_command_line_prints_program_and_search_path(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    generator.build(6, out)  # built once here, reused by the command
    script = Path(generator.__file__)
    proc = subprocess.run(
        [sys.executable, str(script), "-n", "6", "--out", str(out)], capture_output=True, text=True, check=True
    )
    exe, search = proc.stdout.splitlines()
    assert exe == str(out / "target/debug/app")
    assert search.startswith(f"LD_LIBRARY_PATH={out / 'target/debug/deps'}:")
