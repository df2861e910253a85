"""The command line: the only place that reads argv, the environment and the tty, prints, and turns
outcomes into an exit code (DESIGN.md §4): 0 all found, 1 problems found, 2 usage or input error.
"""

from __future__ import annotations

import os
import sys

from elfdeps.arguments import Arguments, parse
from elfdeps.errors import ElfdepsError, InputError, UsageError
from elfdeps.facts import TYPE_CHECKING, Fact

if TYPE_CHECKING:  # imported lazily at run time: start-up stays lean
    from collections.abc import Sequence
    from typing import NoReturn, TextIO

    from elfdeps.advice.fix import CombinedFix
    from elfdeps.audit.runner import AuditOptions, FindingKey
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.environment import LoaderEnv, TargetCache
    from elfdeps.model import LoadResult

__all__ = ["main", "run"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


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


def _loader_env(args: Arguments) -> LoaderEnv:
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
    if absolute == absolute_root:
        return "/"
    if absolute.startswith(absolute_root + os.sep):
        return absolute[len(absolute_root) :]
    return path if path.startswith("/") else "/" + path


def _host_paths(paths: list[str], root: str | None) -> list[str]:
    """Where the files named for an audit are on this machine: under --root, a path inside the root
    or a host path under it (the walk reads the host's directories; the runner maps them back)."""
    if root is None:
        return paths
    root = os.path.abspath(root)
    return [
        path
        if os.path.abspath(path) == root or os.path.abspath(path).startswith(root + os.sep)
        else os.path.join(root, path.lstrip("/"))
        for path in paths
    ]


def _use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _unicode_terminal(stream: TextIO) -> bool:
    return stream.isatty() and (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"


def _toolchains() -> tuple[str, ...]:
    from elfdeps.advice.nearby import rust_toolchain_dirs

    return rust_toolchain_dirs(os.environ)


def _combined_fix(
    result: LoadResult, env: LoaderEnv, files: FileCache, targets: TargetCache, toolchains: tuple[str, ...]
) -> CombinedFix | None:
    if result.ok:
        return None
    from elfdeps.advice.fix import combined_fix

    return combined_fix(result, env, files, targets, toolchains)


class _Outcome(Fact):
    """What a command found."""

    problems: bool


def _exit_code(outcome: _Outcome) -> int:
    """The one place exit codes are computed from outcomes (DESIGN.md §4)."""
    return EXIT_PROBLEMS if outcome.problems else EXIT_OK


def _command_list(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.environment import TargetCache
    from elfdeps.loader.graph import emulate
    from elfdeps.render.text import render_list

    env = _loader_env(args)
    files, targets = FileCache(), TargetCache()
    result = emulate(_main_path(args.file, args.root), env, files, targets)
    if args.json:
        from elfdeps.advice.nearby import explain_missing
        from elfdeps.render.jsonreport import write_report
        from elfdeps.rust.labels import rust_labels

        explained = explain_missing(result, files, targets.of(result, env), _toolchains())
        write_report("list", [explained], out, rust=[rust_labels(result, files)])
    else:
        render_list(result, out)
    _report_errors(result, err)
    return _Outcome(problems=not result.ok)


def _command_tree(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.advice.nearby import explain_missing
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.environment import TargetCache
    from elfdeps.loader.graph import emulate

    env = _loader_env(args)
    files, targets = FileCache(), TargetCache()
    toolchains: tuple[str, ...] = ()  # looked up only once a library is missing
    results = []
    fixes = []
    for path in args.files:
        result = emulate(_main_path(path, args.root), env, files, targets, check_shadowing=True)
        if not all(obj.found for obj in result.objects):
            toolchains = toolchains or _toolchains()
            result = explain_missing(result, files, targets.of(result, env), toolchains)
        results.append(result)
        fixes.append(_combined_fix(result, env, files, targets, toolchains))
    from elfdeps.rust.labels import rust_labels  # imports the Rust stage only for a Rust object

    rust = [rust_labels(result, files) for result in results]
    if args.json:
        from elfdeps.render.jsonreport import write_report

        write_report("tree", results, out, full_tree=args.all, fixes=fixes, rust=rust)
    else:
        from elfdeps.render.text import Palette, TreeOptions, fix_lines, render_tree

        palette = Palette(_use_colour(out))
        options = TreeOptions(
            full=args.all,
            max_depth=args.max_depth,
            paths=args.path,
            hide=tuple(args.hide),
            hide_system=args.hide_system,
            verbose=args.verbose,
            unicode=not args.ascii and _unicode_terminal(out),
        )
        for result, fix, labels in zip(results, fixes, rust, strict=True):
            render_tree(result, out, palette, options, fix_lines=fix_lines(fix, palette), rust=labels)
    for result in results:
        _report_errors(result, err)
    return _Outcome(problems=any(not result.ok for result in results))


def _audit_options(args: Arguments) -> AuditOptions:
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
    return AuditOptions(
        _loader_env(args), Severity(fail_on), tuple(ignores), floors, baseline, _toolchains(), show_toolchain=args.all
    )


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


def _command_audit(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.audit.runner import audit

    options = _audit_options(args)
    paths = _host_paths(args.paths, args.root)
    progress = None
    if not args.no_progress and err.isatty():

        def progress(number: int, total: int, path: str) -> None:
            if total >= 10:
                err.write(f"\r\033[K[{number}/{total}] {_printable(path[-60:])}")
                if number == total:
                    err.write("\r\033[K")
                err.flush()

    jobs = args.jobs or len(os.sched_getaffinity(0))
    output_format = "json" if args.json else (args.format or "text")
    try:
        stream = open(args.output, "w", encoding="utf-8") if args.output else out  # noqa: SIM115
    except OSError as error:
        raise InputError(f"{args.output}: cannot write the report: {error.strerror}") from error
    try:
        if output_format == "json":  # written while the files are audited
            from elfdeps.audit.runner import FindingCollector, audit_entries
            from elfdeps.render.jsonreport import write_audit_report

            collector = FindingCollector(options)
            entries = write_audit_report(audit_entries(paths, options, progress, jobs, collector), collector, stream)
            report = collector.report(entries)
        else:
            report = audit(paths, options, progress, jobs=jobs, keep_results=False)
            if output_format == "sarif":
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


def _command_symbols(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.binding import bind, definitions, winner
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.graph import emulate
    from elfdeps.render.symbols_text import render_bindings, render_definers

    files = FileCache()
    result = emulate(_main_path(args.file, args.root), _loader_env(args), files)
    if result.error is not None:  # the loader stops before binding anything
        if args.json:  # still one JSON object: the files' load_error says why nothing is bound
            from elfdeps.render.jsonreport import write_report

            write_report("symbols", [result], out, extra={"bindings": []})
        _report_errors(result, err)
        return _Outcome(problems=True)
    if args.defines is not None:
        asked = os.fsencode(args.defines)
        names = [asked] if definitions(result, files, asked) else _mangled_names(result, files, asked) or [asked]
        groups = [(name, definitions(result, files, name), winner(result, files, name)) for name in names]
        render_definers(result, asked, groups, out, as_json=args.json)
        return _Outcome(problems=not any(found for _name, found, _winner in groups))
    report = bind(result, files)
    render_bindings(result, report, out, missing_only=args.missing, as_json=args.json)
    _report_errors(result, err)
    return _Outcome(problems=not result.ok or any(binding.fails for binding in report.bindings))


def _mangled_names(result: LoadResult, files: FileCache, spelling: bytes) -> list[bytes]:
    """The mangled names, in the loaded objects' .dynsym, whose readable spelling is ``spelling``
    (``--defines mid::shout`` finds ``_ZN3mid5shout17h<hash>E``); none for a name that is mangled."""
    from elfdeps.errors import ElfFormatError
    from elfdeps.rust.demangle import is_mangled, spelled_as

    if is_mangled(spelling):
        return []
    names: list[bytes] = []
    for obj in result.objects:
        if obj.found and obj.host_path is not None:
            try:
                table = files.elf(obj.host_path).symbol_table
                names += (table.symbol(index).name for index in range(1, table.count))
            except ElfFormatError:
                continue  # the other commands report it; here it defines nothing
    return spelled_as(spelling, names)


_GRAPH_FORMATS = (".dot", ".svg", ".png", ".pdf", ".html")


def _command_graph(args: Arguments, out: TextIO, _err: TextIO) -> _Outcome:
    from elfdeps.audit.rules import Severity
    from elfdeps.audit.runner import AuditOptions, audit
    from elfdeps.depgraph.model import build_model
    from elfdeps.depgraph.rust_stage import rust_facts
    from elfdeps.depgraph.views import ViewOptions, cut
    from elfdeps.render.dot import DotOptions, dot_text, render

    suffix = os.path.splitext(args.output)[1].lower() if args.output else ".dot"
    if suffix not in _GRAPH_FORMATS:
        raise UsageError(f"-o {args.output}: the suffix chooses the format: {', '.join(_GRAPH_FORMATS)}")
    for path in args.files:
        if os.path.isdir(path):
            raise InputError(f"{path}: Is a directory")
    report = audit(_host_paths(args.files, args.root), AuditOptions(_loader_env(args)))
    for entry in report.entries:
        if entry.result is None:  # a file that looks like ELF but cannot be read
            raise InputError(entry.findings[0].message if entry.findings else f"{entry.path}: cannot be analysed")
    results = [entry.result for entry in report.entries if entry.result is not None]
    from elfdeps.elf.cache import FileCache

    model = build_model(results, report.findings, rust_facts(results, FileCache()))
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


def _command_crates(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    """Per analysed file: emulate, bind, then the Rust stage with every object's definitions read."""
    from elfdeps.binding import bind
    from elfdeps.elf.cache import FileCache
    from elfdeps.loader.graph import emulate
    from elfdeps.rust.crates import crate_report
    from elfdeps.rust.problems import Level

    env = _loader_env(args)
    files = FileCache()
    analysed = []
    for path in args.files:
        result = emulate(_main_path(path, args.root), env, files)
        binding = bind(result, files) if result.error is None else None
        analysed.append((result, crate_report(result, files, binding)))
    if args.json:
        from elfdeps.render.crates_json import crates_json
        from elfdeps.render.jsonreport import write_report

        crates = [crates_json(result, report) for result, report in analysed]
        labels = [{item.object: item.facts for item in report.objects} for _, report in analysed]
        write_report("crates", [result for result, _ in analysed], out, {"crates": crates}, rust=labels)
    else:
        from elfdeps.render.crates_text import render_crates
        from elfdeps.render.text import Palette

        palette = Palette(_use_colour(out))
        for result, report in analysed:
            render_crates(result, report, out, palette, verbose=args.verbose)
    for result, _ in analysed:
        _report_errors(result, err)
    errors = any(problem.level is Level.ERROR for _, report in analysed for problem in report.problems)
    return _Outcome(problems=errors or any(not result.ok for result, _ in analysed))


def _command_why(args: Arguments, out: TextIO, err: TextIO) -> _Outcome:
    from elfdeps.depgraph.chains import find_chains
    from elfdeps.loader.graph import emulate
    from elfdeps.render.why_text import render_why, why_json

    result = emulate(_main_path(args.file, args.root), _loader_env(args), check_shadowing=True)
    chains = find_chains(result, args.library, limit=args.max_chains)
    if args.json:
        from elfdeps.render.jsonreport import write_report

        write_report("why", [result], out, {"why": why_json(result, chains, args.library)})
    else:
        render_why(result, chains, args.library, out, show_paths=args.path)
    _report_errors(result, err)
    return _Outcome(problems=not chains.targets)


def _report_errors(result: LoadResult, err: TextIO) -> None:
    from elfdeps.render.printable import shown

    if result.error is not None:
        error = result.error
        err.write(
            f"elfdeps: {shown(result.main_path)}: the loader would stop: {shown(error.subject)}:"
            f" {shown(error.message)}\n"
        )


class _FewCollections:
    """Python's cyclic collector runs every 700 new container objects by default; an audit creates
    millions of small tuples (symbols, references, bindings) that are never garbage, and collecting
    over them took 30% of `audit /usr/lib/x86_64-linux-gnu`. Collect far less often while a command
    runs (the FileCache still collects when it evicts a file); restore the caller's setting after."""

    def __enter__(self) -> None:
        import gc

        self._saved = gc.get_threshold()
        gc.set_threshold(100_000, 50, 100)

    def __exit__(self, *_exc: object) -> None:
        import gc

        gc.set_threshold(*self._saved)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    traceback_wanted = "--traceback" in arguments
    try:
        args = parse(arguments)
        command = {
            "list": _command_list,
            "tree": _command_tree,
            "audit": _command_audit,
            "symbols": _command_symbols,
            "graph": _command_graph,
            "why": _command_why,
            "crates": _command_crates,
        }[args.command]
        with _FewCollections():
            outcome = command(args, out, err)
        out.flush()
        return _exit_code(outcome)
    except ElfdepsError as error:  # a usage error, or an input that cannot be analysed
        err.write(f"elfdeps: {_printable(str(error))}\n")
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
        err.write(
            f"elfdeps: internal error: {type(error).__name__}: {_printable(str(error))}"
            " (run with --traceback for details)\n"
        )
    return EXIT_INTERNAL


def _printable(text: str) -> str:
    from elfdeps.render.printable import shown

    return shown(text)


def run() -> NoReturn:
    """The `elfdeps` command (and `python -m elfdeps`): ``main()``, then leave without tearing the
    interpreter down. Freeing every parsed object one by one took ~15 ms of an audit of rustc's tree;
    nothing is lost: reports written to files are closed by then, and the standard streams are
    flushed here."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, or a stream already closed
            continue
    os._exit(code)
