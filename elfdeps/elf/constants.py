"""ELF constants elfdeps reads (values from the System V gABI and glibc's elf.h)."""

from __future__ import annotations

ELF_MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3

DT_NULL = 0
DT_NEEDED = 1
DT_HASH = 4
DT_STRTAB = 5
DT_SYMTAB = 6
DT_STRSZ = 10
DT_SYMENT = 11
DT_SONAME = 14
DT_RPATH = 15
DT_SYMBOLIC = 16
DT_BIND_NOW = 24
DT_RUNPATH = 29
DT_FLAGS = 30
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_FLAGS_1 = 0x6FFFFFFB
DT_VERDEF = 0x6FFFFFFC
DT_VERDEFNUM = 0x6FFFFFFD
DT_VERNEED = 0x6FFFFFFE
DT_VERNEEDNUM = 0x6FFFFFFF
DT_AUXILIARY = 0x7FFFFFFD
DT_FILTER = 0x7FFFFFFF

DF_ORIGIN, DF_SYMBOLIC, DF_TEXTREL, DF_BIND_NOW, DF_STATIC_TLS = 0x1, 0x2, 0x4, 0x8, 0x10
DF_1_NOW, DF_1_GLOBAL, DF_1_NODELETE, DF_1_NODEFLIB, DF_1_PIE = 0x1, 0x2, 0x8, 0x800, 0x08000000

DT_FLAGS_NAMES = {
    DF_ORIGIN: "ORIGIN",
    DF_SYMBOLIC: "SYMBOLIC",
    DF_TEXTREL: "TEXTREL",
    DF_BIND_NOW: "BIND_NOW",
    DF_STATIC_TLS: "STATIC_TLS",
}
DT_FLAGS_1_NAMES = {
    0x1: "NOW",
    0x2: "GLOBAL",
    0x4: "GROUP",
    0x8: "NODELETE",
    0x10: "LOADFLTR",
    0x20: "INITFIRST",
    0x40: "NOOPEN",
    0x80: "ORIGIN",
    0x100: "DIRECT",
    0x400: "INTERPOSE",
    0x800: "NODEFLIB",
    0x1000: "NODUMP",
    0x8000000: "PIE",
}

# e_machine values elfdeps names; anything else is shown as "EM_<n>".
MACHINE_NAMES = {
    2: "sparc",
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    40: "arm",
    43: "sparcv9",
    50: "ia64",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
}
EM_386, EM_X86_64, EM_AARCH64 = 3, 62, 183
EM_ARM, EM_RISCV = 40, 243

SHT_SYMTAB = 2
SHT_NOBITS = 8
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2

# Symbol binding, type and visibility (st_info >> 4, st_info & 0xf, st_other & 3).
STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS, STT_GNU_IFUNC = 0, 1, 2, 3, 4, 5, 6, 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3
# Bindings another object's lookup can see, and the types do_lookup_x accepts (ALLOWED_STT).
EXPORTED_BINDINGS = frozenset({STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE})
LOOKUP_TYPES = frozenset({STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_COMMON, STT_TLS, STT_GNU_IFUNC})

# .gnu.version entries: the index of a version, and the bit that hides a non-default version.
VERSYM_INDEX_MASK, VERSYM_HIDDEN = 0x7FFF, 0x8000
