"""The resolution options that change the emulated loader's inputs, each checked against ld.so where
ld.so has the equivalent (run in trace mode on this machine, options before the program):

  elfdeps --hwcaps LIST        ld.so --glibc-hwcaps-mask MASK (the machine's active levels MASK keeps)
                               ld.so --glibc-hwcaps-prepend NAME (elfdeps: NAME first, then the levels)
  elfdeps --inhibit-cache      ld.so --inhibit-cache
  elfdeps --preload LIST       ld.so --preload LIST
  elfdeps --platform/--lib     no ld.so option: the machine's own values must reproduce ld.so's trace,
                               other values give the paths loader.md 4.1/5 derive from them
  elfdeps --default-dirs       no ld.so option: the real defaults reproduce ld.so's trace, others give
                               the paths and candidates loader.md 3.4 step 6 derives
and the options that change elfdeps itself: --traceback (an internal error's traceback) and tree's
-a/--all (every edge expanded; checked through JSON and line counts, not text goldens, issue 7).
Fixtures are built by fixtures/builder.py; ld.so gets the real path of the program.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from loader_oracle import RTLD

from elfdeps.cli import main
from fixtures import build, by_name, loader_facts
from fixtures.builder import Library, Program

LEVELS = ("x86-64-v4", "x86-64-v3", "x86-64-v2")


def run(*argv: str, cwd: str = "/") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(list(argv), out, err)
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


def ld_so(program: str, *options: str, cwd: str = "/") -> list[str]:
    """ld.so's trace of ``program`` with ``options``, environment cleared: lines without addresses
    and without the vDSO line."""
    env = {"LD_TRACE_LOADED_OBJECTS": "1"}
    proc = subprocess.run(
        [RTLD, *options, os.path.realpath(program)], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    lines = [line.split(" (0x")[0] for line in proc.stdout.splitlines()]
    return [line for line in lines if line.strip() != "linux-vdso.so.1"]


def _objects(out: str) -> dict[str, dict[str, Any]]:
    return {obj["name"]: obj for obj in json.loads(out)["files"][0]["objects"]}


# ------------------------------------------------------------------------------------------- --hwcaps


@pytest.fixture(scope="module")
def hwcaps_dir() -> Path:
    scenario = by_name("hwcaps_highest_active_level_first")  # a copy of libX.so in every level, tls, platform
    return build(scenario.name, scenario.recipe)


@pytest.mark.parametrize("mask", ["x86-64-v4:x86-64-v3:x86-64-v2", "x86-64-v3:x86-64-v2", "x86-64-v2", "x86-64-v4", ""])
def test_hwcaps_equals_ld_so_glibc_hwcaps_mask(hwcaps_dir: Path, mask: str) -> None:
    expected = ld_so(str(hwcaps_dir / "main"), "--glibc-hwcaps-mask", mask)
    active = [level for level in loader_facts().hwcaps if level in mask.split(":")]
    code, out, _err = run("list", "--no-env", f"--hwcaps={':'.join(active)}", str(hwcaps_dir / "main"))
    assert (code, out.splitlines()) == (0, expected)
    first = f"glibc-hwcaps/{active[0]}" if active else "tls"  # 2.36 probes the legacy tls/ after the levels
    assert f"\tlibX.so => {hwcaps_dir}/d/{first}/libX.so" in expected
    _code, out, _err = run("list", "--json", "--no-env", f"--hwcaps={':'.join(active)}", str(hwcaps_dir / "main"))
    assert json.loads(out)["environment"]["hwcaps"] == active


def test_hwcaps_first_name_equals_ld_so_glibc_hwcaps_prepend(hwcaps_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "fixture"
    shutil.copytree(hwcaps_dir, copy, symlinks=True)
    (copy / "d/glibc-hwcaps/myvendor").mkdir()
    shutil.copy2(copy / "d/libX.so", copy / "d/glibc-hwcaps/myvendor/libX.so")
    expected = ld_so(str(copy / "main"), "--glibc-hwcaps-prepend", "myvendor")
    assert f"\tlibX.so => {copy}/d/glibc-hwcaps/myvendor/libX.so" in expected
    hwcaps = ":".join(("myvendor", *loader_facts().hwcaps))
    code, out, _err = run("list", "--no-env", f"--hwcaps={hwcaps}", str(copy / "main"))
    assert (code, out.splitlines()) == (0, expected)


# ------------------------------------------------------------------------------------ --inhibit-cache

FAKEROOT = "/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-0.so"  # below a system dir, found via the cache


@pytest.fixture(scope="module")
def cache_only_dir() -> Path:
    return build("option_inhibit_cache", (Program(needed=("libfakeroot-0.so", "libz.so.1")),))


def test_inhibit_cache_equals_ld_so_inhibit_cache(cache_only_dir: Path) -> None:
    program = str(cache_only_dir / "main")
    cached = ld_so(program)
    assert f"\tlibfakeroot-0.so => {FAKEROOT}" in cached  # the difference the option makes
    expected = ld_so(program, "--inhibit-cache")
    assert "\tlibfakeroot-0.so => not found" in expected
    assert run("list", "--no-env", program)[1].splitlines() == cached
    code, out, _err = run("list", "--no-env", "--inhibit-cache", program)
    assert (code, out.splitlines()) == (1, expected)
    _code, out, _err = run("list", "--json", "--no-env", "--inhibit-cache", program)
    libz = _objects(out)["libz.so.1"]
    assert libz["via"] == "default" and all(entry["source"] != "ld_so_cache" for entry in libz["searched"])


# ----------------------------------------------------------------------------------------- --preload


@pytest.mark.parametrize(
    "preload",
    [
        "libz.so.1",
        "/lib/x86_64-linux-gnu/libz.so.1:libm.so.6",
        "libm.so.6 libz.so.1",
        "libdoes-not-exist.so:libz.so.1",  # a preload that cannot be loaded is ignored
    ],
)
def test_preload_equals_ld_so_preload(preload: str) -> None:
    expected = ld_so("/usr/bin/ssh", "--preload", preload)
    assert (
        "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1" in expected or "\t/lib/x86_64-linux-gnu/libz.so.1" in expected
    )
    _code, out, _err = run("list", "--no-env", f"--preload={preload}", "/usr/bin/ssh")
    assert out.splitlines() == expected


# --------------------------------------------------------------------------------- --platform, --lib


@pytest.fixture(scope="module")
def dst_dir() -> Path:
    """libP.so through RUNPATH $ORIGIN/p/$PLATFORM, libQ.so in q/ and in q/<platform>/ (the legacy
    platform subdirectory of glibc 2.36), libL.so through RUNPATH $ORIGIN/$LIB; copies for this
    machine's values and for other ones."""
    return build(
        "option_platform_and_lib",
        (
            Program(needed=("libP.so", "libQ.so", "libL.so"), runpath="$ORIGIN/p/$PLATFORM:$ORIGIN/q:$ORIGIN/$LIB"),
            Library("p/@PLATFORM@/libP.so"),
            Library("p/otherplat/libP.so"),
            Library("q/libQ.so"),
            Library("q/otherplat/libQ.so"),
            Library("@LIB@/libL.so"),
            Library("otherlib/libL.so"),
        ),
    )


