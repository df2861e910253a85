"""bench/alternate.py, the alternated-pairs timer the README's Performance figures come from: a command
that sleeps is measured slower than one that does not, whichever comes first, and a wrong call is
refused with exit 2."""

from __future__ import annotations

import io
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

BENCH = str(Path(__file__).resolve().parent.parent / "bench")
sys.path.insert(0, BENCH)
try:
    import alternate
finally:
    sys.path.remove(BENCH)


def _median(first: str, second: str) -> float:
    out = io.StringIO()
    with redirect_stdout(out):
        assert alternate.main([first, second, "3"]) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # three pairs and the summary
    found = re.fullmatch(r"median (\S+)  min (\S+)  max (\S+)", lines[-1])
    assert found is not None, lines[-1]
    median, low, high = map(float, found.groups())
    assert low <= median <= high
    return median


def test_the_ratio_is_first_over_second() -> None:
    assert _median("sleep 0.05", "true") > 3
    assert _median("true", "sleep 0.05") < 1 / 3


def test_a_wrong_call_is_refused() -> None:
    with redirect_stderr(io.StringIO()) as err:
        assert alternate.main(["only-one"]) == 2
    assert "PAIRS" in err.getvalue()
