"""Where a file sits in a cargo build: the target directory cargo marks with its CACHEDIR.TAG."""

from __future__ import annotations

import os

__all__ = ["cargo_target_dir"]


def cargo_target_dir(path: str) -> str | None:
    """The cargo target directory holding ``path`` (one with cargo's CACHEDIR.TAG), if any."""
    directory = os.path.dirname(os.path.abspath(path))
    for _level in range(6):
        profiles = any(os.path.isdir(os.path.join(directory, profile)) for profile in ("debug", "release"))
        if profiles and os.path.isfile(os.path.join(directory, "CACHEDIR.TAG")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return None
