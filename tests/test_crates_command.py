"""`elfdeps crates` (issue 6 item 5) and the Rust labels of `tree` and its JSON, on the real cargo/rustc
builds of fixtures/rust. Expectations come from the fixtures' own facts, never from elfdeps: the
`rust_metadata_<crate>_<id>` exports and `.comment` lines read by readelf (fixtures.rust.elf_facts), the
duplicated crates and builds the files imply (fixtures.rust.oracle, readelf + c++filt), the real
loader's bindings (LD_DEBUG=bindings) and the toolchain's own `rustc -vV`. Every JSON output is
validated against the shipped schema."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rust_support import fixture_or_skip

from elfdeps.cli import main
from elfdeps.render.text import rust_label
from elfdeps.rust.metadata import RustMarkers
from elfdeps.rust.names import Crate
from elfdeps.rust.objects import Kind, RustFacts
from fixtures.rust import Case, RustFixture, elf_facts, loader, oracle

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "elfdeps" / "schemas" / "report-v2.schema.json").read_text())


def elfdeps(fx: RustFixture, case: Case, *options: str) -> tuple[int, str, str]:
    """`elfdeps OPTIONS... TARGET` in-process, with the case's LD_LIBRARY_PATH and nothing else."""
    llp = fx.ld_library_path(case)
    argv = [*options, "--no-env", *(["--ld-library-path", llp] if llp else []), str(fx.path(case.target))]
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def as_json(fx: RustFixture, case: Case, command: str, *options: str) -> tuple[int, dict[str, Any]]:
    code, out, err = elfdeps(fx, case, command, "--json", *options)
    assert err == ""
    report = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    return code, report


def expected_label(path: str) -> dict[str, Any] | None:
    """The `rust` label a loaded file must carry, from readelf's view of it (rust.md §2.2)."""
    ids = elf_facts.crate_ids(path)
    releases = {line.removeprefix("rustc version ") for line in elf_facts.rustc_versions(path)}
    metadata = elf_facts.rustc_metadata_version(path)
    if metadata is not None and metadata.startswith("rustc "):
        releases.add(metadata.removeprefix("rustc "))
    if "std" in ids:
        kind = "toolchain-std"
    elif ids:
        kind = "rust-dylib"
    elif releases:
        kind = "rust-executable" if ".interp" in elf_facts.section_names(path) else "cdylib"
    else:
        return None
    crate = None
    if ids:
        ((name, scid),) = ids.items()
        crate = {"name": name, "stable_crate_id": scid}
    return {"kind": kind, "crate": crate, "rustc": sorted(releases)}


def base(path: str | None) -> str:
    return os.path.basename(path or "")


# -- the Rust labels of tree ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "case_name"),
    [("ws", "f1b_with_search_path"), ("twostd", "f2r_rust_program_and_cdylib"), ("dup", "f4a_two_versions")],
)
def test_tree_json_labels_every_rust_object(scenario: str, case_name: str) -> None:
    fx = fixture_or_skip(scenario)
    code, report = as_json(fx, fx.case(case_name), "tree")
    assert code == 0
    objects = report["files"][0]["objects"]
    labelled = 0
    for obj in objects:
        want = expected_label(obj["path"]) if obj["found"] else None
        got = obj.get("rust")
        if got is not None:
            got = {**got, "rustc": sorted(got["rustc"])}
        assert got == want, obj["path"]
        labelled += want is not None
    assert labelled >= 2


def test_tree_text_names_kind_crate_and_the_toolchain_release() -> None:
    fx = fixture_or_skip("ws")
    case = fx.case("f1b_with_search_path")
    code, out, err = elfdeps(fx, case, "tree")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].endswith(" rust-executable")
    deps = fx.path("target-dyn/debug/deps")
    for crate in ("leaf", "mid", "base"):
        assert set(elf_facts.crate_ids(deps / f"lib{crate}.so")) == {crate}
        assert any(line.endswith(f"lib{crate}.so [LD_LIBRARY_PATH] rust-dylib {crate}") for line in lines), out
    libstd = fx.stable.libstd.name
    (line,) = [line for line in lines if libstd in line]
    assert line.endswith(f"{libstd} [LD_LIBRARY_PATH] toolchain std {fx.stable.release}")
    assert not any("rust" in line for line in lines if "libc.so.6" in line)


