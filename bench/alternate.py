"""Time two commands back to back, alternating, and print the median of the per-pair ratios.

On a machine with a noisy neighbour a command's mean moves by 30-50% from one minute to the next, and
hyperfine times all runs of one command before the other's: the ratio of two means then mostly measures
the neighbour. A pair timed back to back sees the same neighbour; the median over pairs is what the
README's "alternated pairs" column quotes. Run from anywhere (the commands run in /, as bench/run.py's):

    python bench/alternate.py 'CMD A' 'CMD B' [PAIRS]

Prints each pair (ms, ms, ratio A/B), then the median, the smallest and the largest ratio.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator


def seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", env=env, check=False)
    return time.perf_counter() - start


def pairs(
    first: list[str], second: list[str], count: int, env: dict[str, str] | None = None
) -> Iterator[tuple[float, float]]:
    """``count`` pairs of wall times (seconds), each pair timed back to back, as they are timed, after one
    warm-up of each (the page cache and the byte-code)."""
    seconds(first, env), seconds(second, env)
    for _ in range(count):
        yield seconds(first, env), seconds(second, env)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    first, second = shlex.split(argv[0]), shlex.split(argv[1])
    count = int(argv[2]) if len(argv) == 3 else 10
    ratios = []
    for a, b in pairs(first, second, count):
        ratios.append(a / b)
        print(f"{a * 1000:.0f} ms  {b * 1000:.0f} ms  {a / b:.3f}", flush=True)
    print(f"median {statistics.median(ratios):.3f}  min {min(ratios):.3f}  max {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
