"""Runs an audit: walks the given paths, emulates the start of every ELF file found, binds its
symbols and collects the findings of every rule, then applies ignores and the baseline.

Each file is parsed once for the whole run (one FileCache). A library that is itself one of the
audited files has its references bound once, in its own scope; every other loaded object is bound in
the scope of the file that loads it (as ldd -r does for one program).
"""

from __future__ import annotations

import os

from elfdeps.advice.archives import ArchiveIndex
from elfdeps.advice.fix import CombinedFix, combined_fix
from elfdeps.advice.nearby import explain_missing
from elfdeps.audit.crates import crate_findings
from elfdeps.audit.folding import fold_missing_symbols
from elfdeps.audit.loading import loading_findings
from elfdeps.audit.rpaths import rpath_findings
from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.audit.symbols import symbol_findings
from elfdeps.audit.versions import floor_findings, highest_versions
from elfdeps.audit.walk import Walk, walk
from elfdeps.binding import BindingCache, BindingReport, bind, start_binding
from elfdeps.elf import constants as C
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.errors import ElfFormatError, InputError
from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.loader.environment import LoaderEnv, TargetCache, TargetSystem
from elfdeps.loader.graph import emulate
from elfdeps.model import LoadResult
from elfdeps.rust.crates import prepare_crate_report

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = [
    "AuditOptions",
    "AuditReport",
    "EntryOutcome",
    "FindingCollector",
    "FindingKey",
    "audit",
    "audit_entries",
]

FindingKey = tuple[str, str, str | None, str | None, str | None, str | None]


class AuditOptions(Fact):
    env: LoaderEnv
    fail_on: Severity = Severity.ERROR
    ignores: tuple[tuple[str, str | None], ...] = ()  # (rule or "*", glob of the object path)
    floors: dict[str, tuple[int, ...]] | None = None  # family -> highest allowed version
    baseline: frozenset[FindingKey] = frozenset()
    toolchains: tuple[str, ...] = ()  # Rust toolchain library directories, for "found elsewhere"
    show_toolchain: bool = False  # report findings inside the toolchains' own files too (--all)


class EntryOutcome(Fact):
    """What auditing one file found."""

    path: str
    findings: tuple[Finding, ...]
    result: LoadResult | None  # None for a file that could not be analysed
    highest_versions: dict[str, str]


class AuditReport(Fact):
    entries: tuple[EntryOutcome, ...]
    findings: tuple[Finding, ...]  # de-duplicated, ignores and baseline applied
    suppressed: int  # findings dropped by --ignore or the baseline
    toolchain_findings: int = 0  # findings inside the Rust toolchains' own files, not shown (--all shows them)
    walk: Walk = Walk((), (), ())  # what the directory walk left out

    def fails(self, threshold: Severity) -> bool:
        return any(finding.severity.rank >= threshold.rank for finding in self.findings)


def _in_root(path: str, root: str | None) -> str:
    """The path a file walked on this machine has inside --root (what that root's loader sees)."""
    if root is None:
        return path
    root = os.path.abspath(root).rstrip(os.sep)
    absolute = os.path.abspath(path)
    return absolute[len(root) :] or "/" if absolute == root or absolute.startswith(root + os.sep) else path


