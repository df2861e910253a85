"""How a LIB argument (``why FILE LIB``, ``graph --focus LIB``) names an object: a soname or name, a
path, or a glob of either (fnmatch, case-sensitive as file names are)."""

from __future__ import annotations

import os
from fnmatch import fnmatchcase

__all__ = ["matches"]


def matches(pattern: str, name: bytes, soname: bytes | None, path: str | None) -> bool:
    """True when ``pattern`` names this object: with a '/', its path; otherwise the name it was
    requested by, its DT_SONAME or the file name of its path."""
    if "/" in pattern:
        candidates = [path] if path is not None else [os.fsdecode(name)]
    else:
        candidates = [os.fsdecode(os.path.basename(name))]
        if soname is not None:
            candidates.append(os.fsdecode(soname))
        if path is not None:
            candidates.append(os.path.basename(path))
    return any(fnmatchcase(candidate, pattern) for candidate in candidates)
