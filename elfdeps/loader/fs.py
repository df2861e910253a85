"""Paths as the target's loader sees them ("virtual"), mapped to files on this machine.

Without a root, virtual paths are host paths and the kernel resolves them. With ``--root DIR`` every
path is resolved component by component inside DIR, following symlinks physically (``..`` after a
symlink climbs from the link's target) and re-rooting absolute link targets, exactly as a chroot
would: nothing outside the root is ever read.
"""

from __future__ import annotations

import errno
import os
import stat

from elfdeps.elf.cache import read_head

__all__ = ["RootFS"]

MAX_SYMLINKS = 40  # Linux's limit; more gives ELOOP as the kernel would


class RootFS:
    def __init__(self, root: str | None) -> None:
        self.root = os.path.abspath(root) if root else None

    def host_path(self, path: str) -> str:
        """Where a virtual path's file is on this machine. Raises OSError(ELOOP) on a symlink loop."""
        if self.root is None:
            return path
        return self.root + self._resolve(path)

    def _resolve(self, path: str) -> str:
        assert self.root is not None
        pending = [part for part in path.split("/") if part]
        pending.reverse()
        resolved: list[str] = []
        links = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.root + "/" + "/".join([*resolved, part])
            try:
                is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
            except OSError:
                is_link = False
            if not is_link:
                resolved.append(part)
                continue
            links += 1
            if links > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(reversed([p for p in target.split("/") if p]))
        return "/" + "/".join(resolved)

    def realpath(self, path: str) -> str:
        """Canonical virtual path (what /proc/self/exe would show inside the root)."""
        if self.root is None:
            return os.path.realpath(path)
        return self._resolve(path)

    def is_directory(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(self.host_path(path)).st_mode)
        except (OSError, ValueError):
            return False

    def exists(self, path: str) -> bool:
        try:
            os.stat(self.host_path(path))
        except (OSError, ValueError):
            return False
        return True

    def glob(self, pattern: str) -> list[str]:
        """Sorted virtual paths matching a glob pattern (as ldconfig's include globs them)."""
        import glob  # only ld.so.conf includes need it: kept off the start-up path

        if self.root is None:
            return sorted(glob.glob(pattern))
        directory, _, file_pattern = pattern.rpartition("/")
        try:
            host_dir = self.host_path(directory or "/")
        except OSError:
            return []
        matches = glob.glob(os.path.join(glob.escape(host_dir), file_pattern))
        return sorted((directory or "") + "/" + os.path.basename(match) for match in matches)

    def read_bytes(self, path: str, limit: int = 1 << 20) -> bytes | None:
        """Up to ``limit`` bytes of a regular file (never a FIFO or device), None when unreadable."""
        try:
            host = self.host_path(path)
        except OSError:
            return None
        return read_head(host, limit)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host_path(path)))
        except (OSError, ValueError):
            return []
