"""The Rust stage's facts as the graph takes them (issue 7: nodes styled by kind, duplicated crates tied
together): each loaded Rust object's kind from :func:`elfdeps.rust.objects.rust_facts`, and one group
per duplicated crate from the problems of :func:`elfdeps.rust.crates.crate_report`.

- Kinds: a Rust dylib or proc-macro is drawn as a Rust dylib, the toolchain's ``libstd-<hash>.so`` as
  libstd, a cdylib as a cdylib; a Rust executable keeps the model's own kind (an analysed file).
- Groups: a crate build with its own code in several objects (std with its std-internal crates as one
  group, or any other crate: ``DuplicatedCrate``), and the builds of one crate loaded from several
  objects (``CrateTwoBuilds``, labelled ``util (2 builds)``). Members in load order, each group once
  even when several analysed files load the same objects.

The crate report is made without a binding report and with ``complete=False`` (rustc's own tree stays
cheap): both change the numbers of a problem's details (references bound across), never which objects
it ties, nor its level.

Public API: :func:`rust_facts`.
"""

from __future__ import annotations

from elfdeps.audit.rules import Severity
from elfdeps.depgraph.model import Group, NodeKind, RustFacts
from elfdeps.elf.cache import FileCache
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import LoadResult
from elfdeps.rust.crates import crate_report
from elfdeps.rust.describe import problem_text
from elfdeps.rust.objects import Kind
from elfdeps.rust.problems import CrateTwoBuilds, DuplicatedCrate, Problem

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["rust_facts"]

KINDS = {
    Kind.RUST_DYLIB: NodeKind.RUST_DYLIB,
    Kind.PROC_MACRO: NodeKind.RUST_DYLIB,
    Kind.TOOLCHAIN_STD: NodeKind.LIBSTD,
    Kind.CDYLIB: NodeKind.CDYLIB,
}


def _group(problem: Problem, result: LoadResult) -> Group | None:
    if isinstance(problem, DuplicatedCrate):
        label = problem.crate.name.decode("utf-8", "replace")
        members = [holder.object for holder in problem.holders]
    elif isinstance(problem, CrateTwoBuilds):
        label = f"{problem.name.decode('utf-8', 'replace')} ({len(problem.builds)} builds)"
        members = [index for _, where in problem.builds for index in where]
    else:
        return None
    paths = tuple(path for index in sorted(set(members)) if (path := result.objects[index].path) is not None)
    if len(paths) < 2:
        return None
    return Group(label, paths, problem_text(problem, result), Severity(problem.level.value))


def rust_facts(results: Sequence[LoadResult], files: FileCache) -> RustFacts:
    """Rust kinds and duplicated-crate groups of every analysed file's loaded objects."""
    kinds: dict[str, NodeKind] = {}
    groups: dict[tuple[str, tuple[str, ...]], Group] = {}
    for result in results:
        report = crate_report(result, files, complete=False)
        for item in report.objects:
            path = result.objects[item.object].path
            kind = KINDS.get(item.facts.kind)
            if path is not None and kind is not None:
                kinds.setdefault(path, kind)
        for problem in report.problems:
            group = _group(problem, result)
            if group is not None:
                groups.setdefault((group.label, group.members), group)
    return RustFacts(kinds, tuple(groups.values()))
