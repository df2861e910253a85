"""Symbol-version families and floors: each file's highest required version per family
(GLIBC, GLIBCXX, CXXABI, GCC, ...) and the --max-version check (rule version-floor)."""

from __future__ import annotations

import os

from elfdeps.audit.rules import RULES, Finding
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING
from elfdeps.rust.demangle import readable

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["floor_findings", "highest_versions", "parse_floor", "split_version"]

_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _dotted_number(text: str) -> tuple[int, ...] | None:
    """(2, 34) for "2.34": ASCII digits in dot-separated groups, nothing else; None otherwise."""
    parts = text.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def split_version(name: str) -> tuple[str, tuple[int, ...]] | None:
    """("GLIBC", (2, 34)) for "GLIBC_2.34"; None for names with no number (GLIBC_PRIVATE).

    The family is what precedes the first digit, less one "_": a letter, then letters and "_"."""
    first_digit = next((position for position, char in enumerate(name) if "0" <= char <= "9"), None)
    if first_digit is None:
        return None
    family = name[:first_digit]
    family = family[:-1] if family.endswith("_") else family
    version = _dotted_number(name[first_digit:])
    if not family or family[0] not in _ASCII_LETTERS or version is None:
        return None
    if any(char != "_" and char not in _ASCII_LETTERS for char in family):
        return None
    return family.upper(), version


def _version_key(name: str) -> tuple[int, ...]:
    split = split_version(name)
    return split[1] if split is not None else ()


def parse_floor(text: str) -> tuple[str, tuple[int, ...]]:
    """ "glibc=2.28" -> ("GLIBC", (2, 28))."""
    family, _, version = text.partition("=")
    number = _dotted_number(version)
    if not family or number is None:
        raise ValueError(f"--max-version wants FAMILY=X.Y (e.g. glibc=2.28), not {text!r}")
    return family.upper(), number


def _required(elf: ElfFile) -> dict[str, list[tuple[str, bytes]]]:
    """family -> [(version name, needed file)] for every version the file requires."""
    out: dict[str, list[tuple[str, bytes]]] = {}
    try:
        needs = elf.version_needs
    except ElfFormatError:
        return out
    for need in needs:
        for requirement in need.versions:
            name = os.fsdecode(requirement.name)
            split = split_version(name)
            if split is not None:
                out.setdefault(split[0], []).append((name, need.file))
    return out


def highest_versions(elf: ElfFile) -> dict[str, str]:
    """family -> the highest version of it this file requires."""
    highest: dict[str, str] = {}
    for family, names in _required(elf).items():
        highest[family] = max((name for name, _file in names), key=_version_key)
    return highest


def _symbols_needing(elf: ElfFile, version: bytes) -> list[str]:
    table = elf.symbol_table
    wanted = {index for index, entry in table.versions().items() if entry.name == version}
    return sorted(
        os.fsdecode(table.symbol(i).name)
        for i in range(1, table.count)
        if table.versym(i) & 0x7FFF in wanted and table.symbol(i).shndx == 0
    )


def floor_findings(path: str, elf: ElfFile, floors: dict[str, tuple[int, ...]]) -> Iterator[Finding]:
    for family, names in _required(elf).items():
        floor = floors.get(family)
        if floor is None:
            continue
        for name, file in sorted(set(names), key=lambda item: _version_key(item[0])):
            version = split_version(name)
            if version is None or version[1] <= floor:
                continue
            symbols = _symbols_needing(elf, os.fsencode(name))
            listed = ", ".join(readable(symbols[:10])) + (f" and {len(symbols) - 10} more" if len(symbols) > 10 else "")
            yield Finding(
                "version-floor",
                RULES["version-floor"].severity,
                path,
                f"needs {name} from {os.fsdecode(file)}, newer than the floor {family}"
                f" {'.'.join(map(str, floor))}; symbols: {listed or '(none named)'}",
                version=name,
                library=os.fsdecode(file),
                related=tuple(symbols),
                hint=f"build on a system with {family} {'.'.join(map(str, floor))} or older, or avoid these symbols",
            )
