"""`elfdeps graph` with the Rust stage (issue 7: nodes styled by kind, duplicated crates tied together) on
the real cargo/rustc builds of fixtures/rust. Kinds are expected from readelf's view of each file (the
`rust_metadata_<crate>_<id>` export, the `.comment` rustc line, PT_INTERP: fixtures.rust.elf_facts);
the ties from the duplicated crates and builds the files imply (fixtures.rust.oracle: readelf, c++filt)."""

from __future__ import annotations

import os
import re

import pytest
from graph_support import elfdeps, parse_dot
from rust_support import fixture_or_skip

from fixtures.rust import RustFixture, elf_facts, oracle

_TIE = re.compile(r'^  (n\d+) -> (n\d+) \[[^\n]*label="same ([^"]*)", class="group"', re.MULTILINE)


def _graph(fx: RustFixture, case_name: str) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str, str]]]:
    """(node id -> path-free label, node id -> kind class, ties as (label, label, crate label))."""
    case = fx.case(case_name)
    llp = fx.ld_library_path(case)
    options = ["--ld-library-path", llp] if llp else []
    _code, out, err = elfdeps("graph", "--no-env", "-p", *options, str(fx.path(case.target)))
    assert err == ""  # the exit code is the audit's (its Rust rules are tested with them)
    graph = parse_dot(out)
    kinds = {node: classes.split()[0] for node, classes in graph.classes.items() if classes}
    ties = [(graph.labels[a], graph.labels[b], crate) for a, b, crate in _TIE.findall(out)]
    return graph.labels, kinds, ties


def _expected_kind(path: str) -> str | None:
    ids = elf_facts.crate_ids(path)
    if "std" in ids:
        return "kind-libstd"
    if ids:
        return "kind-rust-dylib"
    if elf_facts.rustc_versions(path) and ".interp" not in elf_facts.section_names(path):
        return "kind-cdylib"
    return None


@pytest.mark.parametrize(
    ("scenario", "case_name"),
    [
        ("twostd", "f2_two_dylibs"),  # std tied between libalpha and libbeta (exported twice)
        ("twostd", "f2c_two_cdylibs"),  # the same between two cdylibs (private copies)
        ("twostd", "f2_shared_std_bundle"),  # one shared libstd: no tie
        ("dup", "f4a_two_versions"),  # two builds of util, two of tag
        ("ws", "f1b_with_search_path"),  # prefer-dynamic dylibs and the toolchain's libstd: no tie
    ],
)
def test_kinds_and_ties_are_the_ones_the_files_imply(scenario: str, case_name: str) -> None:
    fx = fixture_or_skip(scenario)
    labels, kinds, ties = _graph(fx, case_name)
    compared = 0
    for node, path in labels.items():
        if not os.path.isabs(path) or node == "n0":
            continue  # a name not found, the legend; the analysed file keeps its executable style
        expected = _expected_kind(path)
        if expected is not None:
            assert kinds[node] == expected, path
            compared += 1
        else:
            assert kinds[node] in ("kind-c-library", "kind-system"), path
    assert compared >= 2
    loaded = oracle.load(fx, fx.case(case_name))
    implied = {
        (frozenset(objects), crate)
        for _rule, _level, objects, crate in oracle.duplicate_crates(loaded) | oracle.crate_two_builds(loaded)
    }
    tied: dict[str, set[str]] = {}
    for left, right, crate in ties:
        tied.setdefault(crate.split(" (")[0], set()).update({os.path.realpath(left), os.path.realpath(right)})
    assert {(frozenset(members), crate) for crate, members in tied.items()} == implied
    two_builds = {crate for _rule, _level, _objects, crate in oracle.crate_two_builds(loaded)}
    for _left, _right, label in ties:
        assert label.endswith(" (2 builds)") == (label.split(" (")[0] in two_builds)
