"""The Rust problems of one loaded program, as plain facts with a level (rust.md §3.2, §6.3, §6.4;
DESIGN.md §3.4). They are not audit findings: the audit stage maps each class to its rule id
(duplicate-crate, crate-two-builds, crate-mismatch, rust-toolchain-mix, soname-mismatch).

Levels:

- :class:`DuplicatedCrate`, ``runtime=True`` (std, with core/alloc and the std-internal crates folded
  in): ERROR when one std build is exported by several objects (a half-shared runtime: references
  bind across the copies); WARNING for private copies (cdylibs, another toolchain); INFO when only
  core/alloc/std-internal crates are duplicated, without std.
- :class:`DuplicatedCrate`, other crates (one build, same StableCrateId, or identical legacy names, in
  several objects): ERROR when it is exported by several objects and has statics; else WARNING.
- :class:`CrateTwoBuilds`: WARNING; ERROR if a build holds mutable statics.
- :class:`CrateMismatch`: ERROR.
- :class:`ToolchainMix`: ERROR when a Rust object links (DT_NEEDED) to a Rust dylib built by another
  rustc; else WARNING (cdylibs in a C host).
- :class:`SonameMismatch`: ERROR.

Public API: the problem classes, :data:`Problem`, :class:`Level`, :class:`Holder`.
"""

from __future__ import annotations

from elfdeps.facts import Fact, Symbolic
from elfdeps.rust.mangling import Crate
from elfdeps.rust.objects import Static

__all__ = [
    "CrateMismatch",
    "CrateTwoBuilds",
    "DuplicatedCrate",
    "Holder",
    "Level",
    "Problem",
    "SonameMismatch",
    "ToolchainMix",
]


class Level(Symbolic):
    """Same spelling as the audit severities (error/warning/info); mapped there one to one."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Holder(Fact):
    """One loaded object holding one crate build's own code."""

    object: int  # index in load order
    exported: int  # non-generic definitions it exports
    private: int  # non-generic definitions it keeps local/hidden
    statics: tuple[Static, ...]
    identity: bool  # the object is this crate's own dylib (rust_metadata_<crate>_<id>)


class DuplicatedCrate(Fact):
    crate: Crate  # the build (scid None: found through identical legacy names)
    holders: tuple[Holder, ...]
    runtime: bool  # the std problem: std (or core/alloc/std-internal crates) in several objects
    folded: tuple[Crate, ...]  # the other sysroot crate builds folded into the std problem
    exported_by: tuple[int, ...]  # holders that export it (interposition between them)
    cross_bindings: int | None  # references of one holder bound to another (None: no binding report)
    examples: tuple[bytes, ...]  # a few of those references (or identical names)
    statics: tuple[bytes, ...]  # statics of the duplicated code
    level: Level


class CrateTwoBuilds(Fact):
    name: bytes
    builds: tuple[tuple[Crate, tuple[int, ...]], ...]  # each build and the objects holding it
    importers: tuple[tuple[Crate, tuple[int, ...]], ...]  # each build and the objects importing it
    statics: tuple[bytes, ...]  # mutable statics of the builds
    versions: tuple[tuple[Crate, tuple[bytes, ...]], ...]  # versions the files reveal (registry paths)
    level: Level


class CrateMismatch(Fact):
    importer: int
    expected: Crate  # the build its references name
    unresolved: int  # references to that build nothing loaded defines
    examples: tuple[bytes, ...]
    loaded: tuple[tuple[Crate, tuple[int, ...]], ...]  # other builds of the crate, and where
    expected_versions: tuple[bytes, ...]  # rustc release of the importer
    loaded_versions: tuple[bytes, ...]  # rustc releases of the objects holding the other builds
    level: Level


class ToolchainMix(Fact):
    versions: tuple[tuple[bytes, tuple[int, ...]], ...]  # rustc release -> Rust objects built by it
    links: tuple[tuple[int, int], ...]  # (requester, Rust dylib) DT_NEEDED edges across releases
    level: Level


class SonameMismatch(Fact):
    object: int
    file_name: bytes  # lib<x>-<hash>.so
    soname: bytes | None
    level: Level


Problem = DuplicatedCrate | CrateTwoBuilds | CrateMismatch | ToolchainMix | SonameMismatch
