"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_fixtures import build_reader_fixtures


@pytest.fixture(scope="session")
def reader_fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reader fixtures of reader_fixtures.py, built once per test session."""
    return build_reader_fixtures(tmp_path_factory.mktemp("reader-fixtures"))
