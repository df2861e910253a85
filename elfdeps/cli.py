"""The command line: the only place that reads argv, the environment and the tty, prints, and turns
outcomes into an exit code (DESIGN.md §4): 0 all found, 1 problems found, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TextIO

from elfdeps import __version__
from elfdeps.errors import ElfdepsError, InputError, UsageError

if TYPE_CHECKING:  # imported lazily at run time: start-up stays lean
    from elfdeps.audit.runner import AuditOptions, FindingKey
    from elfdeps.loader.environment import LoaderEnv
    from elfdeps.model import LoadResult

__all__ = ["main"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split()[-1]
        see = "elfdeps --help" if command == "elfdeps" else f"elfdeps {command} --help"
        raise UsageError(f"{message} (see '{see}')")


def _add_resolution_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resolution (what the analysed program would be started with)")
    group.add_argument("--root", metavar="DIR", help="analyse a sysroot: its ld.so.cache, ld.so.conf, default dirs")
    group.add_argument("--ld-library-path", metavar="PATHS", help="LD_LIBRARY_PATH (default: the environment's)")
    group.add_argument("--preload", metavar="LIBS", help="LD_PRELOAD (default: the environment's)")
    group.add_argument("--no-env", action="store_true", help="ignore LD_LIBRARY_PATH/LD_PRELOAD of this environment")
    group.add_argument("--secure", action="store_true", help="setuid semantics (AT_SECURE)")
    group.add_argument("--inhibit-cache", action="store_true", help="ignore ld.so.cache (ld.so --inhibit-cache)")
    group.add_argument("--platform", metavar="P", help="value of $PLATFORM (default: from this CPU)")
    group.add_argument("--lib", metavar="L", help="value of $LIB (default: from the target's layout)")
    group.add_argument("--default-dirs", metavar="D1:D2", help="the loader's system directories")
    group.add_argument("--hwcaps", metavar="A:B", help="active glibc-hwcaps subdirectories, best first ('' for none)")
    group.add_argument("--glibc", metavar="X.Y", help="target glibc version (default: read from its ld.so)")
    group.add_argument("--no-preload-file", action="store_true", help="ignore the root's /etc/ld.so.preload")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="elfdeps",
        description="What an ELF program will load, from where, why, and what will break (never running it).",
    )
    parser.add_argument("--version", action="version", version=f"elfdeps {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    listing = commands.add_parser("list", help="ldd-compatible flat list in load order (never runs FILE)")
    listing.add_argument("file", metavar="FILE")
    listing.add_argument("--json", action="store_true", help="one JSON object (schema_version 1) on stdout")
    _add_resolution_options(listing)

    tree = commands.add_parser("tree", help="dependency tree: how each library was found, what was tried")
    tree.add_argument("files", metavar="FILE", nargs="+")
    tree.add_argument("--json", action="store_true", help="one JSON object (schema_version 1) on stdout")
    tree.add_argument("-a", "--all", action="store_true", help="repeat subtrees already shown")
    _add_resolution_options(tree)
    audit = commands.add_parser("audit", help="pre-release gate: missing libraries, symbols, versions, RPATHs")
    audit.add_argument("paths", metavar="PATH", nargs="+", help="files or directories (walked; non-ELF skipped)")
    audit.add_argument("--format", choices=("text", "json", "sarif"), default=None, help="output format (text)")
    audit.add_argument("--json", action="store_true", help="same as --format json")
    audit.add_argument("--fail-on", choices=("error", "warning", "info"), help="exit 1 at this severity (error)")
    audit.add_argument("--ignore", action="append", default=[], metavar="RULE[:GLOB]", help="drop findings")
    audit.add_argument("--max-version", action="append", default=[], metavar="FAMILY=X.Y", help="version floor")
    audit.add_argument("--baseline", metavar="FILE", help="a saved JSON report: its findings do not fail")
    audit.add_argument("--config", metavar="FILE", help="settings file (default: elfdeps.toml or pyproject.toml)")
    audit.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    audit.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    _add_resolution_options(audit)

    symbols = commands.add_parser("symbols", help="where each undefined symbol binds (like LD_DEBUG=bindings)")
    symbols.add_argument("file", metavar="FILE")
    symbols.add_argument("--missing", action="store_true", help="only references nothing defines")
    symbols.add_argument("--defines", metavar="NAME", help="which loaded objects define NAME, and which wins")
    symbols.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _add_resolution_options(symbols)
    for sub in (listing, tree, audit, symbols, *_add_graph_parsers(commands)):
        sub.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    return parser


def _add_graph_parsers(commands: argparse._SubParsersAction[_Parser]) -> tuple[argparse.ArgumentParser, ...]:
    """The parsers of `graph` and `why` (issue 7)."""
    graph = commands.add_parser("graph", help="dependency graph: .dot, .svg, .png, .pdf, or a self-contained .html")
    graph.add_argument("files", metavar="FILE", nargs="+")
    graph.add_argument(
        "-o", "--output", metavar="OUT", help="file to write; format from the suffix (default: DOT on stdout)"
    )
    graph.add_argument("-p", "--path", action="store_true", help="label nodes with paths, not sonames")
    graph.add_argument("--label", action="store_true", help="label each edge with how it was found")
    graph.add_argument("--collapse-system", action="store_true", help="fold the system libraries into one node")
    graph.add_argument("--max-depth", type=int, metavar="N", help="only objects at most N DT_NEEDED hops away")
    graph.add_argument("--focus", metavar="LIB", help="only the chains that bring LIB in (name, path or glob)")
    graph.add_argument(
        "--rankdir", choices=("auto", "TB", "LR", "BT", "RL"), default="auto", help="direction (auto: TB; LR if wide)"
    )
    _add_resolution_options(graph)

    why = commands.add_parser("why", help="every chain of DT_NEEDED edges that brings LIB in")
    why.add_argument("file", metavar="FILE")
    why.add_argument("lib", metavar="LIB", help="a soname or file name, a path, or a glob of either")
    why.add_argument("--max-chains", type=int, default=20, metavar="N", help="show at most N chains (20)")
    why.add_argument("-p", "--path", action="store_true", help="paths instead of names in each hop")
    why.add_argument("--json", action="store_true", help="one JSON object (schema_version 1) on stdout")
    _add_resolution_options(why)
    return graph, why


def _glibc_version(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        major, minor = text.split(".")[:2]
        return int(major), int(minor)
    except ValueError as error:
        raise UsageError(f"--glibc wants a version like 2.36, not {text!r}") from error


def _split_paths(value: str | None) -> tuple[str, ...] | None:
    return tuple(part for part in value.split(":") if part) if value is not None else None


def _loader_env(args: argparse.Namespace) -> LoaderEnv:
    from elfdeps.loader.environment import LoaderEnv

    if args.root is not None and not os.path.isdir(args.root):
        raise InputError(f"{args.root}: --root is not a directory")
    environ = {} if args.no_env else os.environ
    llp = args.ld_library_path if args.ld_library_path is not None else environ.get("LD_LIBRARY_PATH")
    preload = args.preload if args.preload is not None else environ.get("LD_PRELOAD")
    return LoaderEnv(
        ld_library_path=llp,
        preload=preload,
        root=args.root,
        cwd=os.getcwd(),
        secure=args.secure,
        inhibit_cache=args.inhibit_cache,
        platform=args.platform,
        lib=args.lib,
        default_dirs=_split_paths(args.default_dirs),
        hwcaps_subdirs=_split_paths(args.hwcaps),
        glibc_version=_glibc_version(args.glibc),
        read_preload_file=not args.no_preload_file,
    )


def _main_path(path: str, root: str | None) -> str:
    """FILE as the target sees it: under --root, a path inside the root (the root's prefix is dropped)."""
    if root is None:
        return path
    absolute_root = os.path.abspath(root).rstrip(os.sep)
    absolute = os.path.abspath(path)
    if absolute == absolute_root or absolute.startswith(absolute_root + os.sep):
        return "/" + os.path.relpath(absolute, absolute_root).lstrip("./")
    return path if path.startswith("/") else "/" + path


def _use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


class _Outcome(NamedTuple):
    """What a command found."""

    problems: bool


def _exit_code(outcome: _Outcome) -> int:
    """The one place exit codes are computed from outcomes (DESIGN.md §4)."""
    return EXIT_PROBLEMS if outcome.problems else EXIT_OK


def _command_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.graph import emulate
    from elfdeps.render.text import render_list

    files = FileCache()
    result = emulate(_main_path(args.file, args.root), _loader_env(args), files)
    if args.json:
        from elfdeps.loader.nearby import explain_missing
        from elfdeps.render.jsonreport import write_report

        write_report("list", [explain_missing(result, files)], out)
    else:
        render_list(result, out)
    _report_errors(result, err)
    return _Outcome(problems=not result.ok)


def _command_tree(args: argparse.Namespace, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.graph import emulate
    from elfdeps.loader.nearby import explain_missing
    from elfdeps.render.text import Palette, render_tree

    env = _loader_env(args)
    files = FileCache()
    results = []
    for path in args.files:
        result = emulate(_main_path(path, args.root), env, files, check_shadowing=True)
        results.append(explain_missing(result, files))
    if args.json:
        from elfdeps.render.jsonreport import write_report

        write_report("tree", results, out)
    else:
        palette = Palette(_use_colour(out))
        for result in results:
            render_tree(result, out, palette, show_all=args.all)
    for result in results:
        if result.error is not None:
            _report_errors(result, err)
    return _Outcome(problems=any(not result.ok for result in results))


def _audit_options(args: argparse.Namespace) -> AuditOptions:
    from elfdeps.audit.config import find_config, load_config
    from elfdeps.audit.rules import RULES, Severity
    from elfdeps.audit.runner import AuditOptions
    from elfdeps.audit.versions import parse_floor

    config_path = args.config or find_config(os.getcwd())
    config = load_config(config_path) if config_path else {}
    fail_on = args.fail_on or config.get("fail-on", "error")
    if fail_on not in ("error", "warning", "info"):
        raise UsageError(f"fail-on must be error, warning or info, not {fail_on!r}")
    ignores = []
    for item in [*_as_list(config.get("ignore", [])), *args.ignore]:
        rule, _, pattern = item.partition(":")
        if rule != "*" and rule not in RULES:
            raise UsageError(f"--ignore: unknown rule {rule!r} (rules: {', '.join(RULES)})")
        ignores.append((rule, pattern or None))
    floors = {}
    for item in [*_as_list(config.get("max-version", [])), *args.max_version]:
        try:
            family, version = parse_floor(item)
        except ValueError as error:
            raise UsageError(str(error)) from error
        floors[family] = version
    baseline_path = args.baseline or config.get("baseline")
    baseline = _read_baseline(baseline_path) if baseline_path else frozenset()
    return AuditOptions(_loader_env(args), Severity(fail_on), tuple(ignores), floors, baseline)


def _as_list(value: object) -> list[str]:
    """A config value given as one string or a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise UsageError(f"configuration: expected a string or a list of strings, not {value!r}")


def _read_baseline(path: str) -> frozenset[FindingKey]:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            findings = json.load(handle)["findings"]
        return frozenset(
            (f["rule"], f["object"], f.get("symbol"), f.get("version"), f.get("library"), f.get("subject"))
            for f in findings
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not an elfdeps JSON report usable as a baseline ({error})") from error


def _command_audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.audit.runner import audit

    options = _audit_options(args)
    progress = None
    if not args.no_progress and err.isatty():

        def progress(number: int, total: int, path: str) -> None:
            if total >= 10:
                err.write(f"\r\033[K[{number}/{total}] {path[-60:]}")
                if number == total:
                    err.write("\r\033[K")
                err.flush()

    report = audit(args.paths, options, progress)
    output_format = "json" if args.json else (args.format or "text")
    try:
        stream = open(args.output, "w", encoding="utf-8") if args.output else out  # noqa: SIM115
    except OSError as error:
        raise InputError(f"{args.output}: cannot write the report: {error.strerror}") from error
    try:
        if output_format == "json":
            from elfdeps.render.jsonreport import write_audit_report

            write_audit_report(report, stream)
        elif output_format == "sarif":
            from elfdeps.render.sarif import write_sarif

            write_sarif(report, stream)
        else:
            from elfdeps.render.audit_text import render_audit
            from elfdeps.render.text import Palette

            render_audit(report, stream, Palette(_use_colour(stream)))
    finally:
        if stream is not out:
            stream.close()
    return _Outcome(problems=report.fails(options.fail_on))


def _command_symbols(args: argparse.Namespace, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.binding import bind
    from elfdeps.loader.graph import emulate
    from elfdeps.render.symbols_text import render_bindings, render_definers

    result = emulate(_main_path(args.file, args.root), _loader_env(args))
    if result.error is not None:  # the loader stops before binding anything
        _report_errors(result, err)
        return _Outcome(problems=True)
    report = bind(result, collect_interposition=args.defines is not None)
    if args.defines is not None:
        found = render_definers(result, os.fsencode(args.defines), out, as_json=args.json)
        return _Outcome(problems=not found)
    failing = render_bindings(result, report, out, missing_only=args.missing, as_json=args.json)
    _report_errors(result, err)
    return _Outcome(problems=failing or not result.ok)


_GRAPH_FORMATS = (".dot", ".svg", ".png", ".pdf", ".html")


def _command_graph(args: argparse.Namespace, out: TextIO, _err: TextIO) -> _Outcome:
    from elfdeps.audit.rules import Severity
    from elfdeps.audit.runner import AuditOptions, audit
    from elfdeps.depgraph.model import build_model
    from elfdeps.depgraph.rust_standin import rust_facts
    from elfdeps.depgraph.views import ViewOptions, cut
    from elfdeps.render.dot import DotOptions, dot_text, render

    suffix = os.path.splitext(args.output)[1].lower() if args.output else ".dot"
    if suffix not in _GRAPH_FORMATS:
        raise UsageError(f"-o {args.output}: the suffix chooses the format: {', '.join(_GRAPH_FORMATS)}")
    if args.max_depth is not None and args.max_depth < 0:
        raise UsageError("--max-depth wants a number of hops, 0 or more")
    for path in args.files:
        if os.path.isdir(path):
            raise InputError(f"{path}: Is a directory")
    report = audit([_main_path(path, args.root) for path in args.files], AuditOptions(_loader_env(args)))
    for entry in report.entries:
        if entry.result is None:  # a file that looks like ELF but cannot be read
            raise InputError(entry.findings[0].message if entry.findings else f"{entry.path}: cannot be analysed")
    results = [entry.result for entry in report.entries if entry.result is not None]
    # The Rust stage plugs in here: rust_facts() is the stand-in (see elfdeps/depgraph/rust_standin.py).
    model = build_model(results, report.findings, rust_facts(results))
    model = cut(model, ViewOptions(args.focus, args.max_depth, args.collapse_system))
    dot = dot_text(model, DotOptions(rankdir=args.rankdir, edge_labels=args.label, show_paths=args.path))
    if suffix == ".dot":
        data = dot.encode("utf-8")
    elif suffix == ".html":
        from elfdeps.render.html import html_report

        data = html_report(model, render(dot, "svg").decode("utf-8"), args.files).encode("utf-8")
    else:
        data = render(dot, suffix[1:])
    if args.output is None:
        out.write(dot)
    else:
        try:
            with open(args.output, "wb") as handle:
                handle.write(data)
        except OSError as error:
            raise InputError(f"{args.output}: cannot write the graph: {error.strerror}") from error
    return _Outcome(problems=any(finding.severity is Severity.ERROR for finding in report.findings))


def _command_why(args: argparse.Namespace, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.depgraph.chains import find_chains
    from elfdeps.loader.graph import emulate
    from elfdeps.render.why_text import render_why, why_json

    if args.max_chains < 1:
        raise UsageError("--max-chains wants a number of chains, 1 or more")
    result = emulate(_main_path(args.file, args.root), _loader_env(args), check_shadowing=True)
    chains = find_chains(result, args.lib, limit=args.max_chains)
    if args.json:
        from elfdeps.render.jsonreport import write_report

        write_report("why", [result], out, {"why": why_json(result, chains, args.lib)})
    else:
        render_why(result, chains, args.lib, out, show_paths=args.path)
    _report_errors(result, err)
    return _Outcome(problems=not chains.targets)


def _report_errors(result: LoadResult, err: TextIO) -> None:
    if result.error is not None:
        error = result.error
        err.write(f"elfdeps: {result.main_path}: the loader would stop: {error.subject}: {error.message}\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    traceback_wanted = "--traceback" in arguments
    try:
        args = _parser().parse_args(arguments)
        if args.command is None:
            raise UsageError("a command is needed: list, tree, audit, symbols, graph or why (see 'elfdeps --help')")
        command = {
            "list": _command_list,
            "tree": _command_tree,
            "audit": _command_audit,
            "symbols": _command_symbols,
            "graph": _command_graph,
            "why": _command_why,
        }[args.command]
        outcome = command(args, out, err)
        out.flush()
        return _exit_code(outcome)
    except UsageError as error:
        err.write(f"elfdeps: {error}\n")
        return EXIT_USAGE
    except ElfdepsError as error:
        err.write(f"elfdeps: {error}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        # `elfdeps tree big | head`: the reader left; say nothing (and keep Python from complaining).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        err.write("elfdeps: interrupted\n")
        return 130
    except RecursionError as error:  # pragma: no cover - defensive
        return _internal(error, traceback_wanted, err)
    except Exception as error:
        return _internal(error, traceback_wanted, err)


def _internal(error: BaseException, traceback_wanted: bool, err: TextIO) -> int:
    if traceback_wanted:
        import traceback

        traceback.print_exception(error, file=err)
    else:
        err.write(f"elfdeps: internal error: {type(error).__name__}: {error} (run with --traceback for details)\n")
    return EXIT_INTERNAL
