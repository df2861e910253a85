"""Names read from ELF files (untrusted bytes) as printable text for the graph renderers and ``why``.

Invalid UTF-8, control characters (C0, DEL, C1) and bidirectional overrides become visible escapes
(``\\xff``, ``\\x1b``, ``\\u202e``), so no byte of a soname can move a terminal's cursor, reorder text or
end a line inside a DOT string. Format-specific escaping (DOT quoting, HTML, JSON inside a script) is
each renderer's job on top of this (DESIGN.md §5, STYLE.md §19).
"""

from __future__ import annotations

import os
import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(name: bytes | str) -> str:
    """``name`` (bytes, or a str from ``os.fsdecode``) with every unsafe character escaped."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return _UNSAFE.sub(_escape, raw.decode("utf-8", "backslashreplace"))
