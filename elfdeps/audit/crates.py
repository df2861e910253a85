"""Findings about Rust crates (issue 6; DESIGN.md §3.4; rust.md §3.2, §6.3): duplicate-crate,
crate-two-builds, crate-mismatch, rust-toolchain-mix, soname-mismatch, from the Rust stage's problems
(elfdeps.rust), each explained in words a Rust developer can act on.

They also tidy the other rules' output where the Rust facts explain it: the interposed-symbol lines
a duplicated crate causes (hundreds for two std copies) are folded into its finding; an
unused-dependency of the toolchain's libstd, or on it from a Rust dylib (rustc adds it to every
prefer-dynamic dylib), is no finding.
"""

from __future__ import annotations

import os

from elfdeps.audit.rules import RULES, Finding, Severity
from elfdeps.binding import BindingReport
from elfdeps.elf.cache import FileCache
from elfdeps.model import LoadResult
from elfdeps.rust.crates import CrateReport, crate_report
from elfdeps.rust.demangle import demangle_all
from elfdeps.rust.mangling import Crate
from elfdeps.rust.objects import Kind
from elfdeps.rust.problems import (
    CrateMismatch,
    CrateTwoBuilds,
    DuplicatedCrate,
    Problem,
    SonameMismatch,
    ToolchainMix,
)

__all__ = ["crate_findings"]

PER_COPY = "panic hook and panic count, thread-locals and ThreadId counter, stdout buffer, allocator"
_SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


def _shown(crate: Crate) -> str:
    return str(crate)


def _names(names: tuple[bytes, ...], count: int = 3) -> str:
    spelled = [os.fsdecode(name) for name in demangle_all(names[:count])]
    return ", ".join(spelled) + (f" and {len(names) - count} more" if len(names) > count else "")


class _Paths:
    def __init__(self, result: LoadResult) -> None:
        self.result = result

    def path(self, index: int) -> str:
        return self.result.objects[index].path or self.result.main_path

    def name(self, index: int) -> str:
        return os.path.basename(self.path(index))

    def names(self, indices: tuple[int, ...] | list[int]) -> str:
        return ", ".join(self.name(index) for index in indices)


def _duplicate(problem: DuplicatedCrate, paths: _Paths) -> Finding:
    holders = [holder.object for holder in problem.holders]
    crate = problem.crate.name.decode("utf-8", "replace")
    counts = "; ".join(
        f"{paths.name(holder.object)}: {holder.exported} exported, {holder.private} private"
        for holder in problem.holders
    )
    folded = (
        f" ({', '.join(sorted({c.name.decode('utf-8', 'replace') for c in problem.folded}))} with it)"
        if problem.folded
        else ""
    )
    if problem.runtime and problem.exported_by and len(problem.exported_by) > 1:
        across = f"{problem.cross_bindings} references" if problem.cross_bindings is not None else "references"
        examples = f" (e.g. {_names(problem.examples)})" if problem.examples else ""
        message = (
            f"the same {_shown(problem.crate)}{folded} is exported by {paths.names(holders)}: a half-shared"
            f" runtime; {across} of one bind to another's copy{examples}, while inlined and direct calls keep"
            f" their own copy's statics ({PER_COPY}) [{counts}]"
        )
        hint = (
            "build these Rust libraries with -C prefer-dynamic so they share the toolchain's libstd, or make"
            " them cdylibs that export only a C ABI"
        )
    elif problem.runtime:
        message = (
            f"{crate}{folded} is embedded privately in {paths.names(holders)}: independent Rust runtimes, each"
            f" with its own {PER_COPY}; only C-ABI data may cross between them [{counts}]"
        )
        hint = "pass only C-ABI data between these libraries (no Rust types, no panics across, no shared allocator)"
    else:
        statics = f"; statics: {_names(problem.statics)}" if problem.statics else ""
        examples = f" (e.g. {_names(problem.examples)})" if problem.examples else ""
        message = (
            f"crate {_shown(problem.crate)} has its own code in {paths.names(holders)}{examples}{statics}: each"
            " copy has its own state, or the loader binds some references to one copy and not others"
        )
        hint = (
            f"make {crate} a dylib of its own that the others link to (so it shows up once), instead of"
            " linking it statically into several"
        )
    return Finding(
        "duplicate-crate",
        _SEVERITY[problem.level.value],
        paths.path(holders[0]),
        message,
        related=tuple(paths.path(index) for index in holders[1:]),
        hint=hint,
        subject=str(problem.crate),
        crate=crate,
    )


def _two_builds(problem: CrateTwoBuilds, paths: _Paths) -> Finding:
    crate = problem.name.decode("utf-8", "replace")
    importers = dict(problem.importers)
    versions = dict(problem.versions)
    described = []
    holders: list[int] = []
    for build, objects in problem.builds:
        holders += objects
        needed = importers.get(build, ())
        version = versions.get(build, ())
        text = f"{_shown(build)} in {paths.names(objects)}"
        if version:
            text += f" (version {', '.join(v.decode('utf-8', 'replace') for v in version)})"
        if needed:
            text += f", used by {paths.names(needed)}"
        described.append(text)
    statics = f"; each holds its own {_names(problem.statics)}" if problem.statics else ""
    return Finding(
        "crate-two-builds",
        _SEVERITY[problem.level.value],
        paths.path(holders[0]),
        f"crate {crate} is loaded as {len(problem.builds)} builds: {'; '.join(described)}{statics}",
        related=tuple(paths.path(index) for index in holders[1:]),
        hint=(
            f"see which dependencies ask for which: `cargo tree -d -i {crate}` (two versions, or one version with"
            " two feature sets built separately, cargo#6313); unify them in one build"
        ),
        subject=crate,
        crate=crate,
    )


