"""Stand-in Rust facts for the graph, decided cheaply from what the loader already read, until the
Rust stage (elfdeps/rust/: crates per object from the mangled names, DESIGN.md §1) provides them.

The one function ``rust_facts`` returns what the graph model takes as input (RustFacts: a kind per
object path, the duplicated-crate groups). The rules, deliberately simple:
- a file named ``libstd-<16 hex>.so`` is libstd;
- an object whose dynamic string table holds ``rust_metadata_*`` (the symbol every Rust dylib exports)
  is a Rust dylib;
- another object whose ``.comment`` names rustc is a cdylib (Rust code behind a C ABI);
- an object that defines a non-generic item of std (legacy ``_ZN3std``, v0 ``_R...C<hash>_3std``) and
  does not itself need a libstd-*.so carries its own std; two or more such objects form the group
  "std" (DESIGN.md §3.4 duplicate-crate: the same std exported by several objects is an error).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from elfdeps.audit.rules import Severity
from elfdeps.depgraph.model import Group, NodeKind, RustFacts
from elfdeps.elf.cache import FileCache
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.model import LoadResult

__all__ = ["rust_facts"]

_LIBSTD_FILE = re.compile(rb"libstd-[0-9a-f]{16}\.so\Z")
# A v0 path whose crate root is std: namespaces (N + tag), impl paths (M, X, Y) and disambiguators
# (s..._) before the first crate root (C, optional disambiguator, then the length-prefixed name).
# Generic instantiations (_RI...) are left out: a crate using std defines those itself.
_STD_V0 = re.compile(rb"_R(?:N[A-Za-z]|[MXY]|s[0-9A-Za-z]*_)*C(?:s[0-9A-Za-z]*_)?3std")


def _has_rust_metadata(elf: ElfFile) -> bool:
    try:
        start, end = elf.string_table_bounds()
    except ElfFormatError:
        return False
    return elf.data.find(b"\0rust_metadata_", start, end) >= 0


def _built_by_rustc(elf: ElfFile) -> bool:
    try:
        return any(comment.startswith(b"rustc version") for comment in elf.comment)
    except ElfFormatError:
        return False


def _defines_std(elf: ElfFile) -> bool:
    if elf.dynamic is None or any(_LIBSTD_FILE.match(os.path.basename(name)) for name in elf.dynamic.needed):
        return False
    try:
        names = elf.symbol_table.definition_names()
    except ElfFormatError:
        return False
    return any(name.startswith(b"_ZN3std") or (name.startswith(b"_R") and _STD_V0.match(name)) for name in names)


def rust_facts(results: Sequence[LoadResult], files: FileCache) -> RustFacts:
    """Rust kinds and the std group of every loaded object (each file looked at once)."""
    kinds: dict[str, NodeKind] = {}
    std_members: list[str] = []
    for result in results:
        for obj in result.objects:
            if obj.path is None or obj.host_path is None or obj.path in kinds:
                continue
            try:
                elf = files.elf(obj.host_path)
            except ElfFormatError:
                continue
            kind = NodeKind.C_LIBRARY  # placeholder: not Rust, the model decides
            if _LIBSTD_FILE.match(os.fsencode(os.path.basename(obj.path))):
                kind = NodeKind.LIBSTD
            elif _has_rust_metadata(elf):
                kind = NodeKind.RUST_DYLIB
            elif _built_by_rustc(elf):
                kind = NodeKind.CDYLIB
            kinds[obj.path] = kind
            if kind is not NodeKind.C_LIBRARY and _defines_std(elf):
                std_members.append(obj.path)
    groups: tuple[Group, ...] = ()
    if len(std_members) >= 2:
        message = f"std has its own code in {len(std_members)} loaded objects: two runtimes, two allocators"
        groups = (Group("std", tuple(std_members), message, Severity.ERROR),)
    return RustFacts({path: kind for path, kind in kinds.items() if kind is not NodeKind.C_LIBRARY}, groups)
