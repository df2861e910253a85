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


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", check=False)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    first, second = shlex.split(argv[0]), shlex.split(argv[1])
    pairs = int(argv[2]) if len(argv) == 3 else 10
    seconds(first), seconds(second)  # warm the page cache and the byte-code
    ratios = []
    for _ in range(pairs):
        a, b = seconds(first), seconds(second)
        ratios.append(a / b)
        print(f"{a * 1000:.0f} ms  {b * 1000:.0f} ms  {a / b:.3f}", flush=True)
    print(f"median {statistics.median(ratios):.3f}  min {min(ratios):.3f}  max {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