def _mismatch(problem: CrateMismatch, paths: _Paths) -> Finding:
    crate = problem.expected.name.decode("utf-8", "replace")
    expected_by = (
        f" (built by rustc {', '.join(v.decode('utf-8', 'replace') for v in problem.expected_versions)})"
        if problem.expected_versions
        else ""
    )
    loaded = "; ".join(f"{_shown(build)} in {paths.names(objects)}" for build, objects in problem.loaded)
    loaded_by = (
        f" (rustc {', '.join(v.decode('utf-8', 'replace') for v in problem.loaded_versions)})"
        if problem.loaded_versions
        else ""
    )
    return Finding(
        "crate-mismatch",
        _SEVERITY[problem.level.value],
        paths.path(problem.importer),
        f"imports {problem.unresolved} symbol{'s' if problem.unresolved != 1 else ''} of"
        f" {_shown(problem.expected)}{expected_by}, which no loaded object"
        f" provides; loaded instead: {loaded}{loaded_by} (e.g. {_names(problem.examples)})",
        related=tuple(paths.path(index) for _build, objects in problem.loaded for index in objects),
        hint=(
            "load the build it was linked against (for std: the libstd of the toolchain that built it), or rebuild"
            " it against the loaded one"
        ),
        subject=str(problem.expected),
        crate=crate,
    )


def _toolchains(problem: ToolchainMix, paths: _Paths) -> Finding:
    described = "; ".join(
        f"{version.decode('utf-8', 'replace')} for {paths.names(objects)}" for version, objects in problem.versions
    )
    objects = [index for _version, members in problem.versions for index in members]
    links = (
        "; " + ", ".join(f"{paths.name(a)} needs {paths.name(b)}, built by another rustc" for a, b in problem.links)
        if problem.links
        else ""
    )
    return Finding(
        "rust-toolchain-mix",
        _SEVERITY[problem.level.value],
        paths.path(objects[0]),
        f"the Rust objects of this process come from {len(problem.versions)} rustc versions: {described}{links}"
        " (Rust's dylib ABI differs between compilers)",
        related=tuple(paths.path(index) for index in objects[1:]),
        hint="build every Rust library the process loads with one toolchain",
    )


def _soname(problem: SonameMismatch, paths: _Paths) -> Finding:
    soname = problem.soname.decode("utf-8", "replace") if problem.soname else "none"
    name = problem.file_name.decode("utf-8", "replace")
    return Finding(
        "soname-mismatch",
        _SEVERITY[problem.level.value],
        paths.path(problem.object),
        f"the file {name} carries SONAME {soname}: another build was copied under this name",
        hint=f"ship the build that is {name} (its SONAME says so), not a copy of another one",
    )


def _finding(problem: Problem, paths: _Paths) -> Finding:
    if isinstance(problem, DuplicatedCrate):
        return _duplicate(problem, paths)
    if isinstance(problem, CrateTwoBuilds):
        return _two_builds(problem, paths)
    if isinstance(problem, CrateMismatch):
        return _mismatch(problem, paths)
    if isinstance(problem, ToolchainMix):
        return _toolchains(problem, paths)
    return _soname(problem, paths)


def _fold_and_hide(
    findings: list[Finding], crate_findings: list[Finding], crates: CrateReport, paths: _Paths
) -> list[Finding]:
    """The other rules' findings the Rust facts explain: interposition between the copies of a
    duplicated crate (folded into its finding), and a toolchain libstd's unused dependencies."""
    copies = [
        (position, {finding.object, *finding.related})
        for position, finding in enumerate(crate_findings)
        if finding.rule == "duplicate-crate"
    ]
    kinds = {item.object: item.facts.kind for item in crates.objects}
    toolchain_std = {paths.path(index) for index, kind in kinds.items() if kind is Kind.TOOLCHAIN_STD}
    rust = {paths.path(index) for index, kind in kinds.items() if kind is not Kind.NOT_RUST}
    folded = [0] * len(crate_findings)
    kept = []
    for finding in findings:
        if finding.rule == "interposed-symbol":
            named = {finding.object, *finding.related}
            position = next((position for position, objects in copies if named <= objects), None)
            if position is not None:
                folded[position] += 1
                continue
        if finding.rule == "unused-dependency" and (
            finding.object in toolchain_std or (finding.object in rust and finding.library in toolchain_std)
        ):
            continue  # rustc's and the toolchain's own NEEDED entries: nothing for the user to change
        kept.append(finding)
    explained = [
        finding._replace(
            message=f"{finding.message}; {count} interposed symbols between them folded in",
            folded=finding.folded + count,
        )
        if count
        else finding
        for finding, count in zip(crate_findings, folded, strict=True)
    ]
    return kept + explained


def crate_findings(
    findings: list[Finding], result: LoadResult, report: BindingReport | None, files: FileCache
) -> list[Finding]:
    """``findings`` with the Rust crate findings of this program added, and the ones they explain
    folded or hidden. A program without Rust objects costs a look at each object's markers."""
    crates = crate_report(result, files, report, complete=False)
    if not crates.objects:
        return findings
    paths = _Paths(result)
    new = [_finding(problem, paths) for problem in crates.problems]
    assert all(finding.rule in RULES for finding in new)
    return _fold_and_hide(findings, new, crates, paths)