def test_tree_of_a_c_program_never_imports_the_rust_stage() -> None:
    code = (
        "import sys, io\n"
        "from elfdeps.cli import main\n"
        "rc = main(['tree', '--no-env', '/usr/bin/ssh'], io.StringIO(), io.StringIO())\n"
        "loaded = [m for m in sys.modules if m.startswith('elfdeps.rust.') and m != 'elfdeps.rust.labels']\n"
        "re_loaded = 're' in sys.modules\n"
        "out = io.StringIO()\n"
        "main(['tree', '--json', '--no-env', '/usr/bin/ssh'], out, io.StringIO())\n"
        "labels = [o for o in __import__('json').loads(out.getvalue())['files'][0]['objects'] if 'rust' in o]\n"
        "loaded += [m for m in sys.modules if m.startswith('elfdeps.rust.') and m != 'elfdeps.rust.labels']\n"
        "print(rc, labels, loaded, re_loaded)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout.split() == ["0", "[]", "[]", "False"], proc.stdout + proc.stderr


def test_labels_are_escaped() -> None:
    markers = RustMarkers(None, Crate(b"evil\x1b[2J", 1), False, (b"1.95.0\x07 (x)",), True, (), ())
    facts = RustFacts(Kind.RUST_DYLIB, Crate(b"evil\x1b[2J", 1), (b"1.95.0\x07 (x)",), markers)
    assert rust_label(facts, True) == "rust-dylib evil\\x1b[2J 1.95.0\\x07"


# -- crates ---------------------------------------------------------------------------------------


def problem_keys(report: dict[str, Any]) -> set[tuple[str, str, frozenset[str], str | None]]:
    """The report's problems as the oracle writes findings: (rule, level, real paths, crate name)."""
    objects = report["files"][0]["objects"]
    keys = set()
    for problem in report["crates"][0]["problems"]:
        crates = problem.get("crates", [])
        crate = crates[0]["name"] if crates else None  # the duplicated (or expected) build comes first
        paths = frozenset(os.path.realpath(objects[index]["path"]) for index in problem["objects"])
        keys.add((problem["kind"], problem["level"], paths, crate))
    return keys


@pytest.mark.parametrize(
    ("scenario", "case_name", "code"),
    [
        ("twostd", "f2_two_dylibs", 1),  # one std exported twice: an error
        ("twostd", "f2c_two_cdylibs", 0),  # private copies: a warning, exit 0
        ("twostd", "f2r_rust_program_and_cdylib", 0),
        ("dup", "f4a_two_versions", 1),  # util has a static: error; tag: warning
        ("twostd", "f2_shared_std_bundle", 0),
        ("ws", "f1b_with_search_path", 0),
    ],
)
def test_problems_are_the_ones_the_files_imply(scenario: str, case_name: str, code: int) -> None:
    fx = fixture_or_skip(scenario)
    case = fx.case(case_name)
    loaded = oracle.load(fx, case)
    implied = oracle.duplicate_crates(loaded) | oracle.crate_two_builds(loaded) | oracle.toolchain_mix(loaded)
    got, report = as_json(fx, case, "crates")
    assert got == code
    assert problem_keys(report) == implied
    for obj in report["files"][0]["objects"]:  # the same labels as tree's
        label = obj.get("rust")
        sorted_label = {**label, "rustc": sorted(label["rustc"])} if label else None
        assert sorted_label == (expected_label(obj["path"]) if obj["found"] else None), obj["path"]
    text_code, out, err = elfdeps(fx, case, "crates")
    assert (text_code, err) == (code, "")
    problem_lines = [line.strip() for line in out.splitlines() if line.startswith("    ") and ": " in line]
    levels = sorted(line.split(":")[0] for line in problem_lines if line.split(":")[0] in ("error", "warning"))
    assert levels == sorted(key[1] for key in implied)
    if not implied:
        assert "  problems: none" in out.splitlines()


def test_objects_hold_their_own_crates() -> None:
    """Every Rust dylib holds its own crate build (the rust_metadata export's id), as its own dylib."""
    fx = fixture_or_skip("ws")
    case = fx.case("f1b_with_search_path")
    _code, report = as_json(fx, case, "crates")
    objects = report["files"][0]["objects"]
    owners = {
        (build["crate"]["name"], build["crate"]["stable_crate_id"]): objects[holder["object"]]["path"]
        for build in report["crates"][0]["builds"]
        for holder in build["holders"]
        if holder["own"]
    }
    dylibs = [obj["path"] for obj in objects if obj["found"] and elf_facts.crate_ids(obj["path"])]
    assert len(dylibs) == 4  # leaf, mid, base and the toolchain's libstd
    for path in dylibs:
        ((name, scid),) = elf_facts.crate_ids(path).items()
        assert owners[(name, scid)] == path
    assert len(owners) == len(dylibs)
    _text_code, out, _err = elfdeps(fx, case, "crates")
    for path in dylibs:
        ((name, scid),) = elf_facts.crate_ids(path).items()
        assert f"    {base(path)} " in out and f"{name}[{scid}] (its own crate" in out


def test_imports_bind_where_the_real_loader_binds_them() -> None:
    """Each import site's targets are the files LD_DEBUG=bindings shows its names bound to."""
    fx = fixture_or_skip("dup")
    case = fx.case("f4a_two_versions")
    _code, report = as_json(fx, case, "crates")
    objects = report["files"][0]["objects"]
    real: dict[tuple[str, str], set[str]] = {}
    for binding in loader.bindings(fx.path(case.target), fx.ld_library_path(case)):
        real.setdefault((base(binding.referrer), binding.symbol), set()).add(base(binding.definer))
    compared = 0
    for build in report["crates"][0]["builds"]:
        for site in build["importers"]:
            importer = base(objects[site["object"]]["path"])
            seen = {target for name in site["names"] for target in real.get((importer, name["name"]), ())}
            ours = {base(objects[t["object"]]["path"]) for t in site["bound_to"] if t["object"] is not None}
            if seen:
                assert ours == seen, (importer, build["crate"])
                compared += 1
    assert compared >= 10
    util = [b for b in report["crates"][0]["builds"] if b["crate"] == {"name": "util", "stable_crate_id": None}]
    (legacy,) = util  # stable cargo mangles legacy: the import names no build, the binding tells which
    targets = {
        base(objects[site["object"]]["path"]): base(objects[t["object"]]["path"])
        for site in legacy["importers"]
        for t in site["bound_to"]
    }
    assert set(targets) == {base(str(p)) for p in fx.glob("target-hashed/debug/deps/lib[lr]*-*.so")}
    assert len(set(targets.values())) == 2 and all(name.startswith("libutil-") for name in targets.values())


def test_names_are_demangled_in_text_and_raw_in_json() -> None:
    fx = fixture_or_skip("dup")
    case = fx.case("f4a_two_versions")
    _code, report = as_json(fx, case, "crates")
    names = [n for b in report["crates"][0]["builds"] for s in b["importers"] for n in s["names"]]
    raw = [n["name"] for n in names]
    # c++filt writes v0 crate roots with their StableCrateId (std[e28293b1aa0f68bd]) and legacy names with
    # their hash (::h<16 hex>): the display form drops both (rust/demangle.py)
    spelled = [
        re.sub(r"::h[0-9a-f]{16}$", "", re.sub(r"\[[0-9a-f]{1,16}\]", "", text)) for text in elf_facts.demangle(raw)
    ]
    assert len(names) >= 20 and [n["demangled"] for n in names] == spelled
    _code, out, _err = elfdeps(fx, case, "crates")
    assert "e.g. util::version" in out or "e.g. util::register" in out
    assert "_ZN4util" not in out


def test_missing_library_and_verbose() -> None:
    fx = fixture_or_skip("ws")
    code, out, err = elfdeps(fx, fx.case("f1b_no_search_path"), "crates")
    assert err == "" and code == 1 and f"not found: {fx.stable.libstd.name}" in out
    case = fx.case("f1b_with_search_path")
    _code, short, _err = elfdeps(fx, case, "crates")
    _code, full, _err = elfdeps(fx, case, "crates", "-v")
    assert "more builds, imported by no other object: -v)" in short
    assert "more" not in full and len(full.splitlines()) > len(short.splitlines())
