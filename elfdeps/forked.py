"""One computation run in a forked child process while this one goes on, its value read back through a
pipe (marshal: plain tuples, lists, bytes, ints, strings, None).

The child shares the parent's memory as it was at the fork (parsed files, mappings), so the work needs
no arguments sent over. Whatever goes wrong there (no fork, a crash, an exception, a value marshal
cannot write, a short read) makes :meth:`ForkedWork.result` return None, and the caller does the work
itself: a helper process may make a run faster, never change its answer.

:class:`SharedWords` are a few numbers both sides see while the child works (how far it got, where it
must stop), each written by one side only.

Public API: :class:`ForkedWork`, :class:`SharedWords`.
"""

from __future__ import annotations

import marshal
import mmap
import os
import struct

from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

__all__ = ["ForkedWork", "SharedWords"]

_CHUNK = 1 << 16
_WORD = struct.Struct("=Q")


class SharedWords:
    """``count`` unsigned 64-bit words in memory shared with the children forked after it is made (an
    anonymous MAP_SHARED mapping). Each word must have one writer: an aligned 8-byte store is seen whole
    or not at all on x86-64, and a reader that sees the old value must be harmless to the protocol."""

    def __init__(self, count: int) -> None:
        self._memory = mmap.mmap(-1, _WORD.size * count)

    def __getitem__(self, position: int) -> int:
        (value,) = _WORD.unpack_from(self._memory, _WORD.size * position)
        return int(value)

    def __setitem__(self, position: int, value: int) -> None:
        _WORD.pack_into(self._memory, _WORD.size * position, value)


class ForkedWork:
    """``work()`` running in a forked child from construction on; :meth:`result` waits for its value."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._pid: int | None = None
        self._pipe: int | None = None
        try:
            reading, writing = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:  # no process left for us (RLIMIT_NPROC), no memory: do without
            os.close(reading)
            os.close(writing)
            return
        if pid == 0:
            _serve(work, reading, writing)  # never returns
        os.close(writing)
        self._pid, self._pipe = pid, reading

    @property
    def started(self) -> bool:
        return self._pid is not None

    def result(self) -> object | None:
        """The work's value; None when it could not be had (the caller then computes it itself)."""
        if self._pid is None or self._pipe is None:
            return None
        chunks = []
        try:
            while chunk := os.read(self._pipe, _CHUNK):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            os.close(self._pipe)
            self._pipe = None
        status = self._reap()
        if status not in (0, None) or not chunks:
            return None
        try:
            value: object = marshal.loads(b"".join(chunks))
        except (EOFError, ValueError, TypeError):
            return None
        return value

    def cancel(self) -> None:
        """Stop the child if it still runs (the caller failed before asking for the result)."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._pid is not None:
            import signal  # only this rare path needs it

            try:  # noqa: SIM105 - contextlib costs the lean start-up collections and functools
                os.kill(self._pid, signal.SIGKILL)
            except OSError:  # it has just ended
                pass
            self._reap()

    def _reap(self) -> int | None:
        """The child's exit status once it has ended; None when it cannot be told: reaped by someone
        else (SIGCHLD ignored, or a handler of the embedding program). The value read is then trusted if
        it decodes: the child writes it whole, after computing it, or not at all."""
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status)


def _serve(work: Callable[[], Any], reading: int, writing: int) -> NoReturn:
    """The child: compute, write the value, and leave without running the parent's exit handlers or
    flushing its output buffers (os._exit), whatever happens."""
    status = 1
    try:
        os.close(reading)
        data = memoryview(marshal.dumps(work()))
        while data:
            data = data[os.write(writing, data) :]
        status = 0
    except BaseException:  # any failure: status 1, and the parent does the work itself
        pass
    finally:
        os._exit(status)
