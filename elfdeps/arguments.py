"""The command line's grammar: one table of commands and options, read two ways.

``parse_fast`` reads an ordinary command line (known options, written out in full, with their values)
without argparse, whose import and parser construction (with gettext, locale and re) cost `elfdeps
list` a quarter of its start-up. Anything else — ``--help``, ``--version``, an abbreviated or
unknown option, a missing or bad value — goes to ``parse_argparse``, built from the same table, which
prints help or the usual one-line error. Both return the same ``Arguments``.
"""

from __future__ import annotations

import os
import sys

from elfdeps import __version__
from elfdeps.errors import UsageError
from elfdeps.facts import TYPE_CHECKING, Fact

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = [
    "APPEND",
    "COMMANDS",
    "FLAG",
    "VALUE",
    "Arguments",
    "Command",
    "Option",
    "Positional",
    "parse",
    "parse_argparse",
    "parse_fast",
]

FLAG, VALUE, APPEND = "flag", "value", "append"


class Option(Fact):
    flags: tuple[str, ...]
    dest: str
    kind: str  # FLAG, VALUE or APPEND (repeatable)
    help: str
    metavar: str | None = None
    convert: Callable[[str], object] | None = None  # raises ValueError with the message to show
    choices: tuple[str, ...] | None = None
    resolution: bool = False  # listed under "resolution" in the help
    default: object = None  # of a VALUE option given no value


class Positional(Fact):
    dest: str
    metavar: str
    help: str | None = None
    many: bool = False  # one or more (nargs="+"): only the last positional


class Command(Fact):
    name: str
    summary: str
    positionals: tuple[Positional, ...]
    options: tuple[Option, ...]


