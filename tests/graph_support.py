"""Helpers of the graph, why and HTML report tests: elfdeps in-process from a neutral directory, the
DOT text read back into nodes and edges, the real loader's view of the same program (the oracle of
node and edge sets), and headless Chromium through playwright.

The oracle of "which objects and which DT_NEEDED edges": the loader's own trace
(`LD_TRACE_LOADED_OBJECTS=1 ld.so REALPATH`) gives the objects (found paths, names not found), and
pyelftools (an independent reader) gives each found object's DT_NEEDED names and DT_SONAME; an edge
goes to the object the trace shows under that name, else to the loaded object with that DT_SONAME,
else to the name not found. Tolerance ORACLE_BY_NAME: the loader's match by file identity (a second
name for an already-loaded file, loader.md 3.8) is not modelled here, so scenarios relying on it are
not used with this oracle.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from loader_oracle import RTLD, loader_env, parse_line, trace

from elfdeps.cli import main

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / ".shots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_NODE = re.compile(r'^  (n\d+|system) \[id="[^"]*", label="((?:[^"\\]|\\.)*)"(.*)\];$', re.MULTILINE)
_EDGE = re.compile(r'^  (n\d+|system) -> (n\d+|system) \[id="(e\d+)"', re.MULTILINE)


def neutral_cwd() -> str:
    path = Path(tempfile.gettempdir()) / f"elfdeps-graph-cwd-{os.getuid()}"
    path.mkdir(exist_ok=True)
    return str(path)


def elfdeps(*argv: str, cwd: str | None = None) -> tuple[int, str, str]:
    """`elfdeps ARGV` in-process, from ``cwd`` (default: an empty directory)."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd or neutral_cwd())
    try:
        code = main(list(argv), out, err)
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


class DotGraph(NamedTuple):
    labels: dict[str, str]  # node id -> first label line (DOT escapes undone)
    classes: dict[str, str]  # node id -> class attribute
    edges: list[tuple[str, str, str]]  # (edge id, source, target), in DOT order
    text: str


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", r"\1", label.split("\\n", maxsplit=1)[0]).replace("&amp;", "&")


def parse_dot(text: str) -> DotGraph:
    labels, classes = {}, {}
    for node_id, label, rest in _NODE.findall(text):
        labels[node_id] = _unescape(label)
        match = re.search(r'class="([^"]*)"', rest)
        classes[node_id] = match.group(1) if match else ""
    edges = [(edge_id, source, target) for source, target, edge_id in _EDGE.findall(text)]
    return DotGraph(labels, classes, edges, text)


def _dynamic(path: str) -> tuple[list[str], str | None]:
    """DT_NEEDED names and DT_SONAME, read by pyelftools."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                tags: list[Any] = list(section.iter_tags())  # pyelftools sets .needed/.soname at run time
                needed = [tag.needed for tag in tags if tag.entry.d_tag == "DT_NEEDED"]
                sonames = [tag.soname for tag in tags if tag.entry.d_tag == "DT_SONAME"]
                return needed, sonames[0] if sonames else None
    return [], None


def loader_graph(program: str, cwd: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The oracle (module docstring): node keys (found path, or "missing:NAME") and edges between them."""
    lines = trace(program, loader_env(None, None), cwd).lines
    by_name: dict[str, str] = {}
    nodes = {program}
    for line in lines:
        name, path = parse_line(line)
        key = path if path is not None else f"missing:{name}"
        by_name.setdefault(name, key)
        nodes.add(key)
    found = [program, *(key for key in nodes if not key.startswith("missing:") and key != program)]
    by_soname: dict[str, str] = {}
    for path in found:
        _needed, soname = _dynamic(path)
        if soname is not None:
            by_soname.setdefault(soname, path)
    if RTLD in nodes:
        by_soname.setdefault(_dynamic(RTLD)[1] or "", RTLD)
    edges = set()
    for path in found:
        for name in _dynamic(path)[0]:
            target = by_name.get(name) or by_soname.get(name) or f"missing:{name}"
            edges.add((path, target))
    return nodes, edges


def dot_graph_keys(graph: DotGraph) -> tuple[set[str], set[tuple[str, str]]]:
    """The same keys from `graph --path` DOT output (a missing node's label is its name)."""
    keys = {
        node_id: (f"missing:{label}" if "kind-missing" in graph.classes[node_id] else label)
        for node_id, label in graph.labels.items()
        if node_id != "legend"
    }
    return set(keys.values()), {(keys[source], keys[target]) for _id, source, target in graph.edges}


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium driven by playwright, with a fresh profile (never downloads a browser)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="elfdeps-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 820},
        )
        try:
            yield context
        finally:
            context.close()
