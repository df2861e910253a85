"""The one boundary where text read from files meets a terminal (DESIGN.md §5, STYLE.md §19).

Names in ELF files and paths on disk are untrusted: a DT_NEEDED of ``ESC [2J`` must not clear the
user's screen, a newline must not forge an output line, a bidi control must not reorder one. Every
human-readable output passes such text through ``shown``: what ``str.isprintable`` refuses (C0, DEL,
C1, line and paragraph separators, format characters, lone surrogates) is written as an escape;
bytes that are not UTF-8 (kept as surrogates by ``os.fsdecode``) come back as ``\\xNN``.
JSON and SARIF need none of this: their encoder escapes on its own.
"""

from __future__ import annotations

import os

__all__ = ["shown"]

_SURROGATE_BYTES = range(0xDC80, 0xDD00)  # os.fsdecode's surrogateescape of the bytes 0x80-0xff


def _escape(char: str) -> str:
    code = ord(char)
    if code in _SURROGATE_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: str | bytes) -> str:
    """``text`` safe to print on a terminal: unchanged when it is printable, escaped otherwise."""
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)