def _identity(path: str | None) -> tuple[int, int] | None:
    """The (st_dev, st_ino) the loader would know a file by, without reading it."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


class _Run:
    """The state of one audit: the run's caches and the identities of the audited files. ``helper``:
    this process may fork one helper to bind a heavy library's references while it reads the Rust
    crates (the audit runs in this process alone, and may use two CPUs)."""

    def __init__(self, options: AuditOptions, audited: frozenset[tuple[int, int]], *, helper: bool = False) -> None:
        self.options = options
        self.audited = audited
        self.helper = helper
        self.files = FileCache()
        self.targets = TargetCache()
        self.binding = BindingCache()
        self.archives = ArchiveIndex(self.files)

    def audit_entry(self, path: str) -> EntryOutcome:
        """Audit one file; ``path`` is where it is on this machine (under --root, inside the root: reports
        name it as the root's loader would)."""
        options, files = self.options, self.files
        shown = _in_root(path, options.env.root)
        try:
            result = emulate(shown, options.env, files, self.targets, check_shadowing=True)
        except InputError as error:
            opened = files.open(path)
            looks_like_elf = not isinstance(opened, OpenFailure) and opened.data[:4] == C.ELF_MAGIC
            if not (looks_like_elf and isinstance(error.__cause__, ElfFormatError)):
                raise  # missing, unreadable, not ELF, an object file: the file cannot be audited at all
            finding = Finding("malformed-elf", Severity.ERROR, shown, f"not a readable ELF file: {error}", entry=shown)
            return EntryOutcome(shown, (finding,), None, {})
        target = self.targets.of(result, options.env)
        assert target is not None, "an emulated file has facts"
        result = explain_missing(result, files, target, options.toolchains)
        fix = combined_fix(result, options.env, files, self.targets, options.toolchains) if result.missing else None
        findings = loading_findings(result, fix)
        findings += list(rpath_findings(result, target))
        if result.error is None:  # a loader stopped by a fatal error relocates nothing
            findings = self._with_binding_findings(findings, shown, result, target, fix)
        highest: dict[str, str] = {}
        if result.main.host_path is not None:
            try:
                elf = files.elf(result.main.host_path)
                highest = highest_versions(elf)
                if options.floors:
                    findings += list(floor_findings(shown, elf, options.floors))
            except ElfFormatError as error:
                findings.append(Finding("malformed-elf", Severity.ERROR, shown, str(error)))
        return EntryOutcome(shown, tuple(finding._replace(entry=shown) for finding in findings), result, highest)

    def _requesters(self, result: LoadResult) -> frozenset[int]:
        """The objects whose references this entry binds: itself, and the loaded objects that are not
        audited on their own (those are bound once, in their own scope)."""
        return frozenset(
            obj.index
            for obj in result.objects
            if obj.found and (obj.index == 0 or _identity(obj.host_path) not in self.audited)
        )

    def _with_binding_findings(
        self, findings: list[Finding], path: str, result: LoadResult, target: TargetSystem, fix: CombinedFix | None
    ) -> list[Finding]:
        """``findings`` and those of binding the references, the missing symbols a missing library
        explains folded into its finding."""
        try:
            pending = start_binding(
                result,
                self.files,
                cache=self.binding,
                collect_interposition=True,
                requesters=self._requesters(result),
                helper=self.helper,
            )
        except ElfFormatError as error:
            return [*findings, Finding("malformed-elf", Severity.ERROR, path, str(error))]
        try:
            prepare_crate_report(result, self.files)  # while the helper binds
            report = pending.finish()
        except ElfFormatError as error:
            return [*findings, Finding("malformed-elf", Severity.ERROR, path, str(error))]
        finally:
            pending.cancel()
        findings = [*findings, *symbol_findings(result, report, self.files, target, self.archives)]
        for index, reason in report.unreadable:
            findings.append(Finding("malformed-elf", Severity.ERROR, result.objects[index].path or path, reason))
        if result.missing:
            fixed, fixed_report = self._bound_with_fix(result, fix)
            findings = fold_missing_symbols(findings, result, report, fixed, fixed_report)
        return crate_findings(findings, result, report, self.files)

    def _bound_with_fix(
        self, result: LoadResult, fix: CombinedFix | None
    ) -> tuple[LoadResult | None, BindingReport | None]:
        """The start emulated and bound again with the combined fix's LD_LIBRARY_PATH (the copies
        found elsewhere), or (None, None) when there is nothing to try."""
        if fix is None or not fix.directories:
            return None, None
        fixed_env = self.options.env._replace(ld_library_path=fix.ld_library_path)
        try:
            fixed = emulate(result.main_path, fixed_env, self.files, self.targets)
            if fixed.error is not None:
                return None, None
            return fixed, bind(fixed, self.files, cache=self.binding, requesters=self._requesters(fixed))
        except ElfFormatError:
            return None, None


def _ignored(finding: Finding, ignores: tuple[tuple[str, str | None], ...]) -> bool:
    for rule, pattern in ignores:
        if rule not in ("*", finding.rule):
            continue
        if pattern is None:
            return True
        import fnmatch  # only --ignore RULE:GLOB needs it

        if fnmatch.fnmatch(finding.object, pattern) or fnmatch.fnmatch(os.path.basename(finding.object), pattern):
            return True
    return False


class FindingCollector:
    """The findings of a run as its entries arrive: rules it does not know dropped, --ignore and the
    baseline applied (counted as suppressed), duplicates (same key) kept once, in arrival order."""

    def __init__(self, options: AuditOptions) -> None:
        self.options = options
        self.unique: dict[FindingKey, Finding] = {}
        self.suppressed = 0
        self.in_toolchains: set[FindingKey] = set()
        self.walk = Walk((), (), ())
        # A toolchain's root: .../toolchains/<name>, above its lib/rustlib/<target>/lib and lib.
        self._toolchain_roots = tuple(
            sorted(
                {directory.split(f"{os.sep}lib{os.sep}")[0].rstrip(os.sep) + os.sep for directory in options.toolchains}
            )
        )

    def add(self, entry: EntryOutcome) -> None:
        for finding in entry.findings:
            if finding.rule not in RULES:
                continue
            if _ignored(finding, self.options.ignores) or finding.key in self.options.baseline:
                self.suppressed += 1
                continue
            if not self.options.show_toolchain and finding.object.startswith(self._toolchain_roots):
                self.in_toolchains.add(finding.key)  # nobody can fix the toolchain's own files
                continue
            self.unique.setdefault(finding.key, finding)

    def report(self, entries: Iterable[EntryOutcome]) -> AuditReport:
        return AuditReport(
            tuple(entries), tuple(self.unique.values()), self.suppressed, len(self.in_toolchains), self.walk
        )


MIN_PARALLEL = 16  # fewer files are audited in this process: starting workers would cost more
_worker_run: _Run | None = None  # in a worker process: its share of the one audit it serves


def _start_worker(options: AuditOptions, audited: frozenset[tuple[int, int]]) -> None:
    global _worker_run  # noqa: PLW0603 - a worker process lives for one audit: its run is its state
    _worker_run = _Run(options, audited)


def _audit_in_worker(path: str) -> EntryOutcome:
    assert _worker_run is not None, "the pool initialiser sets the worker's run"
    return _worker_run.audit_entry(path)


def _parallel(
    paths: list[str], options: AuditOptions, audited: frozenset[tuple[int, int]], jobs: int
) -> Iterator[EntryOutcome]:
    """The entries in input order, audited by a pool of forked processes. Neighbouring files go to
    the same worker (they share libraries, which each worker parses once)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    chunk = max(1, min(32, len(paths) // (jobs * 8)))
    with context.Pool(jobs, initializer=_start_worker, initargs=(options, audited)) as pool:
        yield from pool.imap(_audit_in_worker, paths, chunksize=chunk)


def audit_entries(
    paths: Iterable[str],
    options: AuditOptions,
    progress: Callable[[int, int, str], None] | None = None,
    jobs: int = 1,
    collector: FindingCollector | None = None,
) -> Iterator[EntryOutcome]:
    """Each ELF file under ``paths`` audited, in walk order, by ``jobs`` processes (``collector``, when
    given, learns what the walk left out)."""
    walked = walk(paths)
    if collector is not None:
        collector.walk = walked
    entry_paths = list(walked.files)
    audited = frozenset(identity for identity in map(_identity, entry_paths) if identity is not None)
    if jobs > 1 and len(entry_paths) >= MIN_PARALLEL:
        entries: Iterator[EntryOutcome] = _parallel(entry_paths, options, audited, min(jobs, len(entry_paths)))
    else:
        entries = map(_Run(options, audited, helper=jobs > 1).audit_entry, entry_paths)
    for number, entry in enumerate(entries, 1):
        if progress is not None:
            progress(number, len(entry_paths), entry.path)
        yield entry


def audit(
    paths: Iterable[str],
    options: AuditOptions,
    progress: Callable[[int, int, str], None] | None = None,
    *,
    jobs: int = 1,
    keep_results: bool = True,
) -> AuditReport:
    """The whole audit. ``keep_results=False`` keeps only each entry's findings (memory stays flat
    however many files there are)."""
    collector = FindingCollector(options)
    entries = []
    for entry in audit_entries(paths, options, progress, jobs, collector):
        collector.add(entry)
        entries.append(entry if keep_results else entry._replace(result=None))
    return collector.report(entries)
