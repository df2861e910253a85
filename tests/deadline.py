"""One wall-clock deadline for the tests and the fuzz harness: SIGALRM raises an exception of the
caller's choice in the main thread (a BaseException subclass, so no `except Exception` in elfdeps can
swallow it), and the previous handler and timer are restored whatever happens."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["raising_after"]


@contextmanager
def raising_after(seconds: float, error: Callable[[], BaseException]) -> Iterator[None]:
    def ring(_signum: int, _frame: object) -> None:
        raise error()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
