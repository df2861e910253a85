"""The one exception tree of elfdeps; the CLI turns any of these into one line on stderr."""

from __future__ import annotations

__all__ = [
    "ElfFormatError",
    "ElfdepsError",
    "InputError",
    "UsageError",
]


class ElfdepsError(Exception):
    """Base of every error elfdeps reports to a user (never a traceback)."""


class UsageError(ElfdepsError):
    """The command line itself is wrong (exit code 2)."""


class InputError(ElfdepsError):
    """A file named by the user is missing, unreadable, not a regular file or not ELF (exit code 2)."""


class ElfFormatError(InputError):
    """Bytes that claim to be ELF but cannot be read as such (truncated, inconsistent tables)."""
