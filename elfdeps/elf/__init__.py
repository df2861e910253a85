"""The ELF reader: one place that reads ELF files, reading what the loader reads."""

from elfdeps.elf.cache import FileCache, OpenedFile, OpenFailure
from elfdeps.elf.reader import Dynamic, ElfFile, Ident, Segment

__all__ = ["Dynamic", "ElfFile", "FileCache", "Ident", "OpenFailure", "OpenedFile", "Segment"]
