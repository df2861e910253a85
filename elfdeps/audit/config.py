"""Audit settings from a config file: a [tool.elfdeps] table in pyproject.toml, or elfdeps.toml
(top level or [tool.elfdeps]), found in the current directory or its parents. Command-line options
win over the file.

    [tool.elfdeps]
    fail-on = "warning"
    ignore = ["unused-dependency", "rpath-absolute:*/vendor/*"]
    max-version = ["glibc=2.28", "glibcxx=3.4.25"]
    baseline = "elfdeps-baseline.json"
"""

from __future__ import annotations

import os

from elfdeps.errors import UsageError
from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["find_config", "load_config"]

KNOWN_KEYS = {"fail-on", "ignore", "max-version", "baseline"}


def find_config(start: str) -> str | None:
    directory = os.path.abspath(start)
    while True:
        for name in ("elfdeps.toml", "pyproject.toml"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and (name == "elfdeps.toml" or _has_table(candidate)):
                return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _read(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: cannot read the configuration: {error}") from error


def _has_table(path: str) -> bool:
    # Most pyproject.toml files never name elfdeps: saying so from the bytes spares parsing them
    # (and importing tomllib, ~10 ms of an audit's start-up).
    try:
        with open(path, "rb") as handle:
            if b"elfdeps" not in handle.read():
                return False
    except OSError:
        return False
    try:
        return "elfdeps" in _read(path).get("tool", {})
    except UsageError:
        return False


def load_config(path: str) -> dict[str, Any]:
    """The [tool.elfdeps] settings of a file (elfdeps.toml may also hold them at the top level)."""
    data = _read(path)
    table = data.get("tool", {}).get("elfdeps")
    if table is None and os.path.basename(path) == "elfdeps.toml":
        table = data
    table = table or {}
    unknown = set(table) - KNOWN_KEYS - {"tool"}
    if unknown:
        raise UsageError(f"{path}: unknown [tool.elfdeps] keys: {', '.join(sorted(unknown))}")
    base = os.path.dirname(os.path.abspath(path))
    if "baseline" in table:
        table = {**table, "baseline": os.path.join(base, table["baseline"])}
    return dict(table)
