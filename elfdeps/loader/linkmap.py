"""The loader's per-object state while the emulation runs (glibc's struct link_map, the parts that
matter for finding libraries): the names an object answers to, its $ORIGIN, its path lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from elfdeps.elf.reader import ElfFile
from elfdeps.model import Attempt, Via

__all__ = ["LinkMap", "origin_of"]


@dataclass(eq=False, slots=True)
class LinkMap:
    name: bytes  # the name that first caused the load (l_libname's first entry)
    l_name: str  # the path it was opened by ("" for the main program, as in a normal exec)
    display_path: str
    elf: ElfFile | None
    identity: tuple[int, int] | None
    loader: LinkMap | None  # l_loader: whose DT_NEEDED brought it in
    origin: bytes | None
    via: Via | None
    via_owner: str | None = None
    depth: int = 0
    attempts: tuple[Attempt, ...] = ()
    aliases: set[bytes] = field(default_factory=set)
    fake: bool = False  # a trace-mode "not found" entry: never matched by later requests
    required: bool = True  # False for a DT_AUXILIARY filtee: its absence is not an error
    host_path: str | None = None
    rpath_dirs: tuple[str, ...] | None = None  # decomposed lazily (decompose_rpath)
    runpath_dirs: tuple[str, ...] | None = None

    @property
    def soname(self) -> bytes | None:
        return self.elf.dynamic.soname if self.elf is not None and self.elf.dynamic is not None else None

    @property
    def has_runpath(self) -> bool:
        return self.elf is not None and self.elf.dynamic is not None and self.elf.dynamic.runpath is not None

    @property
    def rpath(self) -> bytes | None:
        """DT_RPATH, which the loader discards when DT_RUNPATH is present (get-dynamic-info.h)."""
        if self.elf is None or self.elf.dynamic is None or self.has_runpath:
            return None
        return self.elf.dynamic.rpath

    @property
    def nodeflib(self) -> bool:
        return self.elf is not None and self.elf.dynamic is not None and self.elf.dynamic.nodeflib

    def matches(self, name: bytes) -> bool:
        """_dl_name_match_p plus the lazy DT_SONAME check of _dl_map_object (loader.md §3.2)."""
        if self.fake:
            return False
        if name in self.aliases or (self.l_name and name == os.fsencode(self.l_name)):
            return True
        if self.soname is not None and name == self.soname:
            self.aliases.add(name)
            return True
        return False


def origin_of(l_name: str, cwd: str) -> bytes:
    """$ORIGIN of a library: the directory part of its l_name, never canonicalised (dl-object.c)."""
    path = l_name if l_name.startswith("/") else cwd.rstrip("/") + "/" + l_name
    directory = path[: path.rfind("/")] or "/"
    return os.fsencode(directory)
