"""The detection rules of rust.md §6.3 over the crate holders of one loaded program, with the
false-positive traps of §6.4 as requirements: duplication counts objects, not symbols; builds held
within one single object are not a problem; legacy core::/alloc:: names never count (objects.py);
identical legacy names count only outside the sysroot crates. Levels: see :mod:`elfdeps.rust.problems`.

Public API: :func:`runtime_builds`, :func:`duplicates`, :func:`two_builds`, :func:`mismatches`, :func:`toolchain_mix`,
:func:`soname_mismatches` (each returns a list of problems); used by :mod:`elfdeps.rust.crates`.
"""

from __future__ import annotations

import os

from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.rust.mangling import Crate, parse
from elfdeps.rust.metadata import crate_versions
from elfdeps.rust.names import is_lower_hex
from elfdeps.rust.objects import (
    RUNTIME_CRATES,
    SHARED_SYSROOT_CRATES,
    SYSROOT_CRATES,
    Defines,
    Imports,
    Kind,
    LegacyExport,
    RustFacts,
    Static,
)
from elfdeps.rust.problems import (
    CrateMismatch,
    CrateTwoBuilds,
    DuplicatedCrate,
    Holder,
    Level,
    SonameMismatch,
    ToolchainMix,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from elfdeps.elf.reader import ElfFile
    from elfdeps.model import LoadResult

    Targets = Mapping[tuple[int, bytes], int | None]

__all__ = [
    "RustObject",
    "duplicates",
    "mismatches",
    "runtime_builds",
    "soname_mismatches",
    "toolchain_mix",
    "two_builds",
]

EXAMPLES = 5
# Unmangled runtime names every std-embedding dylib exports: they interpose even across toolchains.
RUNTIME_NAMES = frozenset({b"rust_eh_personality", b"rust_begin_unwind", b"rust_panic", b"__rust_alloc"})
RUST_LINK_TARGETS = frozenset({Kind.RUST_DYLIB, Kind.TOOLCHAIN_STD})


class RustObject(Fact):
    """What detection needs of one loaded Rust object."""

    object: int
    facts: RustFacts
    imports: Imports
    defines: Defines | None
    path: str
    soname: bytes | None


# -- duplicated crates ----------------------------------------------------------------------------


def runtime_builds(holders: Mapping[Crate, list[Holder]], objects: Iterable[RustObject]) -> frozenset[Crate]:
    """The builds that are a toolchain's std: runtime crates (std, core, alloc, …), and builds of the
    shared names (libc, memchr, …) held only by objects that embed a runtime. A user's own libc in a
    prefer-dynamic dylib is not std's libc; std's private copy in a std-embedding object cannot be told
    from a user's copy there, so both count as std's (two builds inside such objects go unreported)."""
    runtime_objects = {item.object for item in objects if item.defines is not None and item.defines.runtime}
    return frozenset(
        crate
        for crate, held in holders.items()
        if crate.name in RUNTIME_CRATES
        or (crate.name in SHARED_SYSROOT_CRATES and all(holder.object in runtime_objects for holder in held))
    )


def duplicates(
    holders: Mapping[Crate, list[Holder]], objects: Iterable[RustObject], targets: Targets | None
) -> list[DuplicatedCrate]:
    """The std problem, then each other crate build held by several objects, then identical legacy names."""
    objects = list(objects)
    problems: list[DuplicatedCrate] = []
    memo: dict[bytes, Crate | None] = {}
    sysroot = runtime_builds(holders, objects)
    runtime = _runtime(holders, sysroot, targets, memo)
    if runtime is not None:
        problems.append(runtime)
    named: set[bytes] = set()
    for crate, found in sorted(holders.items(), key=lambda item: (item[0].name, item[0].scid or 0)):
        held = _without_inline_copies(found)
        if crate in sysroot or len({holder.object for holder in held}) < 2:
            continue
        named.add(crate.name)
        belongs = _compiled_in(crate, memo)
        exported_by = tuple(holder.object for holder in held if holder.exported)
        statics = tuple(sorted({static.name for holder in held for static in holder.statics}))
        exported_statics = any(static.exported for holder in held for static in holder.statics)
        crossing, examples = _cross_bindings({holder.object for holder in held}, targets, belongs)
        level = Level.ERROR if len(exported_by) >= 2 and exported_statics else Level.WARNING
        problems.append(DuplicatedCrate(crate, tuple(held), False, (), exported_by, crossing, examples, statics, level))
    problems += _identical_legacy(objects, named, targets)
    return problems


def _without_inline_copies(held: list[Holder]) -> list[Holder]:
    """When the crate's own dylib is loaded, other objects' private (non-exported) definitions of it are
    local copies of its ``#[inline]`` functions, compiled into their users, not a second copy of the crate."""
    if not any(holder.identity for holder in held):
        return held
    return [holder for holder in held if holder.identity or holder.exported]


def _compiled_in(crate: Crate, memo: dict[bytes, Crate | None]) -> Callable[[bytes], bool]:
    def belongs(name: bytes) -> bool:
        parsed = parse(name, memo)
        return parsed is not None and parsed.compiled_in == crate

    return belongs


def _runtime(
    holders: Mapping[Crate, list[Holder]],
    sysroot: frozenset[Crate],
    targets: Targets | None,
    memo: dict[bytes, Crate | None],
) -> DuplicatedCrate | None:
    """The std problem: std (or, without std, core/alloc/std-internal crates) in several objects."""
    std_builds = [crate for crate in holders if crate.name == b"std"]
    objects = {holder.object for crate in std_builds for holder in holders[crate]}
    if len(objects) >= 2:
        primary = min(std_builds, key=lambda crate: min(holder.object for holder in holders[crate]))
        held = tuple(holder for crate in std_builds for holder in holders[crate])
        shared = any(sum(1 for holder in holders[crate] if holder.exported) >= 2 for crate in std_builds)
        level = Level.ERROR if shared else Level.WARNING
    else:
        duplicated = [crate for crate in sysroot if len({holder.object for holder in holders[crate]}) >= 2]
        if not duplicated:
            return None
        primary = min(duplicated, key=lambda crate: (crate.name != b"core", crate.name, crate.scid or 0))
        held = tuple(holders[primary])
        objects = {holder.object for holder in held}
        level = Level.INFO
    folded = tuple(
        sorted(
            (
                crate
                for crate, where in holders.items()
                if crate != primary and crate in sysroot and any(holder.object in objects for holder in where)
            ),
            key=lambda crate: (crate.name, crate.scid or 0),
        )
    )
    exported_by = tuple(sorted({holder.object for holder in held if holder.exported}))
    statics = tuple(sorted({static.name for holder in held for static in holder.statics}))

    def belongs(name: bytes) -> bool:
        if name in RUNTIME_NAMES:
            return True
        parsed = parse(name, memo)
        return parsed is not None and parsed.compiled_in is not None and parsed.compiled_in.name in SYSROOT_CRATES

    crossing, examples = _cross_bindings(objects, targets, belongs)
    return DuplicatedCrate(primary, held, True, folded, exported_by, crossing, examples, statics, level)


def _cross_bindings(
    objects: set[int], targets: Targets | None, belongs: Callable[[bytes], bool]
) -> tuple[int | None, tuple[bytes, ...]]:
    """References of one of ``objects`` bound to another one of them, for names of the duplicated code."""
    if targets is None:
        return None, ()
    count = 0
    examples: list[bytes] = []
    for (requester, name), target in targets.items():
        if target is None or target == requester or requester not in objects or target not in objects:
            continue
        if belongs(name):
            count += 1
            if len(examples) < EXAMPLES:
                examples.append(name)
    return count, tuple(examples)


def _identical_legacy(
    objects: Iterable[RustObject], skip: set[bytes], targets: Targets | None
) -> list[DuplicatedCrate]:
    """Identical exported legacy names in several objects: one build's code twice (rust.md §6.3)."""
    exporters: dict[bytes, list[int]] = {}
    exports: dict[bytes, LegacyExport] = {}
    for item in objects:
        if item.defines is None:
            continue
        for name, export in item.defines.legacy_exports.items():
            exporters.setdefault(name, []).append(item.object)
            exports[name] = export
    by_crate: dict[bytes, dict[bytes, list[int]]] = {}
    for name, where in exporters.items():
        if len(where) >= 2 and exports[name].crate not in skip:
            by_crate.setdefault(exports[name].crate, {})[name] = where
    problems = []
    for crate_name, names in sorted(by_crate.items()):
        counts: dict[int, int] = {}
        statics: dict[int, list[bytes]] = {}
        for name, where in names.items():
            for index in where:
                counts[index] = counts.get(index, 0) + 1
                if exports[name].static:
                    statics.setdefault(index, []).append(name)
        held = tuple(
            Holder(index, count, 0, tuple(Static(name, True) for name in sorted(statics.get(index, ()))), False)
            for index, count in sorted(counts.items())
        )
        static_names = tuple(sorted(name for name in names if exports[name].static))
        others = tuple(sorted(name for name in names if not exports[name].static))
        crossing, bound = _cross_bindings(set(counts), targets, names.__contains__)
        examples = bound or (static_names + others)[:EXAMPLES]
        level = Level.ERROR if static_names else Level.WARNING
        crate = Crate(crate_name, None)
        problems.append(DuplicatedCrate(crate, held, False, (), tuple(counts), crossing, examples, static_names, level))
    return problems


# -- two builds, mismatches -----------------------------------------------------------------------


def two_builds(
    holders: Mapping[Crate, list[Holder]],
    objects: Iterable[RustObject],
    elfs: Mapping[int, ElfFile],
    targets: Targets | None,
) -> list[CrateTwoBuilds]:
    """One crate name, several StableCrateIds, held by different objects (not all inside one); std's
    builds do not count (two std builds are the std problem and a toolchain mix). Which object needs
    which build: its v0 imports name the build; legacy imports name only the crate, so the build is
    the one held by the object those references bind to."""
    objects = list(objects)
    sysroot = runtime_builds(holders, objects)
    by_name: dict[bytes, list[Crate]] = {}
    for crate in holders:
        if crate.scid is not None and crate not in sysroot:
            by_name.setdefault(crate.name, []).append(crate)
    importers: dict[Crate, set[int]] = {}
    for item in objects:
        for crate, names in item.imports.crates.items():
            if crate.scid is not None:
                importers.setdefault(crate, set()).add(item.object)
            elif crate.name in by_name and targets is not None:
                for name in names:
                    target = targets.get((item.object, name))
                    for build in by_name[crate.name]:
                        if any(holder.object == target for holder in holders[build]):
                            importers.setdefault(build, set()).add(item.object)
    problems = []
    for name, builds in sorted(by_name.items()):
        if len(builds) < 2:
            continue
        builds.sort(key=lambda crate: min(holder.object for holder in holders[crate]))
        where = [tuple(sorted({holder.object for holder in holders[crate]})) for crate in builds]
        if len(set(where)) < 2:
            continue  # every build inside the same object(s): rustc linked them together on purpose
        statics = tuple(
            sorted({static.name for crate in builds for holder in holders[crate] for static in holder.statics})
        )
        versions = tuple(
            (crate, tuple(sorted({v for index in objects_ for v in crate_versions(elfs[index], name)})))
            for crate, objects_ in zip(builds, where, strict=True)
        )
        problems.append(
            CrateTwoBuilds(
                name,
                tuple(zip(builds, where, strict=True)),
                tuple((crate, tuple(sorted(importers.get(crate, ())))) for crate in builds),
                statics,
                versions,
                Level.ERROR if statics else Level.WARNING,
            )
        )
    return problems


def mismatches(
    unresolved: Mapping[tuple[int, Crate], tuple[bytes, ...]],
    holders: Mapping[Crate, list[Holder]],
    facts: Mapping[int, RustFacts],
) -> list[CrateMismatch]:
    """References to a build nothing loaded provides while another build of that crate is loaded.
    A legacy reference names no build (``expected.scid`` None): any loaded code of the crate is then
    another build, since the one it was linked against would define the name."""
    problems = []
    for (importer, expected), names in sorted(unresolved.items(), key=lambda item: (item[0][0], item[0][1].name)):
        others = [
            (crate, tuple(sorted({holder.object for holder in where} - {importer})))
            for crate, where in holders.items()
            if crate.name == expected.name
            and (expected.scid is None or (crate.scid != expected.scid and crate.scid is not None))
        ]
        others = [(crate, where) for crate, where in others if where]
        if not others:
            continue
        others.sort(key=lambda item: item[1])
        loaded_versions = tuple(
            dict.fromkeys(v for _, where in others for index in where for v in facts[index].versions)
        )
        problems.append(
            CrateMismatch(
                importer,
                expected,
                len(names),
                names[:EXAMPLES],
                tuple(others),
                facts[importer].versions,
                loaded_versions,
                Level.ERROR,
            )
        )
    return problems


# -- toolchains, file names -----------------------------------------------------------------------


def toolchain_mix(objects: Iterable[RustObject], result: LoadResult) -> list[ToolchainMix]:
    """Several rustc releases among the loaded Rust objects; ERROR when a Rust object NEEDs a Rust
    dylib of another release (the Rust ABI is not stable across compilers)."""
    by_index = {item.object: item for item in objects}
    versions: dict[bytes, list[int]] = {}
    for item in by_index.values():
        for version in item.facts.versions:
            versions.setdefault(version, []).append(item.object)
    if len(versions) < 2:
        return []
    links = []
    for edge in result.edges:
        requester, target = by_index.get(edge.requester), by_index.get(edge.target) if edge.target is not None else None
        if requester is None or target is None or target.facts.kind not in RUST_LINK_TARGETS:
            continue
        mine, theirs = set(requester.facts.versions), set(target.facts.versions)
        if mine and theirs and not mine & theirs:
            links.append((requester.object, target.object))
    level = Level.ERROR if links else Level.WARNING
    return [ToolchainMix(tuple((v, tuple(where)) for v, where in sorted(versions.items())), tuple(links), level)]


def _is_hashed_file(name: bytes) -> bool:
    """``lib<x>-<16 hex>.so``, as cargo names a dylib of a package (``<x>`` not empty, on one line)."""
    if not (name.startswith(b"lib") and name.endswith(b".so")):
        return False
    stem, dash, digits = name[3:-3].rpartition(b"-")
    return bool(stem) and bool(dash) and len(digits) == 16 and is_lower_hex(digits) and b"\n" not in stem


def soname_mismatches(objects: Iterable[RustObject]) -> list[SonameMismatch]:
    """A ``lib<x>-<hash>.so`` whose DT_SONAME is another name: another build copied under this one."""
    problems = []
    for item in objects:
        file_name = os.path.basename(os.fsencode(item.path))
        soname = item.soname
        if soname is not None and soname != file_name and _is_hashed_file(file_name):
            problems.append(SonameMismatch(item.object, file_name, soname, Level.ERROR))
    return problems