def test_machine_platform_and_lib_reproduce_ld_so(dst_dir: Path) -> None:
    facts = loader_facts()
    expected = ld_so(str(dst_dir / "main"))
    assert f"\tlibP.so => {dst_dir}/p/{facts.platform}/libP.so" in expected
    for extra in ((), (f"--platform={facts.platform}", f"--lib={facts.lib}")):
        code, out, _err = run("list", "--no-env", *extra, str(dst_dir / "main"))
        assert (code, out.splitlines()) == (0, expected)


def test_other_platform_and_lib_give_the_paths_they_expand_to(dst_dir: Path) -> None:
    """loader.md 4.1: $PLATFORM and $LIB take the given values in RUNPATH; 5: the legacy platform
    subdirectory (glibc 2.36) is the given platform too."""
    argv = ("list", "--json", "--no-env", "--platform=otherplat", "--lib=otherlib", str(dst_dir / "main"))
    code, out, _err = run(*argv)
    objects = _objects(out)
    assert code == 0
    assert (objects["libP.so"]["path"], objects["libP.so"]["via"]) == (f"{dst_dir}/p/otherplat/libP.so", "runpath")
    assert (objects["libQ.so"]["path"], objects["libQ.so"]["via"]) == (f"{dst_dir}/q/otherplat/libQ.so", "runpath")
    assert (objects["libL.so"]["path"], objects["libL.so"]["via"]) == (f"{dst_dir}/otherlib/libL.so", "runpath")
    environment = json.loads(out)["environment"]
    assert (environment["platform"], environment["lib"]) == ("otherplat", "otherlib")


# ----------------------------------------------------------------------------------- --default-dirs

DEBIAN_DEFAULTS = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib:/usr/lib"


