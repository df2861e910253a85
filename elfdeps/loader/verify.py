"""Judges one candidate file as ld.so's open_verify does: skip it, take it, or stop loading.

Mirrors glibc 2.36 elf/dl-load.c:open_verify (loader.md §3.7): a wrong class or machine is skipped
silently (and remembered for the "wrong ELF class" message); any other header fault is fatal and the
search does not continue. The checks after mapping (ET_EXEC, DF_1_PIE, no PT_LOAD/PT_DYNAMIC) are in
``post_map_error``.
"""

from __future__ import annotations

import errno
import stat
import struct

from elfdeps.elf import constants as C
from elfdeps.elf.cache import FileCache, OpenedFile, OpenFailure
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.facts import Fact, Symbolic
from elfdeps.loader.fs import RootFS

__all__ = ["Verdict", "VerdictKind", "is_setuid", "open_verify", "post_map_error"]

LIBC_ABI_MAX = 4  # x86-64 (sysdeps/gnu/ldsodefs.h): GNU OS/ABI versions 1..3 are accepted


class VerdictKind(Symbolic):
    OK = "ok"
    ABSENT = "absent"  # could not be opened; ``errno`` says why
    WRONG_CLASS = "wrong-class"
    WRONG_MACHINE = "wrong-machine"
    FATAL = "fatal"


class Verdict(Fact):
    kind: VerdictKind
    errno: int = 0
    message: str | None = None
    opened: OpenedFile | None = None

    @property
    def elf(self) -> ElfFile:
        assert self.opened is not None
        return self.opened.elf()


def _fatal(message: str) -> Verdict:
    return Verdict(VerdictKind.FATAL, errno.EINVAL, message)


def open_verify(files: FileCache, fs: RootFS, path: str, elf_class: int, machine: int, byte_order: str) -> Verdict:
    """Open ``path`` (a virtual path) and check its header against the target's class and machine."""
    try:
        host = fs.host_path(path)
    except OSError as error:
        return Verdict(VerdictKind.ABSENT, error.errno or errno.ENOENT)
    opened = files.open(host)
    if isinstance(opened, OpenFailure):
        if opened.errno == errno.EISDIR:
            return _fatal(f"cannot read file data: Error {errno.EISDIR}")
        if opened.errno == errno.EINVAL:
            return _fatal(f"cannot read file data: {opened.reason}")
        return Verdict(VerdictKind.ABSENT, opened.errno)
    header = opened.data[:64]
    expected_header = 64 if elf_class == 64 else 52
    if len(header) < expected_header:
        return _fatal("file too short")
    if header[:4] != C.ELF_MAGIC:
        return _fatal("invalid ELF header")
    expected_class = C.ELFCLASS64 if elf_class == 64 else C.ELFCLASS32
    if header[4] != expected_class:
        return Verdict(
            VerdictKind.WRONG_CLASS, errno.ENOENT, f"wrong ELF class: ELFCLASS{32 if header[4] == 1 else 64}"
        )
    expected_data = C.ELFDATA2MSB if byte_order == ">" else C.ELFDATA2LSB
    if header[5] != expected_data:
        endian = "big-endian" if expected_data == C.ELFDATA2MSB else "little-endian"
        return _fatal(f"ELF file data encoding not {endian}")
    if header[6] != 1:
        return _fatal("ELF file version ident does not match current one")
    osabi, abiversion = header[7], header[8]
    if osabi not in (0, 3):
        return _fatal("ELF file OS ABI invalid")
    if not (abiversion == 0 or (osabi == 3 and abiversion < LIBC_ABI_MAX)):
        return _fatal("ELF file ABI version invalid")
    if any(header[9:16]):
        return _fatal("nonzero padding in e_ident")
    # The rest of the header, read from its bytes as open_verify does: before any program header is
    # parsed, so a bad e_phentsize gets the loader's message, not the reader's.
    order = ">" if header[5] == C.ELFDATA2MSB else "<"
    e_type, e_machine, e_version = struct.unpack_from(order + "HHI", header, 16)
    (e_phentsize,) = struct.unpack_from(order + "H", header, 54 if elf_class == 64 else 42)
    if e_version != 1:
        return _fatal("ELF file version does not match current one")
    if e_machine != machine:
        name = C.MACHINE_NAMES.get(e_machine, f"EM_{e_machine}")
        return Verdict(VerdictKind.WRONG_MACHINE, errno.ENOENT, f"wrong machine: {name}")
    if e_type not in (C.ET_DYN, C.ET_EXEC):
        return _fatal("only ET_DYN and ET_EXEC can be loaded")
    if e_phentsize != (56 if elf_class == 64 else 32):
        return _fatal("ELF file's phentsize not the expected size")
    try:
        opened.elf()
    except ElfFormatError as error:
        return _fatal(f"malformed ELF file ({error})")
    return Verdict(VerdictKind.OK, 0, None, opened)


def post_map_error(elf: ElfFile) -> str | None:
    """The fatal error _dl_map_object_from_fd raises for a found library, if any."""
    if elf.e_type == C.ET_EXEC:
        return "cannot dynamically load executable"
    if not any(seg.type == C.PT_LOAD for seg in elf.segments):
        return "object file has no loadable segments"
    if elf.dynamic is None:
        return "object file has no dynamic section"
    if elf.dynamic.is_pie:
        return "cannot dynamically load position-independent executable"
    return None


def is_setuid(opened: OpenedFile) -> bool:
    return bool(opened.mode & stat.S_ISUID)
