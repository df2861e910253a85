"""``python -m elfdeps``."""

from elfdeps.cli import run

run()
