"""The command-line contracts: JSON validates against the shipped schema, exit codes, start-up stays
lean, output is deterministic, `list` is the load order the JSON reports, bad usage is one line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from elfdeps.cli import main

SYSTEM_PROGRAMS = [
    "/usr/bin/ssh",
    "/usr/bin/python3",
    "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/usr/sbin/ldconfig",
]
HEAVY_MODULES = ["networkx", "graphviz", "lief", "elftools", "rich", "jsonschema", "dataclasses"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("elfdeps").joinpath("schemas/report-v2.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


@pytest.mark.parametrize("command", ["list", "tree"])
@pytest.mark.parametrize("program", SYSTEM_PROGRAMS)
def test_json_validates_against_shipped_schema(command: str, program: str, schema: dict[str, Any]) -> None:
    code, out, _err = run(command, "--json", "--no-env", program)
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert report["schema_version"] == 2
    assert report["files"][0]["objects"][0]["via"] == "main"


def test_schema_rejects_a_report_missing_required_fields(schema: dict[str, Any]) -> None:
    _code, out, _err = run("list", "--json", "--no-env", "/usr/bin/ssh")
    report = json.loads(out)
    del report["files"][0]["objects"][1]["via"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, schema)


@pytest.mark.parametrize("program", SYSTEM_PROGRAMS)
def test_list_lines_are_the_json_load_order(program: str) -> None:
    _code, text, _ = run("list", "--no-env", program)
    _code, out, _ = run("list", "--json", "--no-env", program)
    objects = json.loads(out)["files"][0]["objects"][1:]
    expected = []
    for obj in objects:
        if not obj["found"]:
            expected.append(f"\t{obj['name']} => not found")
        elif obj["path"] == obj["name"]:
            expected.append(f"\t{obj['path']}")
        else:
            expected.append(f"\t{obj['name']} => {obj['path']}")
    assert text.splitlines() == (expected or ["\tstatically linked"])


@pytest.mark.parametrize("program", SYSTEM_PROGRAMS)
def test_tree_json_shows_every_loaded_object_exactly_once(program: str) -> None:
    _code, out, _ = run("tree", "--json", "--no-env", program)
    report = json.loads(out)["files"][0]
    nodes = report["tree"]["nodes"]
    assert nodes[0]["parent"] is None and nodes[0]["object"] == 0
    shown = [node["object"] for node in nodes[1:] if node["role"] in ("loads", "not-found")]
    assert sorted(shown) == list(range(1, len(report["objects"])))
    assert all(node["shadowed_by"] for node in nodes[1:] if node["role"] == "repeat")
    for position, node in enumerate(nodes[1:], 1):
        parent = nodes[node["parent"]]
        assert node["parent"] < position and node["depth"] == parent["depth"] + 1
        # each object hangs under the object that made the loader load it
        assert report["objects"][node["object"]]["needed_by"] == report["objects"][parent["object"]]["path"] or (
            parent["object"] == 0 and report["objects"][node["object"]]["needed_by"] is None
        )


@pytest.mark.parametrize("command", ["list", "tree"])
def test_same_input_gives_the_same_output(command: str) -> None:
    first = run(command, "--json", "--no-env", "/usr/bin/ssh")
    second = run(command, "--json", "--no-env", "/usr/bin/ssh")
    assert first == second


@pytest.mark.parametrize("command", ["list", "tree"])
def test_start_up_imports_nothing_heavy(command: str) -> None:
    code = (
        "import sys, io\n"
        "from elfdeps.cli import main\n"
        f"rc = main([{command!r}, '--no-env', '/usr/bin/ssh'], io.StringIO(), io.StringIO())\n"
        f"heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "a command is needed"),
        (["list"], "required: FILE"),
        (["list", "--bogus", "/usr/bin/ssh"], "unrecognized arguments"),
        (["tree", "--glibc", "two", "/usr/bin/ssh"], "--glibc wants a version"),
        (["list", "/nonexistent/program"], "No such file or directory"),
        (["list", "/etc/passwd"], "not an ELF file"),
        (["list", "/usr/bin"], "Is a directory"),
        (["list", "--root", "/nonexistent-root", "/bin/ls"], "--root is not a directory"),
    ],
)
def test_usage_and_input_errors_are_one_line_and_exit_2(argv: list[str], needle: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("elfdeps: ") and needle in err


def test_console_script_and_module_agree() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "elfdeps")  # installed by the test set-up
    assert os.access(script, os.X_OK), f"{script}: the console script is not installed"
    for command in ([script], [sys.executable, "-m", "elfdeps"]):
        proc = subprocess.run(
            [*command, "list", "--no-env", "/usr/bin/ssh"], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0
        assert proc.stdout == run("list", "--no-env", "/usr/bin/ssh")[1]


def test_the_command_imports_no_regular_expressions() -> None:
    """The installed `elfdeps` is bin/elfdeps, not pip's generated wrapper (which imports `re` before
    elfdeps: ~7 ms of every run). Run without the site hooks (-S; the checkout on PYTHONPATH), whose
    imports are the interpreter's, not the command's."""
    script = os.path.join(os.path.dirname(sys.executable), "elfdeps")
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", script, "list", "--no-env", "/usr/bin/ssh"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    lines = proc.stderr.splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}
    assert "elfdeps.cli" in imported
    assert not imported & {"re", "enum", "functools", "collections"}
