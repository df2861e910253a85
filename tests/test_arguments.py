"""The command line's two readers agree: the fast parser (no argparse at start-up) returns what
argparse returns for every ordinary command line, and hands everything else to argparse."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elfdeps.arguments import APPEND, COMMANDS, FLAG, parse_argparse, parse_fast
from elfdeps.cli import main
from elfdeps.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
VALUES = {"max_depth": "3", "jobs": "2", "format": "json", "fail_on": "warning", "rankdir": "LR", "max_chains": "4"}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """An ordinary command line: a command, its options written out in full, its positional words
    (before or after the options)."""
    command = COMMANDS[draw(st.sampled_from(sorted(COMMANDS)))]
    prefix = ["--traceback"] if draw(st.booleans()) else []
    words: list[str] = []
    for positional in command.positionals:
        count = draw(st.integers(1, 3)) if positional.many else 1
        words += draw(st.lists(st.sampled_from(["/bin/ls", "a.so", "dir/b", "-"]), min_size=count, max_size=count))
    options: list[str] = []
    for option in draw(st.lists(st.sampled_from(command.options), max_size=5)):
        flag = draw(st.sampled_from(option.flags))
        if option.kind == FLAG:
            options.append(flag)
            continue
        value = VALUES.get(option.dest) or draw(st.sampled_from(["x", "lib*.so", "/opt/lib:/usr/lib", ""]))
        if flag.startswith("--") and (not value or draw(st.booleans())):
            options.append(f"{flag}={value}")
        else:
            options += [flag, value]
    body = [*words, *options] if draw(st.booleans()) else [*options, *words]
    return [*prefix, command.name, *body]


@settings(max_examples=300, deadline=None)
@given(command_lines())
def test_fast_parser_reads_what_argparse_reads(argv: list[str]) -> None:
    fast = parse_fast(argv)
    assert fast is not None, argv
    assert vars(fast) == vars(parse_argparse(argv)), argv


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["list", "--help"],
        ["list", "--js", "/bin/ls"],  # an abbreviation: argparse resolves it
        ["tree", "-ap", "/bin/ls"],  # combined short flags
        ["audit", "-j2", "/bin/ls"],  # a short option with its value attached
        ["tree", "--max-depth", "x", "/bin/ls"],  # a bad value: argparse says why
        ["audit", "--fail-on", "bad", "/bin/ls"],
        ["list"],  # no file
        ["list", "a", "b"],  # two files for one
        ["tree", "a", "-p", "b"],  # argparse refuses files split by an option
        ["frobnicate", "x"],
        [],
    ],
)
def test_anything_unusual_goes_to_argparse(argv: list[str]) -> None:
    assert parse_fast(argv) is None


def test_argparse_reports_errors_in_one_line() -> None:
    with pytest.raises(UsageError, match="--max-depth: wants a number of levels"):
        parse_argparse(["tree", "--max-depth", "x", "/bin/ls"])
    with pytest.raises(UsageError, match="a command is needed"):
        parse_argparse([])


def test_appended_options_keep_their_order() -> None:
    fast = parse_fast(["tree", "--hide", "a*", "/bin/ls", "--hide=b*"])
    assert fast is not None and fast.hide == ["a*", "b*"] and fast.files == ["/bin/ls"]
    assert [option.kind for option in COMMANDS["tree"].options if option.dest == "hide"] == [APPEND]


def _rustc_binary() -> str:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True).stdout
    return os.path.join(sysroot.strip(), "bin", "rustc")


@pytest.mark.parametrize(
    ("command", "program"),
    [("list", "/usr/bin/ssh"), ("tree", "/usr/bin/ssh"), ("audit", "/usr/bin/ssh"), ("audit", "rustc")],
)
def test_start_up_imports_no_parser_framework_and_no_typing(
    command: str, program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes the commands start fast (README "Performance"): the interpreter is run without site
    so that only elfdeps' own imports count. An audit, of a C program or of rustc's Rust tree (binding,
    crates, symbol versions), matches its markers without the regular-expression machinery."""
    path = _rustc_binary() if program == "rustc" else program
    argv = [command, "--no-env", path] + (["--no-progress"] if command == "audit" else [])
    code = (
        "import sys, io\n"
        "from elfdeps.cli import main\n"
        f"rc = main({argv!r}, io.StringIO(), io.StringIO())\n"
        "avoided = ['argparse', 'typing', 'enum', 're', 'dataclasses', 'gettext', 'shutil', 'weakref', 'collections',"
        " 'functools']\n"
        "print(rc, [m for m in avoided if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # no elfdeps.toml or pyproject.toml to read on the way up
        env={"PYTHONPATH": str(REPO), "PATH": os.environ["PATH"]},
    )
    monkeypatch.chdir("/")
    expected = main(argv, io.StringIO(), io.StringIO())
    assert proc.stdout.strip() == f"{expected} []", proc.stdout + proc.stderr
