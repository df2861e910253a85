"""Opens files safely and parses each one once per run, keyed by (st_dev, st_ino).

Never blocks: files are opened O_NONBLOCK and anything that is not a regular file is refused before a
byte is read (a FIFO or a device never hangs elfdeps). Bytes are mmap'ed read-only, so memory is
bounded by what the parser touches, not by the file's size.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
from typing import NamedTuple

from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError

__all__ = ["FileCache", "OpenFailure", "OpenedFile"]

OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class OpenFailure(NamedTuple):
    """A path that could not be opened as a regular file; ``errno`` is what open/read reported."""

    path: str
    errno: int
    reason: str


class OpenedFile:
    """A regular file's identity, mode and bytes; ``elf()`` parses it on first use."""

    __slots__ = ("_elf", "_error", "data", "dev", "ino", "mode", "path")

    def __init__(self, path: str, st: os.stat_result, data: bytes) -> None:
        self.path = path
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.mode = st.st_mode
        self.data = data
        self._elf: ElfFile | None = None
        self._error: ElfFormatError | None = None

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    @property
    def size(self) -> int:
        return len(self.data)

    def elf(self) -> ElfFile:
        """The parsed ELF file; raises ElfFormatError (memoised) when the bytes are not readable ELF."""
        if self._elf is None:
            if self._error is not None:
                raise self._error
            try:
                self._elf = ElfFile(self.path, self.data)
            except ElfFormatError as error:
                self._error = error
                raise
        return self._elf


class FileCache:
    """Every file elfdeps reads during one run, by identity; paths are remembered as aliases."""

    def __init__(self) -> None:
        self._by_identity: dict[tuple[int, int], OpenedFile] = {}
        self._by_path: dict[str, OpenedFile | OpenFailure] = {}

    def open(self, path: str) -> OpenedFile | OpenFailure:
        known = self._by_path.get(path)
        if known is not None:
            return known
        result = self._open_uncached(path)
        self._by_path[path] = result
        return result

    def _open_uncached(self, path: str) -> OpenedFile | OpenFailure:
        try:
            fd = os.open(path, OPEN_FLAGS)
        except OSError as error:
            return OpenFailure(path, error.errno or 0, error.strerror or str(error))
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                return OpenFailure(path, errno.EISDIR, "Is a directory")
            if not stat.S_ISREG(st.st_mode):
                return OpenFailure(path, errno.EINVAL, "not a regular file (a FIFO, socket or device)")
            known = self._by_identity.get((st.st_dev, st.st_ino))
            if known is not None:
                return known
            data: bytes
            if st.st_size == 0:
                data = b""
            else:
                try:
                    data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # type: ignore[assignment]
                except (OSError, ValueError):
                    with os.fdopen(os.dup(fd), "rb") as handle:
                        data = handle.read()
            opened = OpenedFile(path, st, data)
            self._by_identity[opened.identity] = opened
            return opened
        except OSError as error:
            return OpenFailure(path, error.errno or 0, error.strerror or str(error))
        finally:
            os.close(fd)

    def is_directory(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except (OSError, ValueError):
            return False
