"""Runs an audit: walks the given paths, emulates the start of every ELF file found, binds its
symbols and collects the findings of every rule, then applies ignores and the baseline.

Each file is parsed once for the whole run (one FileCache). A library that is itself one of the
audited files has its references bound once, in its own scope; every other loaded object is bound in
the scope of the file that loads it (as ldd -r does for one program).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from elfdeps.audit.loading import loading_findings
from elfdeps.audit.rpaths import rpath_findings
from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.audit.symbols import symbol_findings
from elfdeps.audit.versions import floor_findings, highest_versions
from elfdeps.binding import bind
from elfdeps.elf import constants as C
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.errors import ElfFormatError, InputError
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate
from elfdeps.loader.nearby import explain_missing
from elfdeps.model import LoadResult

__all__ = ["AuditOptions", "AuditReport", "EntryOutcome", "FindingKey", "audit", "find_elf_files"]

FindingKey = tuple[str, str, str | None, str | None, str | None, str | None]


class AuditOptions(NamedTuple):
    env: LoaderEnv
    fail_on: Severity = Severity.ERROR
    ignores: tuple[tuple[str, str | None], ...] = ()  # (rule or "*", glob of the object path)
    floors: dict[str, tuple[int, ...]] | None = None  # family -> highest allowed version
    baseline: frozenset[FindingKey] = frozenset()


class EntryOutcome(NamedTuple):
    """What auditing one file found."""

    path: str
    findings: tuple[Finding, ...]
    result: LoadResult | None  # None for a file that could not be analysed
    highest_versions: dict[str, str]


class AuditReport(NamedTuple):
    entries: tuple[EntryOutcome, ...]
    findings: tuple[Finding, ...]  # de-duplicated, ignores and baseline applied
    suppressed: int  # findings dropped by --ignore or the baseline

    def fails(self, threshold: Severity) -> bool:
        return any(finding.severity.rank >= threshold.rank for finding in self.findings)


def _looks_like_loadable_elf(path: str) -> bool:
    """ELF magic and, when the header is there, an executable or shared object: object files (.o),
    core dumps and archives met in a directory walk are not programs to audit. A damaged header
    still counts, so that malformed-elf reports it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 18)
    except OSError:
        return False
    finally:
        os.close(fd)
    if head[:4] != C.ELF_MAGIC:
        return False
    if len(head) < 18:
        return True
    e_type = int.from_bytes(head[16:18], "big" if head[5] == C.ELFDATA2MSB else "little")
    return e_type not in (C.ET_REL, C.ET_CORE)


def find_elf_files(paths: Iterable[str]) -> Iterator[str]:
    """Files named directly (a missing one raises InputError) and the ELF files under named directories
    (symlinks inside directories are skipped: their targets are audited where they are)."""
    for path in paths:
        if os.path.isdir(path):
            for directory, subdirs, names in os.walk(path):
                subdirs.sort()
                for name in sorted(names):
                    candidate = os.path.join(directory, name)
                    if not os.path.islink(candidate) and _looks_like_loadable_elf(candidate):
                        yield candidate
        elif os.path.lexists(path):
            yield path
        else:
            raise InputError(f"{path}: No such file or directory")


def _identity(files: FileCache, host_path: str | None) -> tuple[int, int] | None:
    if host_path is None:
        return None
    opened = files.open(host_path)
    return None if isinstance(opened, OpenFailure) else opened.identity


def _audit_entry(path: str, options: AuditOptions, files: FileCache, audited: set[tuple[int, int]]) -> EntryOutcome:
    try:
        result = emulate(path, options.env, files, check_shadowing=True)
    except InputError as error:
        opened = files.open(path)
        looks_like_elf = not isinstance(opened, OpenFailure) and opened.data[:4] == C.ELF_MAGIC
        if not (looks_like_elf and isinstance(error.__cause__, ElfFormatError)):
            raise  # missing, unreadable, not ELF, an object file: the file cannot be audited at all
        finding = Finding("malformed-elf", Severity.ERROR, path, f"not a readable ELF file: {error}", entry=path)
        return EntryOutcome(path, (finding,), None, {})
    result = explain_missing(result, files)
    findings = loading_findings(result)
    findings += list(rpath_findings(result))
    if result.error is None:  # a loader stopped by a fatal error relocates nothing
        findings += _binding_findings(path, result, files, audited)
    elf = result.main.elf
    highest: dict[str, str] = {}
    if elf is not None:
        highest = highest_versions(elf)
        if options.floors:
            findings += list(floor_findings(path, elf, options.floors))
    return EntryOutcome(path, tuple(finding._replace(entry=path) for finding in findings), result, highest)


def _binding_findings(path: str, result: LoadResult, files: FileCache, audited: set[tuple[int, int]]) -> list[Finding]:
    """Bind this file's references, and those of loaded objects that are not audited on their own."""
    requesters = frozenset(
        obj.index
        for obj in result.objects
        if obj.found and (obj.index == 0 or _identity(files, obj.host_path) not in audited)
    )
    try:
        report = bind(result, collect_interposition=True, requesters=requesters)
    except ElfFormatError as error:
        return [Finding("malformed-elf", Severity.ERROR, path, str(error))]
    findings = symbol_findings(result, report, files)
    for index, reason in report.unreadable:
        findings.append(Finding("malformed-elf", Severity.ERROR, result.objects[index].path or path, reason))
    return findings


def _ignored(finding: Finding, ignores: tuple[tuple[str, str | None], ...]) -> bool:
    for rule, pattern in ignores:
        if rule not in ("*", finding.rule):
            continue
        if pattern is None:
            return True
        if fnmatch.fnmatch(finding.object, pattern) or fnmatch.fnmatch(os.path.basename(finding.object), pattern):
            return True
    return False


def audit(
    paths: Iterable[str], options: AuditOptions, progress: Callable[[int, int, str], None] | None = None
) -> AuditReport:
    files = FileCache()
    entry_paths = list(find_elf_files(paths))
    audited = {identity for identity in (_identity(files, path) for path in entry_paths) if identity}
    entries = []
    for number, path in enumerate(entry_paths, 1):
        if progress is not None:
            progress(number, len(entry_paths), path)
        entries.append(_audit_entry(path, options, files, audited))
    unique: dict[FindingKey, Finding] = {}
    suppressed = 0
    for entry in entries:
        for finding in entry.findings:
            if finding.rule not in RULES:
                continue
            if _ignored(finding, options.ignores) or finding.key in options.baseline:
                suppressed += 1
                continue
            unique.setdefault(finding.key, finding)
    return AuditReport(tuple(entries), tuple(unique.values()), suppressed)
