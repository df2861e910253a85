"""RPATH/RUNPATH hygiene: rpath-relative, rpath-absolute, rpath-nonexistent, rpath-deprecated.

Read from the raw DT_RPATH/DT_RUNPATH strings of the audited file. "Relocatable" means every entry is
$ORIGIN-relative (staying inside the package) or a system library directory of the target.
"""

from __future__ import annotations

import os

from elfdeps.audit.rules import RULES, Finding
from elfdeps.facts import TYPE_CHECKING
from elfdeps.loader.dst import DstValues, expand
from elfdeps.loader.environment import TargetSystem
from elfdeps.model import LoadResult

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["rpath_findings"]

# An $ORIGIN entry that climbs this many levels leaves its package (rustc's -C rpath climbs to the
# toolchain: $ORIGIN/../../../../../.rustup/...).
MAX_CLIMB = 2
_SYSTEM_PREFIXES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")


def _is_system(path: str, target: TargetSystem) -> bool:
    normal = os.path.normpath(path)
    roots = {d.rstrip("/") for d in target.default_dirs} | set(target.conf_dirs) | set(_SYSTEM_PREFIXES)
    return any(normal == root or normal.startswith(root + "/") for root in roots if root)


def rpath_findings(result: LoadResult, target: TargetSystem) -> Iterator[Finding]:
    """The findings of the audited file's own RPATH/RUNPATH entries (``target``: its system)."""
    facts = result.main.facts
    if facts is None or not facts.dynamic:
        return
    owner = result.main_path
    origin_dir = os.path.dirname(target.fs.realpath(result.main_path)) or "/"
    values = DstValues(os.fsencode(origin_dir), os.fsencode(target.dst_lib), os.fsencode(target.platform))
    for tag, raw in (("RUNPATH", facts.runpath), ("RPATH", facts.rpath)):
        if raw is None:
            continue
        if tag == "RPATH" and facts.runpath is None:
            yield Finding(
                "rpath-deprecated",
                RULES["rpath-deprecated"].severity,
                owner,
                f"uses DT_RPATH ({os.fsdecode(raw)}), which also applies to every library loaded below it"
                " and beats LD_LIBRARY_PATH",
                hint="link with -Wl,--enable-new-dtags to get DT_RUNPATH",
            )
        for element in raw.split(b":"):
            entry = os.fsdecode(element)
            if not entry or not (entry.startswith("/") or entry.startswith(("$ORIGIN", "${ORIGIN}"))):
                shown = entry or "(empty)"
                yield Finding(
                    "rpath-relative",
                    RULES["rpath-relative"].severity,
                    owner,
                    f"{tag} entry {shown!r} is relative to the current directory of whoever runs it",
                    hint="use $ORIGIN/... for a path relative to the file itself",
                    subject=f"{tag} {entry}",
                )
                continue
            expanded = expand(element, values)
            path = os.fsdecode(expanded) if expanded else entry
            if entry.startswith("/") and not _is_system(entry, target):
                yield Finding(
                    "rpath-absolute",
                    RULES["rpath-absolute"].severity,
                    owner,
                    f"{tag} entry {entry!r} is an absolute path outside the system library directories:"
                    " the file breaks when moved or installed elsewhere",
                    hint="use an $ORIGIN-relative entry",
                    subject=f"{tag} {entry}",
                )
            elif entry.startswith(("$ORIGIN", "${ORIGIN}")):
                climb = entry.split("/").count("..")
                if climb > MAX_CLIMB:
                    yield Finding(
                        "rpath-absolute",
                        RULES["rpath-absolute"].severity,
                        owner,
                        f"{tag} entry {entry!r} climbs {climb} directories out of the file's own tree"
                        f" (to {os.path.normpath(path)}): it breaks when the tree is moved",
                        hint="ship the libraries next to the file (e.g. $ORIGIN/../lib)",
                        subject=f"{tag} {entry}",
                    )
            if expanded and not target.fs.is_directory(path):
                yield Finding(
                    "rpath-nonexistent",
                    RULES["rpath-nonexistent"].severity,
                    owner,
                    f"{tag} entry {entry!r} ({path}) does not exist",
                    hint="remove the entry or create the directory in the installed layout",
                    subject=f"{tag} {entry}",
                )
