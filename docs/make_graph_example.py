"""Make docs/graph-example.png, the picture in README.md: `elfdeps graph` of a C program that needs two
Rust dylibs each carrying its own std (tied together: the stand-in duplicated std), a library that is
nowhere to be found (red) and libm, from which nothing is bound (dotted).

The program is built with rustc and gcc into a temporary directory (fixtures/graph_scenarios.py,
build_rust_picture); nothing is downloaded. Run from the repository root:

    python3 docs/make_graph_example.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from elfdeps.cli import main  # noqa: E402
from fixtures.graph_scenarios import build_rust_picture  # noqa: E402

OUT = REPO / "docs" / "graph-example.png"


def make() -> Path:
    with tempfile.TemporaryDirectory(prefix="elfdeps-example-") as work:
        program = build_rust_picture(Path(work) / "example")
        code = main(["graph", "--no-env", str(program), "-o", str(OUT)])
    if code != 1:  # the missing library is an error: exit 1 is the expected outcome
        raise SystemExit(f"elfdeps graph exited {code}, expected 1")
    return OUT


if __name__ == "__main__":
    print(make())
