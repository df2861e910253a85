"""The spellings elfdeps matches by hand (to keep `re` off the audit's start-up) accept exactly what the
regular expressions they replaced accept: each matcher against its expression, on hand-picked names
and on generated ones built from the pieces that matter (digits, separators, hex, a newline)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from elfdeps.advice.toolchains import is_libstd
from elfdeps.audit.versions import parse_floor, split_version
from elfdeps.rust.detect import _is_hashed_file
from elfdeps.rust.mangling import looks_mangled, parse
from elfdeps.rust.metadata import _library_path

VERSION = re.compile(r"^([A-Za-z][A-Za-z_]*?)_?(\d+(?:\.\d+)*)$")
FLOOR_NUMBER = re.compile(r"\d+(\.\d+)*")
HASHED_FILE = re.compile(rb"lib(.+)-([0-9a-f]{16})\.so")
LIBSTD = re.compile(r"libstd-[0-9a-f]{16}\.so")
LIBRARY_PATH = re.compile(rb"/rustc/([0-9a-f]{40})/library/(std|core|alloc)/")

PIECES = ["GLIBC", "GCC", "x", "_", "__", ".", "2", "34", "0", "9", "-", "lib", "std", ".so", "\n", "é", "F"]
BYTE_PIECES = [piece.encode() for piece in PIECES] + [b"0123456789abcdef", b"deadbeef" * 2, b"a" * 15]
text = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
data = st.lists(st.sampled_from(BYTE_PIECES), max_size=8).map(b"".join)


def _version_by_re(name: str) -> tuple[str, tuple[int, ...]] | None:
    match = VERSION.match(name)
    if match is None or match.end() != len(name):  # $ also matches before a final newline
        return None
    return match.group(1).upper(), tuple(int(part) for part in match.group(2).split("."))


def test_known_version_names() -> None:
    assert split_version("GLIBC_2.34") == ("GLIBC", (2, 34))
    assert split_version("GLIBCXX_3.4.21") == ("GLIBCXX", (3, 4, 21))
    assert split_version("GLIBC_PRIVATE") is None and split_version("LIBFOO2_1.0") is None
    assert parse_floor("glibc=2.28") == ("GLIBC", (2, 28))


@settings(max_examples=3000)
@given(text)
def test_version_families_as_the_expression(name: str) -> None:
    digits_are_ascii = all(not char.isdigit() or char.isascii() for char in name)
    if digits_are_ascii:  # \\d also takes other scripts' digits, which no ELF version name has
        assert split_version(name) == _version_by_re(name)


@settings(max_examples=2000)
@given(text)
def test_floor_numbers_as_the_expression(version: str) -> None:
    expected = FLOOR_NUMBER.fullmatch(version) is not None and version.isascii()
    try:
        parse_floor(f"glibc={version}")
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == expected


KNOWN_FILE_NAMES = [
    b"libfoo-0123456789abcdef.so",
    b"libfoo-bar-0123456789abcdef.so",
    b"lib-0123456789abcdef.so",
    b"libfoo-0123456789abcde.so",
    b"libfoo-0123456789abcdef0.so",
    b"libfoo-0123456789abcdeF.so",
    b"libfoo0123456789abcdef.so",
    b"lib\n-0123456789abcdef.so",
    b"libstd-0123456789abcdef.so",
    b"libstd-0123456789abcdef.so.1",
]


def test_known_file_names() -> None:
    assert _is_hashed_file(b"libfoo-0123456789abcdef.so") and not _is_hashed_file(b"lib-0123456789abcdef.so")
    assert is_libstd("libstd-0123456789abcdef.so") and not is_libstd("libstd-0123456789abcdeF.so")
    for name in KNOWN_FILE_NAMES:
        assert _is_hashed_file(name) == (HASHED_FILE.fullmatch(name) is not None), name
        assert is_libstd(name.decode()) == (LIBSTD.fullmatch(name.decode()) is not None), name


@settings(max_examples=3000)
@given(data)
def test_file_names_as_the_expressions(name: bytes) -> None:
    assert _is_hashed_file(name) == (HASHED_FILE.fullmatch(name) is not None)
    decoded = name.decode("utf-8", "surrogateescape")
    assert is_libstd(decoded) == (LIBSTD.fullmatch(decoded) is not None)


@settings(max_examples=3000)
@given(st.lists(st.sampled_from([b"/rustc/", b"a" * 40, b"0123456789" * 4, b"/library/", b"std/", b"core/",
                                 b"alloc/", b"proc_macro/", b"x", b"/"]), max_size=6).map(b"".join))  # fmt: skip
def test_library_paths_as_the_expression(text_bytes: bytes) -> None:
    found = []
    at = text_bytes.find(b"/rustc/")
    while at >= 0:
        hit = _library_path(text_bytes, at + len(b"/rustc/"), len(text_bytes))
        if hit is not None:
            found.append(hit)
        at = text_bytes.find(b"/rustc/", at + 1)
    assert found == [(match.group(1), match.group(2)) for match in LIBRARY_PATH.finditer(text_bytes)]


LEGACY_PIECES = [b"_ZN", b"3std", b"2io", b"17h", b"h", b"0123456789abcdef", b"E", b".llvm.7", b"4llvm", b"$LT$"]


@given(st.lists(st.sampled_from(LEGACY_PIECES), max_size=8).map(lambda pieces: b"_ZN" + b"".join(pieces)))
@settings(max_examples=1000)
def test_a_zn_name_without_17h_is_neither_rust_nor_counted(name: bytes) -> None:
    """rust/symtabs.py skips a ``_ZN`` name that holds no ``17h`` (C++) before cutting it out: what the
    parser and the unparsed count say of every such name (and of the Rust ones it keeps)."""
    if b"17h" not in name:
        assert parse(name) is None and not looks_mangled(name)


def test_legacy_names_keep_their_17h() -> None:
    assert parse(b"_ZN3std2io5stdio6_print17h0123456789abcdefE") is not None
    assert parse(b"_ZN4llvm5Value8getValueEv") is None and not looks_mangled(b"_ZN4llvm5Value8getValueEv")
