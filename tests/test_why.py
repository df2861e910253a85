"""`elfdeps why FILE LIB` (issue 7 part 4): every chain of DT_NEEDED edges from FILE to LIB, shortest
first, each hop with how it was found, capped with the number left out.

The chains of each fixture (fixtures/graph_scenarios.py: a diamond, a cycle, a library reached by
three chains) are counted by hand and written in the scenario; the text and the JSON (validated
against the shipped schema) must both say exactly that. On the 200-library tree the chains are
checked against networkx as an independent oracle (shortest length, count), within a time bound.
"""

from __future__ import annotations

import itertools
import json
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest
from graph_support import REPO, elfdeps

from fixtures import build
from fixtures.graph_scenarios import WHY_SCENARIOS, WhyScenario, why_by_name

NAMES = [scenario.name for scenario in WHY_SCENARIOS]


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("elfdeps").joinpath("schemas/report-v2.schema.json").read_text()
    )
    return schema


def _why(scenario: WhyScenario, *extra: str) -> tuple[int, str, str, Path]:
    directory = build(scenario.shape, scenario.recipe)
    argv = ["why", "--no-env", "--max-chains", str(scenario.max_chains), *extra, str(directory / "main"), scenario.lib]
    code, out, err = elfdeps(*argv)
    return code, out, err, directory


def _text_chains(out: str) -> list[tuple[str, ...]]:
    """The chains of the text output: the names after `main -> `, labels dropped."""
    chains = []
    for line in out.splitlines():
        if line.startswith("  main -> "):
            hops = line[len("  main -> ") :].split(" -> ")
            chains.append(tuple(hop.split(" [", 1)[0] for hop in hops))
    return chains


@pytest.mark.parametrize("name", NAMES)
def test_text_chains_exact(name: str) -> None:
    scenario = why_by_name(name)
    code, out, err, _directory = _why(scenario)
    assert (code, err) == (0, "")
    assert _text_chains(out) == list(scenario.chains)
    assert f"{len(scenario.chains)} chain{'s' if len(scenario.chains) != 1 else ''} from main, shortest first:" in out
    if scenario.more is None:
        assert out.endswith("  more chains not shown (--max-chains N shows more)\n")
    elif scenario.more:
        assert out.endswith(f"  {scenario.more} more chain{'s' if scenario.more != 1 else ''} not shown"
                            " (--max-chains N shows more)\n")  # fmt: skip
    else:
        assert "not shown" not in out


@pytest.mark.parametrize("name", NAMES)
def test_json_chains_exact_and_valid(name: str) -> None:
    scenario = why_by_name(name)
    code, out, _err, directory = _why(scenario, "--json")
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, _schema())
    why = report["why"]
    assert report["command"] == "why" and why["query"] == scenario.lib
    assert [tuple(hop["name"] for hop in chain) for chain in why["chains"]] == list(scenario.chains)
    assert why["more_chains"] == scenario.more
    for chain in why["chains"]:
        assert chain[0]["requester"] == f"{directory}/main"
        for before, after in itertools.pairwise(chain):
            assert after["requester"] == before["path"]  # each hop starts where the previous ended


def test_each_hop_says_how_it_was_found() -> None:
    """The loading edge gets the search that found the library, a later one 'already loaded'."""
    _code, out, _err, directory = _why(why_by_name("why_three_chains"))
    assert out.splitlines() == [
        f"libT.so => {directory}/libT.so [runpath]",
        "3 chains from main, shortest first:",
        "  main -> libT.so [runpath]",
        "  main -> libA.so [runpath] -> libT.so [already loaded]",
        "  main -> libB.so [runpath] -> libC.so [runpath] -> libT.so [already loaded]",
    ]
    _code, out, _err, directory = _why(why_by_name("why_missing_library"), "--path")
    assert out.splitlines()[-1] == (
        f"  {directory}/main -> {directory}/libB.so [runpath] -> {directory}/libC.so [runpath]"
        " -> libgone.so [not found]"
    )


def test_json_hops_for_a_missing_library() -> None:
    _code, out, _err, _directory = _why(why_by_name("why_missing_library"), "--json")
    why = json.loads(out)["why"]
    assert why["targets"] == [{"name": "libgone.so", "path": None, "found": False}]
    last = why["chains"][0][-1]
    assert (last["found"], last["via"], last["how"], last["loads"]) == (False, None, "not found", True)


def test_nothing_matches_exits_1() -> None:
    scenario = why_by_name("why_diamond_all_chains")
    directory = build(scenario.shape, scenario.recipe)
    code, out, err = elfdeps("why", "--no-env", str(directory / "main"), "libnothing.so")
    assert (code, out, err) == (1, "nothing main loads matches libnothing.so\n", "")
    code, out, _err = elfdeps("why", "--json", "--no-env", str(directory / "main"), "libnothing.so")
    report = json.loads(out)
    jsonschema.validate(report, _schema())
    assert code == 1 and report["why"]["targets"] == [] and report["why"]["chains"] == []


@pytest.mark.parametrize(("argv", "needle"), [(["--max-chains", "0"], "--max-chains: wants"), ([], "required: LIB")])
def test_usage_errors_exit_2(argv: list[str], needle: str) -> None:
    code, out, err = elfdeps("why", *argv, "/usr/bin/ssh", *([] if not argv else ["libc.so.6"]))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and needle in err


def test_two_hundred_library_tree_is_bounded_and_exact() -> None:
    """libc.so.6 is reached by every chain of the tree: the count is large, the time stays small."""
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import make_tree
    finally:
        sys.path.remove(str(REPO / "bench"))
    program = Path(make_tree.build(200))
    start = time.perf_counter()
    code, out, _err = elfdeps("why", "--json", "--no-env", "--max-chains", "50", str(program), "libc.so.6")
    seconds = time.perf_counter() - start
    assert code == 0 and seconds < 3.0, seconds
    report = json.loads(out)
    jsonschema.validate(report, _schema())
    why, objects = report["why"], report["files"][0]["objects"]
    # the oracle: networkx over the load result's edges (one per requester and target)
    graph = nx.DiGraph()
    path_of = {obj["path"] for obj in objects}
    target = next(obj["path"] for obj in objects if obj["name"] == "libc.so.6")
    for chain in why["chains"]:
        for hop in chain:
            assert hop["requester"] in path_of and hop["path"] in path_of
    _add_edges(graph, report["files"][0])
    lengths = [len(chain) for chain in why["chains"]]
    assert len(lengths) == 50 and lengths == sorted(lengths)
    assert lengths[0] == nx.shortest_path_length(graph, str(program), target)
    total = _count_paths(graph, str(program), target)
    assert why["more_chains"] == total - 50 and total > 500
    assert len({tuple(hop["path"] for hop in chain) for chain in why["chains"]}) == 50


def _add_edges(graph: nx.DiGraph, file_report: dict[str, Any]) -> None:
    """Every DT_NEEDED edge of the JSON report (its edge list: requester and target are object indices)."""
    objects = file_report["objects"]
    for edge in file_report["edges"]:
        if edge["target"] is not None:
            graph.add_edge(objects[edge["requester"]]["path"] or "", objects[edge["target"]]["path"] or "")


def _count_paths(graph: nx.DiGraph, source: str, target: str) -> int:
    count = dict.fromkeys(graph.nodes, 0)
    count[source] = 1
    for node in nx.topological_sort(graph):
        for child in graph.successors(node):
            count[child] += count[node]
    return count[target]
