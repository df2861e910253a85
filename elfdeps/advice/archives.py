"""Where a missing C symbol of a Rust build does exist: in a static archive a build script made
(issue 6; the seed's `vsnprintf_wrapper`, rust.md §4 F3).

A build script compiles C code into `target/<profile>/build/<crate>-<hash>/out/lib<name>.a` and tells
rustc to link it. A dylib exports such a native symbol only when the extern block that declares it
says `#[link(name = "<name>", kind = "static")]`; generic code calling it and instantiated in another
crate's dylib then leaves that dylib with an undefined reference nothing loaded defines.

This module reads those archives (the `ar` format; the symbol index a GNU `ar` writes, else each ELF
member's symbol table) and says which archive, made by which crate's build script, defines a name.
"""

from __future__ import annotations

import os

from elfdeps.advice.cargo import cargo_target_dir
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.elf.reader import ElfFile
from elfdeps.elf.symbols import is_exported
from elfdeps.errors import ElfFormatError
from elfdeps.facts import Fact

__all__ = ["ArchiveDefinition", "ArchiveIndex", "build_script_crate"]

AR_MAGIC = b"!<arch>\n"
MAX_ARCHIVES = 256  # per target directory
MAX_MEMBERS = 4096
HEADER = 60


class ArchiveDefinition(Fact):
    archive: str  # path of the .a (or .o)
    crate: str | None  # the crate whose build script made it (target/*/build/<crate>-<hash>/out)
    library: str  # the name a #[link(name = ...)] gives it: libvspwrap.a -> vspwrap


def build_script_crate(path: str) -> str | None:
    """``vsp`` of ``.../build/vsp-0123456789abcdef/out/...``."""
    parts = path.split(os.sep)
    for position in range(len(parts) - 2, 0, -1):
        if parts[position + 1] == "out" and parts[position - 1] == "build":
            crate, _, digest = parts[position].rpartition("-")
            if crate and len(digest) == 16:
                return crate
    return None


def _index_names(data: bytes) -> set[bytes]:
    """The names of a GNU ar symbol index member ("/"): a big-endian count, offsets, then names."""
    if len(data) < 4:
        return set()
    count = int.from_bytes(data[:4], "big")
    table = data[4 + 4 * count :]
    return {name for name in table.split(b"\0")[:count] if name}


def _member_names(data: bytes, path: str) -> set[bytes]:
    """Global definitions of an ELF relocatable member (an archive without an index)."""
    try:
        definitions = ElfFile(path, data).static_definitions
    except ElfFormatError:
        return set()
    return {name for name, (bind, visibility) in definitions.items() if is_exported(bind, visibility)}


def archive_names(data: bytes, path: str) -> set[bytes]:
    """Every name an archive defines (its index, else its members' symbol tables)."""
    if not data.startswith(AR_MAGIC):
        return _member_names(data, path) if data[:4] == b"\x7fELF" else set()
    names: set[bytes] = set()
    position = len(AR_MAGIC)
    for _member in range(MAX_MEMBERS):
        if position + HEADER > len(data):
            break
        header = data[position : position + HEADER]
        try:
            size = int(header[48:58].strip() or b"0")
        except ValueError:
            break
        member = data[position + HEADER : position + HEADER + size]
        name = header[:16].rstrip()
        if name == b"/":  # the symbol index lists every global definition: nothing else to read
            return _index_names(member)
        if not name.startswith(b"/"):
            names |= _member_names(member, f"{path}({name.decode('ascii', 'replace').rstrip('/')})")
        position += HEADER + size + (size & 1)
    return names


class ArchiveIndex:
    """The archives build scripts left in cargo target directories, read once per run."""

    def __init__(self, files: FileCache) -> None:
        self.files = files
        self._by_target: dict[str, dict[bytes, list[ArchiveDefinition]]] = {}
        self._target_dirs: dict[str, str | None] = {}

    def target_dir(self, path: str) -> str | None:
        """The cargo target directory holding ``path`` (memoised per directory: a system directory
        audit asks for every missing symbol of its ~900 libraries)."""
        directory = os.path.dirname(os.path.abspath(path))
        if directory not in self._target_dirs:
            self._target_dirs[directory] = cargo_target_dir(path)
        return self._target_dirs[directory]

    def definitions(self, target_dir: str) -> dict[bytes, list[ArchiveDefinition]]:
        known = self._by_target.get(target_dir)
        if known is None:
            known = self._by_target[target_dir] = self._read(target_dir)
        return known

    def _read(self, target_dir: str) -> dict[bytes, list[ArchiveDefinition]]:
        found: dict[bytes, list[ArchiveDefinition]] = {}
        for path in _archives(target_dir):
            opened = self.files.open(path)
            if isinstance(opened, OpenFailure):
                continue
            library = os.path.basename(path)
            library = library[3:] if library.startswith("lib") else library
            definition = ArchiveDefinition(path, build_script_crate(path), library.rsplit(".", 1)[0])
            for name in archive_names(bytes(opened.data), path):
                found.setdefault(name, []).append(definition)
        # An object file and the archive made of it say the same: the archive is what links.
        return {
            name: [d for d in definitions if d.archive.endswith(".a")] or definitions
            for name, definitions in found.items()
        }


_NOT_BUILD_OUTPUT = frozenset({"deps", "incremental", ".fingerprint", "examples"})


def _archives(target_dir: str) -> list[str]:
    """`*.a` and `*.o` under every `<profile>/build/<crate>-<hash>/out/` of a cargo target directory."""
    found: list[str] = []
    for parent, subdirs, names in os.walk(target_dir):
        subdirs[:] = sorted(name for name in subdirs if name not in _NOT_BUILD_OUTPUT)
        for name in sorted(names):
            path = os.path.join(parent, name)
            if name.endswith((".a", ".o")) and build_script_crate(path) is not None:
                found.append(path)
                if len(found) >= MAX_ARCHIVES:
                    return found
    return found