class Arguments:
    """The parsed command line: one attribute per option and positional (argparse's Namespace)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # only for mypy: every attribute is set in __init__
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Arguments({vars(self)!r})"


def depth(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if value < 0:
        raise ValueError(f"wants a number of levels (0 or more), not {text!r}")
    return value


def chains(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise ValueError(f"wants a number of chains (1 or more), not {text!r}")
    return value


def jobs(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise ValueError(f"wants a number of processes (1 or more), not {text!r}")
    return value


_JSON = Option(("--json",), "json", FLAG, "one JSON object (schema_version 2) on stdout")
_RESOLUTION = tuple(
    Option((flag,), flag[2:].replace("-", "_"), kind, text, metavar, resolution=True)
    for flag, kind, metavar, text in (
        ("--root", VALUE, "DIR", "analyse a sysroot: its ld.so.cache, ld.so.conf, default dirs"),
        ("--ld-library-path", VALUE, "PATHS", "LD_LIBRARY_PATH (default: the environment's)"),
        ("--preload", VALUE, "LIBS", "LD_PRELOAD (default: the environment's)"),
        ("--no-env", FLAG, None, "ignore LD_LIBRARY_PATH/LD_PRELOAD of this environment"),
        ("--secure", FLAG, None, "setuid semantics (AT_SECURE)"),
        ("--inhibit-cache", FLAG, None, "ignore ld.so.cache (ld.so --inhibit-cache)"),
        ("--platform", VALUE, "P", "value of $PLATFORM (default: from this CPU)"),
        ("--lib", VALUE, "L", "value of $LIB (default: from the target's layout)"),
        ("--default-dirs", VALUE, "D1:D2", "the loader's system directories"),
        ("--hwcaps", VALUE, "A:B", "active glibc-hwcaps subdirectories, best first ('' for none)"),
        ("--glibc", VALUE, "X.Y", "target glibc version (default: read from its ld.so)"),
        ("--no-preload-file", FLAG, None, "ignore the root's /etc/ld.so.preload"),
    )
)
_SEVERITIES = ("error", "warning", "info")
_FILE = Positional("file", "FILE")
_FILES = Positional("files", "FILE", many=True)
_TRACEBACK = Option(("--traceback",), "traceback", FLAG, "show the Python traceback of internal errors")

COMMANDS: dict[str, Command] = {
    command.name: command._replace(options=(*command.options, *_RESOLUTION))
    for command in (
        Command("list", "ldd-compatible flat list in load order (never runs FILE)", (_FILE,), (_JSON,)),
        Command(
            "tree",
            "dependency tree: how each library was found, what was tried",
            (_FILES,),
            (
                _JSON,
                Option(("-a", "--all"), "all", FLAG, "every reference, subtrees repeated (lddtree -a)"),
                Option(("-p", "--path"), "path", FLAG, "show each library's path, not only its name"),
                Option(("-v", "--verbose"), "verbose", FLAG, "every place tried for each library not found"),
                Option(("--max-depth",), "max_depth", VALUE, "draw N levels below the file", "N", depth),
                Option(("--hide",), "hide", APPEND, "leave out matching libraries (repeatable)", "GLOB"),
                Option(("--hide-system",), "hide_system", FLAG, "leave out libraries the system provides"),
                Option(("--ascii",), "ascii", FLAG, "ASCII branches even on a UTF-8 terminal"),
            ),
        ),
        Command(
            "audit",
            "pre-release gate: missing libraries, symbols, versions, RPATHs",
            (Positional("paths", "PATH", "files or directories (walked; non-ELF files skipped)", many=True),),
            (
                Option(("--format",), "format", VALUE, "output format (text)", None, None, ("text", "json", "sarif")),
                Option(("--json",), "json", FLAG, "same as --format json"),
                Option(("--fail-on",), "fail_on", VALUE, "exit 1 at this severity (error)", None, None, _SEVERITIES),
                Option(("--ignore",), "ignore", APPEND, "drop findings (repeatable)", "RULE[:GLOB]"),
                Option(("--max-version",), "max_version", APPEND, "version floor (repeatable)", "FAMILY=X.Y"),
                Option(("--baseline",), "baseline", VALUE, "a saved JSON report: its findings do not fail", "FILE"),
                Option(("--config",), "config", VALUE, "settings file (default: elfdeps.toml, pyproject.toml)", "FILE"),
                Option(("-o", "--output"), "output", VALUE, "write the report to FILE instead of stdout", "FILE"),
                Option(("-j", "--jobs"), "jobs", VALUE, "files audited in parallel (default: CPUs)", "N", jobs),
                Option(("--no-progress",), "no_progress", FLAG, "no progress line on stderr"),
                Option(("-a", "--all"), "all", FLAG, "also findings inside the Rust toolchains' own files"),
            ),
        ),
        Command(
            "symbols",
            "where each undefined symbol binds (like LD_DEBUG=bindings)",
            (_FILE,),
            (
                Option(("--missing",), "missing", FLAG, "only references nothing defines"),
                Option(("--defines",), "defines", VALUE, "which loaded objects define NAME, and which wins", "NAME"),
                Option(("--json",), "json", FLAG, "one JSON object on stdout"),
            ),
        ),
        Command(
            "graph",
            "dependency graph: .dot, .svg, .png, .pdf, or a self-contained .html",
            (_FILES,),
            (
                Option(
                    ("-o", "--output"), "output", VALUE, "file to write; format from the suffix (default: DOT)", "OUT"
                ),
                Option(("-p", "--path"), "path", FLAG, "label nodes with paths, not sonames"),
                Option(("--label",), "label", FLAG, "label each edge with how it was found"),
                Option(("--collapse-system",), "collapse_system", FLAG, "fold the system libraries into one node"),
                Option(("--max-depth",), "max_depth", VALUE, "only objects at most N DT_NEEDED hops away", "N", depth),
                Option(("--focus",), "focus", VALUE, "only the chains that bring LIB in (name, path or glob)", "LIB"),
                Option(
                    ("--rankdir",),
                    "rankdir",
                    VALUE,
                    "direction (auto: TB; LR if wide)",
                    None,
                    None,
                    ("auto", "TB", "LR", "BT", "RL"),
                    default="auto",
                ),
            ),
        ),
        Command(
            "crates",
            "Rust: which crate build lives in which loaded object, and where its imports bind",
            (_FILES,),
            (
                _JSON,
                Option(("-v", "--verbose"), "verbose", FLAG, "every crate of every object, every crate build"),
            ),
        ),
        Command(
            "why",
            "every chain of DT_NEEDED edges that brings LIB in",
            (_FILE, Positional("library", "LIB", "a soname or file name, a path, or a glob of either")),
            (
                Option(("--max-chains",), "max_chains", VALUE, "show at most N chains (20)", "N", chains, default=20),
                Option(("-p", "--path"), "path", FLAG, "paths instead of names in each hop"),
                _JSON,
            ),
        ),
    )
}


def _defaults(command: Command) -> dict[str, Any]:
    values: dict[str, Any] = {"command": command.name, "traceback": False}
    for option in command.options:
        values[option.dest] = False if option.kind == FLAG else [] if option.kind == APPEND else option.default
    return values


def parse_fast(argv: Sequence[str]) -> Arguments | None:
    """An ordinary command line, or None for argparse to deal with (help, errors, abbreviations)."""
    position = 0
    traceback = False
    while position < len(argv) and argv[position].startswith("-"):
        if argv[position] != "--traceback":
            return None
        traceback = True
        position += 1
    if position == len(argv) or argv[position] not in COMMANDS:
        return None
    command = COMMANDS[argv[position]]
    values = _defaults(command)
    values["traceback"] = traceback
    by_flag = {flag: option for option in command.options for flag in option.flags}
    by_flag["--traceback"] = _TRACEBACK
    positionals: list[str] = []
    split = False  # an option came between two positionals: argparse refuses that for nargs="+"
    only_positionals = False
    position += 1
    while position < len(argv):
        word = argv[position]
        position += 1
        if only_positionals or word == "-" or not word.startswith("-"):
            if positionals and split:
                return None
            positionals.append(word)
            continue
        if word == "--":
            only_positionals = True
            continue
        split = bool(positionals)
        name, equals, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        option = by_flag.get(name)
        if option is None:
            return None
        if option.kind == FLAG:
            if equals:
                return None
            values[option.dest] = True
            continue
        if equals:
            text = attached
        elif position < len(argv) and not (argv[position].startswith("-") and argv[position] != "-"):
            text = argv[position]
            position += 1
        else:
            return None
        if option.choices is not None and text not in option.choices:
            return None
        try:
            value = option.convert(text) if option.convert is not None else text
        except ValueError:
            return None
        if option.kind == APPEND:
            values[option.dest].append(value)
        else:
            values[option.dest] = value
    fixed = [positional for positional in command.positionals if not positional.many]
    many = next((positional for positional in command.positionals if positional.many), None)
    if len(positionals) < len(fixed) + (many is not None) or (many is None and len(positionals) > len(fixed)):
        return None
    for positional, word in zip(fixed, positionals, strict=False):
        values[positional.dest] = word
    if many is not None:
        values[many.dest] = positionals[len(fixed) :]
    return Arguments(values)


def _terminal_width() -> int:
    """What argparse would ask shutil for, without importing shutil (and its compressors)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def parse_argparse(argv: Sequence[str]) -> Arguments:
    """The same grammar through argparse: help, --version, and one-line errors (UsageError)."""
    import argparse

    class Formatter(argparse.HelpFormatter):
        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
            super().__init__(prog, indent_increment, max_help_position, _terminal_width() - 2)

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            command = self.prog.split()[-1]
            see = "elfdeps --help" if command == "elfdeps" else f"elfdeps {command} --help"
            raise UsageError(f"{message} (see '{see}')")

    def checked(convert: Callable[[str], object]) -> Callable[[str], object]:
        def run(text: str) -> object:
            try:
                return convert(text)
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from error

        return run

    parser = Parser(
        prog="elfdeps",
        description="What an ELF program will load, from where, why, and what will break (never running it).",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"elfdeps {__version__}")
    parser.add_argument("--traceback", action="store_true", help=_TRACEBACK.help)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    # Only the command being run gets its options: argparse builds every parser it is given.
    selected = next((word for word in argv if not word.startswith("-")), None)
    for command in COMMANDS.values():
        sub = subparsers.add_parser(
            command.name, help=command.summary, description=command.summary, formatter_class=Formatter
        )
        if command.name != selected:
            continue
        for positional in command.positionals:
            sub.add_argument(
                positional.dest,
                metavar=positional.metavar,
                help=positional.help,
                nargs="+" if positional.many else None,
            )
        group = sub.add_argument_group("resolution (what the analysed program would be started with)")
        for option in command.options:
            target = group if option.resolution else sub
            kwargs: dict[str, Any] = {"dest": option.dest, "help": option.help}
            if option.kind == FLAG:
                kwargs["action"] = "store_true"
            else:
                kwargs.update(metavar=option.metavar, choices=option.choices, default=option.default)
                if option.kind == APPEND:
                    kwargs.update(action="append", default=[])
                if option.convert is not None:
                    kwargs["type"] = checked(option.convert)
            target.add_argument(*option.flags, **kwargs)
        # SUPPRESS: a subparser's default would overwrite a --traceback given before the command.
        sub.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    namespace = parser.parse_args(argv)
    if namespace.command is None:
        raise UsageError("a command is needed: " + ", ".join(COMMANDS) + " (see 'elfdeps --help')")
    return Arguments(vars(namespace))


def parse(argv: Sequence[str]) -> Arguments:
    return parse_fast(argv) or parse_argparse(argv)