def test_real_default_dirs_reproduce_ld_so(cache_only_dir: Path) -> None:
    program = str(cache_only_dir / "main")
    expected = ld_so(program, "--inhibit-cache")
    code, out, _err = run("list", "--no-env", "--inhibit-cache", f"--default-dirs={DEBIAN_DEFAULTS}", program)
    assert (code, out.splitlines()) == (1, expected)


def test_other_default_dirs_are_searched_in_their_order(tmp_path: Path) -> None:
    """loader.md 3.4 step 6: the system directories, in the given order, and nothing else."""
    directory = build("option_default_dirs", (Program(needed=("libD.so",)), Library("sys/libD.so")))
    dirs = f"{tmp_path}/none:{directory}/sys"
    code, out, _err = run(
        "list", "--json", "--no-env", "--inhibit-cache", f"--default-dirs={dirs}", str(directory / "main")
    )
    objects = _objects(out)
    assert code == 1
    assert (objects["libD.so"]["path"], objects["libD.so"]["via"]) == (f"{directory}/sys/libD.so", "default")
    libc = objects["libc.so.6"]
    assert libc["found"] is False
    assert [(e["path"], e["source"], e["outcome"]) for e in libc["searched"]] == [
        (f"{tmp_path}/none/libc.so.6", "default", "no-directory"),
        (f"{directory}/sys/libc.so.6", "default", "absent"),
    ]
    assert json.loads(out)["environment"]["default_dirs"] == [f"{tmp_path}/none/", f"{directory}/sys/"]


# -------------------------------------------------------------------------------------- --traceback


def _broken_emulation(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("simulated bug")


@pytest.mark.parametrize("where", ["before", "after"])
def test_traceback_shows_an_internal_errors_traceback(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    import elfdeps.loader.graph

    monkeypatch.setattr(elfdeps.loader.graph, "emulate", _broken_emulation)
    code, out, err = run("list", "--no-env", "/usr/bin/ssh")
    assert (code, out) == (3, "")
    assert err == "elfdeps: internal error: RuntimeError: simulated bug (run with --traceback for details)\n"
    argv = (
        ["--traceback", "list", "--no-env", "/usr/bin/ssh"]
        if where == "before"
        else ["list", "--no-env", "/usr/bin/ssh", "--traceback"]
    )
    code, out, err = run(*argv)
    assert (code, out) == (3, "")
    assert err.startswith("Traceback (most recent call last):\n") and err.endswith("RuntimeError: simulated bug\n")
    assert "_broken_emulation" in err


# --------------------------------------------------------------------------------------- tree --all


def _full_expansion(edges: list[dict[str, Any]]) -> tuple[int, int]:
    """(references, cycles) of the tree that repeats every subtree: from main, every DT_NEEDED edge is
    one reference, and a found target is expanded again unless it is on the path already (a cycle,
    cut and counted). Computed from the report's flat edge list, independently of the tree model."""
    by_requester: dict[int, list[dict[str, Any]]] = {}
    for edge in edges:
        by_requester.setdefault(edge["requester"], []).append(edge)
    references = cycles = 0
    stack: list[tuple[int, tuple[int, ...]]] = [(0, (0,))]
    while stack:
        current, path = stack.pop()
        for edge in by_requester.get(current, []):
            references += 1
            target = edge["target"]
            if target is None:
                continue
            if target in path:
                cycles += 1
            else:
                stack.append((target, (*path, target)))
    return references, cycles


@pytest.mark.parametrize("scenario", ["dependency_cycle", "breadth_first_load_order", None])
def test_tree_all_repeats_every_subtree_and_cuts_cycles(scenario: str | None) -> None:
    """tree -a (JSON): one node per reference of the fully repeated tree, each cycle cut once per path
    into it; without -a fewer nodes (here the scenarios reuse objects, so -a must repeat something)."""
    if scenario is None:
        program = "/usr/bin/ssh"
    else:
        fixture = by_name(scenario)
        program = str(build(fixture.name, fixture.recipe) / fixture.program)
    _code, out, _err = run("tree", "--json", "--all", "--no-env", program)
    report = json.loads(out)["files"][0]
    nodes = report["tree"]["nodes"]
    assert report["tree"]["full"] is True and report["tree"]["truncated"] is False
    references, cycles = _full_expansion(report["edges"])
    assert (len(nodes) - 1, sum(node["role"] == "cycle" for node in nodes)) == (references, cycles)
    _code, out, _err = run("tree", "--json", "--no-env", program)
    assert len(json.loads(out)["files"][0]["tree"]["nodes"]) < len(nodes)
    if scenario == "dependency_cycle":
        assert cycles == 1
