"""Opens files safely and parses each one once per run, keyed by (st_dev, st_ino).

Never blocks: ``open_regular`` (the one safe open of elfdeps) opens O_NONBLOCK and refuses anything
that is not a regular file before a byte is read, so a FIFO or a device never hangs elfdeps.

Bounded: small files are read into memory and hold no descriptor; big ones are mmap'ed read-only, so
memory follows the pages the parser touches, not the file's size. Each mmap keeps a descriptor, so at
most a quarter of RLIMIT_NOFILE files stay mapped; beyond that a file is read instead. The cache keeps
the most recently used files (``capacity``): an audit of ten thousand files does not keep them all,
and a file evicted and needed again is parsed again.
"""

from __future__ import annotations

import errno
import gc
import mmap
import os
import stat
from _weakref import ref  # weakref's own module costs 0.7 ms of start-up for what this needs

from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.facts import Fact

__all__ = ["FileCache", "OpenFailure", "OpenedFile", "open_regular", "read_head"]

OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
# Errors of elfdeps' own process, not of the file: raised on (an internal error), never taken for
# "no such file" or "unreadable", which would silently change what the loader is said to find.
OWN_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})
SMALL_FILE = 1 << 16  # read whole: cheaper than a mapping, and no descriptor stays open
DEFAULT_CAPACITY = 2048  # files kept parsed per run


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only without blocking and return (fd, stat); the caller closes fd.

    Raises OSError: the open's own error, EISDIR for a directory, EINVAL for a FIFO, socket or
    device (refused before reading anything).
    """
    fd = os.open(path, OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_head(path: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file, or None when it cannot be opened as one."""
    try:
        fd, _st = open_regular(path)
    except OSError as error:
        if error.errno in OWN_LIMITS:
            raise
        return None
    try:
        return os.read(fd, size)
    except OSError as error:
        if error.errno in OWN_LIMITS:
            raise
        return None
    finally:
        os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break  # the file shrank meanwhile: parse what is there
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _mapping_budget() -> int:
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(4, soft // 4)


class OpenFailure(Fact):
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
    """The files one run reads, by identity, most recently used kept; paths are remembered as aliases."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        # Both dicts are kept in use order (a hit is moved to the end): the first entry is the oldest.
        self._by_identity: dict[tuple[int, int], OpenedFile] = {}
        self._by_path: dict[str, tuple[int, int] | OpenFailure] = {}
        self._mappings: list[ref[mmap.mmap]] = []  # live until their file is freed
        self._mapping_budget: int | None = None

    def open(self, path: str) -> OpenedFile | OpenFailure:
        known = self._by_path.get(path)
        if isinstance(known, OpenFailure):
            return known
        if known is not None:
            opened = self._by_identity.pop(known, None)
            if opened is not None:
                self._by_identity[known] = opened
                return opened
        result = self._open_uncached(path)
        self._remember(path, result.identity if isinstance(result, OpenedFile) else result)
        return result

    def elf(self, path: str) -> ElfFile:
        """The parsed file at ``path``; raises ElfFormatError when it cannot be parsed, or opened any more
        (a file that vanished since the emulation read it)."""
        opened = self.open(path)
        if isinstance(opened, OpenFailure):
            raise ElfFormatError(f"{path}: {opened.reason}")
        return opened.elf()

    def _remember(self, path: str, value: tuple[int, int] | OpenFailure) -> None:
        self._by_path[path] = value
        if len(self._by_path) > 4 * self.capacity:
            del self._by_path[next(iter(self._by_path))]

    def _open_uncached(self, path: str) -> OpenedFile | OpenFailure:
        try:
            fd, st = open_regular(path)
        except OSError as error:
            if error.errno in OWN_LIMITS:
                raise
            return OpenFailure(path, error.errno or 0, error.strerror or str(error))
        try:
            known = self._by_identity.pop((st.st_dev, st.st_ino), None)
            if known is not None:
                self._by_identity[known.identity] = known
                return known
            opened = OpenedFile(path, st, self._contents(fd, st.st_size))
        except OSError as error:
            if error.errno in OWN_LIMITS:
                raise
            return OpenFailure(path, error.errno or 0, error.strerror or str(error))
        finally:
            os.close(fd)
        self._by_identity[opened.identity] = opened
        if len(self._by_identity) > self.capacity:
            del self._by_identity[next(iter(self._by_identity))]
        return opened

    def _contents(self, fd: int, size: int) -> bytes:
        if size <= SMALL_FILE or not self._may_map():
            return _read_all(fd, size)
        try:
            mapping = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return _read_all(fd, size)
        self._mappings.append(ref(mapping))
        return mapping  # type: ignore[return-value]  # a read-only mmap serves every bytes operation we use

    def _may_map(self) -> bool:
        """Whether another mapping (and its descriptor) fits the budget; evicted files are freed first."""
        if self._mapping_budget is None:
            self._mapping_budget = _mapping_budget()
        if len(self._mappings) < self._mapping_budget:
            return True
        gc.collect()  # parsed files form reference cycles: evicted ones wait for the collector
        self._mappings = [mapping for mapping in self._mappings if mapping() is not None]
        return len(self._mappings) < self._mapping_budget

    def is_directory(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except (OSError, ValueError):
            return False
