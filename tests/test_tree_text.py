"""`elfdeps tree` text (issue 7): golden outputs of the default view (each object once, under the
object that made the loader load it), `-a`, `--max-depth`, `-p`, `-v`, `--hide`, ASCII and box-drawing
branches, colour; plus invariants that hold on real programs whatever the golden says.

Goldens live in tests/golden/tree/ with the fixture directory written as @DIR@. After a deliberate
change of the layout, regenerate them with ELFDEPS_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from elfdeps.cli import main
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate
from elfdeps.render.text import Palette, TreeOptions, render_tree
from fixtures import build, by_name

GOLDEN = Path(__file__).resolve().parent / "golden" / "tree"
UPDATE = os.environ.get("ELFDEPS_UPDATE_GOLDEN") == "1"

CASES = [
    # (golden name, scenario, tree options)
    ("rpath_chain_default", "rpath_inherited_by_dependencies", []),
    ("rpath_chain_paths", "rpath_inherited_by_dependencies", ["-p"]),
    ("filters_default", "filter_and_auxiliary_order", []),
    ("cycle_default", "dependency_cycle", []),
    ("cycle_full", "dependency_cycle", ["-a"]),
    ("missing_per_requester", "missing_reported_per_requester", []),
    ("missing_per_requester_verbose", "missing_reported_per_requester", ["-v"]),
    ("breadth_first_depth_1", "breadth_first_load_order", ["--max-depth", "1"]),
    ("breadth_first_full", "breadth_first_load_order", ["-a"]),
    ("shadowed_default", "already_loaded_name_wins_over_runpath", []),
    ("hide_system", "breadth_first_load_order", ["--hide-system"]),
]


def _fixture(name: str) -> tuple[Path, str]:
    scenario = by_name(name)
    directory = build(scenario.name, scenario.recipe)
    return directory, str(directory / scenario.program)


def _normalised(text: str, directory: Path) -> str:
    return text.replace(str(directory), "@DIR@")


def _check(name: str, text: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"tree output differs from {golden}"


@pytest.mark.parametrize(("golden", "scenario", "options"), CASES, ids=[case[0] for case in CASES])
def test_tree_golden(golden: str, scenario: str, options: list[str]) -> None:
    directory, program = _fixture(scenario)
    out, err = io.StringIO(), io.StringIO()
    code = main(["tree", "--no-env", *options, program], out, err)
    expected_code = 1 if "not found" in out.getvalue() or err.getvalue() else 0
    assert code == expected_code, err.getvalue()
    _check(golden, _normalised(out.getvalue(), directory))


def _render(program: str, palette: Palette, options: TreeOptions) -> str:
    out = io.StringIO()
    render_tree(emulate(program, LoaderEnv(cwd="/")), out, palette, options)
    return out.getvalue()


def test_box_drawing_on_a_utf8_terminal() -> None:
    directory, program = _fixture("rpath_inherited_by_dependencies")
    text = _render(program, Palette(False), TreeOptions(unicode=True))
    assert "├── " in text or "└── " in text
    _check("rpath_chain_unicode", _normalised(text, directory))


def test_colour_marks_missing_in_red_and_system_libraries_dim() -> None:
    directory, program = _fixture("missing_reported_per_requester")
    text = _render(program, Palette(True), TreeOptions())
    assert "\x1b[1;31m" in text and "not found" in text  # red, bold
    assert re.search(r"\x1b\[2m[^\x1b]*libc\.so\.6", text)  # a system library, dimmed
    _check("missing_per_requester_colour", _normalised(text, directory))


def test_ascii_flag_wins_over_a_terminal() -> None:
    """--ascii asks for ASCII branches; without a terminal the branches are ASCII anyway."""
    _directory, program = _fixture("breadth_first_load_order")
    out = io.StringIO()
    assert main(["tree", "--no-env", "--ascii", program], out, io.StringIO()) == 0
    assert "`-- " in out.getvalue() and "└" not in out.getvalue()


@pytest.mark.parametrize("program", ["/usr/bin/ssh", "/usr/bin/python3", "/usr/lib/x86_64-linux-gnu/libgio-2.0.so.0"])
def test_default_tree_lists_every_loaded_object_once(program: str) -> None:
    """Invariant on real programs: one line per object of `list` (the interpreter is in the header),
    plus the header and the summary; never longer than lddtree's layout for the same program."""
    out, listed = io.StringIO(), io.StringIO()
    assert main(["tree", "--no-env", program], out, io.StringIO()) == 0
    assert main(["list", "--no-env", program], listed, io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    names = [line.split("\t")[1].split(" => ")[0] for line in listed.getvalue().splitlines()]
    shown = [re.sub(r"^[|` -]*", "", line).split(" ")[0] for line in lines[1:-1]]
    assert sorted(shown) == sorted(name for name in names if not name.startswith("/"))
    assert lines[-1].endswith("loaded, all found")
