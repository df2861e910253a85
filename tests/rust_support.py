"""What the Rust fixture tests share: getting a built fixture, or skipping a nightly scenario on a machine
without `rustc +nightly` (the one skip fixtures/rust/README.md allows; a missing default toolchain is an
error, never a skip)."""

from __future__ import annotations

import pytest

from fixtures.rust import RustFixture, ToolchainUnavailable, by_name, nightly, rust_fixture

__all__ = ["fixture_or_skip"]


def fixture_or_skip(name: str) -> RustFixture:
    if by_name(name).nightly:
        try:
            nightly()
        except ToolchainUnavailable as reason:
            pytest.skip(f"scenario {name} needs rustc +nightly: {reason}")
    return rust_fixture(name)
