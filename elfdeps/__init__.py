"""elfdeps: what an ELF program will load, from where, why, and what will break — without running it."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
