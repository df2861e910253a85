"""The typed facts passed between elfdeps' stages: how a library was found, every place tried, the
objects in load order and the DT_NEEDED edges between them. Renderers and audit rules read these.
"""

from __future__ import annotations

import os

from elfdeps.facts import Fact, Symbolic

__all__ = [
    "VIA_LABELS",
    "Attempt",
    "DependencyKind",
    "Edge",
    "LoadError",
    "LoadResult",
    "LoadedObject",
    "NearbyMatch",
    "ObjectFacts",
    "Outcome",
    "SystemFacts",
    "Via",
    "via_label",
]


class Via(Symbolic):
    """How the loader came to an object (the `via` of the JSON contract)."""

    MAIN = "main"
    INTERPRETER = "interpreter"
    PRELOAD = "preload"
    RPATH = "rpath"
    RUNPATH = "runpath"
    LD_LIBRARY_PATH = "ld_library_path"
    LD_SO_CACHE = "ld_so_cache"
    DEFAULT = "default"
    DIRECT = "direct"  # a name containing '/', opened as given


class Outcome(Symbolic):
    """What happened at one candidate path."""

    FOUND = "found"
    ABSENT = "absent"
    NO_DIRECTORY = "no-directory"
    WRONG_CLASS = "wrong-class"
    WRONG_MACHINE = "wrong-machine"
    REJECTED_NODEFLIB = "rejected-nodeflib"
    ERROR = "error"


class DependencyKind(Symbolic):
    NEEDED = "needed"
    FILTER = "filter"
    AUXILIARY = "auxiliary"
    PRELOAD = "preload"


class Attempt(Fact):
    """One candidate path the loader tried, in order."""

    path: str
    directory: str
    source: Via
    owner: str | None  # l_name of the object whose RPATH/RUNPATH listed the directory
    outcome: Outcome
    detail: str | None = None


class NearbyMatch(Fact):
    """A file with the missing name found outside the search path, and what would make it found."""

    path: str
    suitable: bool  # right class and machine
    ld_library_path: str
    runpath: str  # an $ORIGIN-relative RUNPATH entry for the requester
    note: str | None = None  # e.g. "in an ld.so.conf directory but not in ld.so.cache: run ldconfig"


class ObjectFacts(Fact):
    """What a loaded file says about itself, read once by the emulation (renderers never read ELF)."""

    elf_class: int  # 32 or 64
    e_machine: int
    machine: str  # "x86_64", "EM_<n>" when unnamed
    byte_order: str  # "<" or ">"
    e_type: int
    interpreter: bytes | None  # PT_INTERP
    dynamic: bool  # has a PT_DYNAMIC segment
    soname: bytes | None
    needed: tuple[bytes, ...]
    rpath: bytes | None
    runpath: bytes | None
    flags: tuple[str, ...]  # DT_FLAGS / DT_FLAGS_1 names


class SystemFacts(Fact):
    """The target system an emulation ran against, as plain values (the loader's inputs)."""

    root: str | None
    default_dirs: tuple[str, ...]  # each ends in "/"
    dst_lib: str
    platform: str
    hwcaps: tuple[str, ...]  # active glibc-hwcaps names, best first
    glibc_version: tuple[int, int] | None
    cache: str  # "/etc/ld.so.cache" or "none"
    has_cache: bool


class LoadedObject(Fact):
    """One entry of the loader's namespace list (or a trace-mode "not found" fake)."""

    index: int  # type: ignore[assignment]  # position in load order (0: the main file); shadows tuple.index
    name: bytes  # the (DST-expanded) name that first caused the load
    path: str | None  # l_name: the path the loader opened it by; None when not found
    found: bool
    via: Via | None
    via_owner: str | None
    needed_by: int | None  # index of the requester; None for the main file
    depth: int
    attempts: tuple[Attempt, ...] = ()
    nearby: tuple[NearbyMatch, ...] = ()
    required: bool = True  # False for a DT_AUXILIARY filtee, whose absence the loader ignores
    facts: ObjectFacts | None = None  # None when not found (or the interpreter could not be read)
    host_path: str | None = None  # where its bytes are on this machine (inside --root), to read it again

    @property
    def soname(self) -> bytes | None:
        return self.facts.soname if self.facts is not None else None

    @property
    def display_name(self) -> str:
        return os.fsdecode(self.name)


class Edge(Fact):
    """One DT_NEEDED/DT_FILTER/DT_AUXILIARY entry (or a preload) and what it resolved to."""

    requester: int
    kind: DependencyKind
    raw_name: bytes  # as written in the dynamic section
    name: bytes  # after DST expansion
    target: int | None  # object index; None when the entry was dropped (an auxiliary not found)
    reused: bool  # matched an already-loaded object, no search
    shadowed_path: str | None = None  # the different file this requester's own search would find


class LoadError(Fact):
    """A fatal error that makes the real loader stop (it would print nothing else)."""

    name: str  # the requested name
    path: str | None  # the file that caused it, when one was opened
    message: str
    requester: int | None = None
    names_path: bool = True  # the loader's message names the path (not for a PIE: it names the name)

    @property
    def subject(self) -> str:
        """What the loader's message starts with: "DIR/libX.so: invalid ELF header"."""
        return self.path if self.names_path and self.path else self.name


class LoadResult(Fact):
    """Everything one emulated program start produced, in load order."""

    main_path: str
    objects: tuple[LoadedObject, ...]
    edges: tuple[Edge, ...]
    error: LoadError | None
    warnings: tuple[str, ...] = ()
    system: SystemFacts | None = None

    @property
    def main(self) -> LoadedObject:
        return self.objects[0]

    @property
    def missing(self) -> tuple[LoadedObject, ...]:
        """Libraries not found whose absence the real loader would not forgive."""
        return tuple(obj for obj in self.objects if not obj.found and obj.required)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


VIA_LABELS = {
    Via.RUNPATH: "runpath",
    Via.LD_LIBRARY_PATH: "LD_LIBRARY_PATH",
    Via.LD_SO_CACHE: "ld.so.cache",
    Via.DEFAULT: "default",
    Via.DIRECT: "direct",
    Via.PRELOAD: "preload",
    Via.INTERPRETER: "interpreter",
    Via.MAIN: "main",
}


def via_label(obj: LoadedObject, requester: LoadedObject | None) -> str:
    """How an object was found, as every output says it: ``rpath``, ``rpath of libfoo.so`` (an
    inherited RPATH), ``runpath``, ``ld.so.cache``, ... (names from files: escape before printing)."""
    if obj.via is Via.RPATH:
        if requester is not None and obj.via_owner == requester.path:
            return "rpath"
        return f"rpath of {os.path.basename(obj.via_owner or '') or '?'}"
    if obj.via is None:
        return "not found"
    return VIA_LABELS[obj.via]
