"""The loader's per-object state while the emulation runs (glibc's struct link_map, the parts that
matter for finding libraries): the names an object answers to, its $ORIGIN, its path lists.
"""

from __future__ import annotations

import os

from elfdeps.elf.reader import ElfFile
from elfdeps.model import Attempt, Via

__all__ = ["LinkMap", "origin_of"]


class LinkMap:
    """Mutable while the walk runs (aliases grow, path lists are decomposed lazily): state, not a fact."""

    __slots__ = (
        "aliases",
        "attempts",
        "depth",
        "display_path",
        "elf",
        "fake",
        "host_path",
        "identity",
        "l_name",
        "loader",
        "name",
        "origin",
        "required",
        "rpath_dirs",
        "runpath_dirs",
        "via",
        "via_owner",
    )

    def __init__(
        self,
        name: bytes,
        l_name: str,
        display_path: str,
        elf: ElfFile | None,
        identity: tuple[int, int] | None,
        loader: LinkMap | None,
        origin: bytes | None,
        via: Via | None,
        *,
        via_owner: str | None = None,
        attempts: tuple[Attempt, ...] = (),
        fake: bool = False,
        host_path: str | None = None,
    ) -> None:
        self.name = name  # the name that first caused the load (l_libname's first entry)
        self.l_name = l_name  # the path it was opened by ("" for the main program, as in a normal exec)
        self.display_path = display_path
        self.elf = elf
        self.identity = identity  # (st_dev, st_ino); None for the main program, whose id is not recorded
        self.loader = loader  # l_loader: whose DT_NEEDED brought it in
        self.origin = origin  # $ORIGIN; None when unknown
        self.via = via
        self.via_owner = via_owner
        self.depth = 0
        self.attempts = attempts
        self.aliases: set[bytes] = {name}
        self.fake = fake  # a trace-mode "not found" entry: never matched by later requests
        self.required = True  # False for a DT_AUXILIARY filtee: its absence is not an error
        self.host_path = host_path
        self.rpath_dirs: tuple[str, ...] | None = None  # decomposed lazily (decompose_rpath)
        self.runpath_dirs: tuple[str, ...] | None = None

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

    def names(self) -> list[bytes]:
        """Every name the loader matches this object by: l_name, l_libname aliases, DT_SONAME."""
        if self.fake:
            return []  # a trace-mode fake is never matched: later requesters search again (S36)
        names = list(self.aliases)
        if self.l_name:
            names.append(os.fsencode(self.l_name))
        if self.soname is not None:
            names.append(self.soname)
        return names


def origin_of(l_name: str, cwd: str) -> bytes:
    """$ORIGIN of a library: the directory part of its l_name, never canonicalised (dl-object.c)."""
    path = l_name if l_name.startswith("/") else cwd.rstrip("/") + "/" + l_name
    directory = path[: path.rfind("/")] or "/"
    return os.fsencode(directory)
