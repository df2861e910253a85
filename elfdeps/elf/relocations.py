"""The symbol references of a file, read from its dynamic relocations (DT_RELA/DT_REL, DT_JMPREL).

ld.so looks up a symbol only when a relocation names it, so these are what binding emulates. Each
reference is classed as glibc's elf_machine_type_class does: PLT (lazy-bindable function calls and
TLS), COPY, or plain data/address references that are bound at start-up even when lazy
(sysdeps/<arch>/dl-machine.h; loader.md §10.2, §10.6). The machines whose types are known are those
of ``_MACHINE_TYPES`` (x86-64, i386, AArch64, 32-bit Arm, RISC-V), each checked against glibc's
dl-machine.h and the numbers of glibc's elf.h.

A machine elfdeps does not know (any other e_machine, or x32): its relocation types mean nothing
here, so instead of guessing, every relocation that names a symbol (other than type 0, R_*_NONE on
every machine) is a reference of class UNKNOWN. Binding looks it up like a data reference (no PLT
or COPY exclusion) and treats it as bound at start-up, the reading under which a missing symbol is
never overlooked; the audit says the class is unknown instead of stating when it would fail.
"""

from __future__ import annotations

import struct

from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact, Symbolic

if TYPE_CHECKING:
    from elfdeps.elf.reader import Dynamic, ElfFile

__all__ = ["RelocClass", "SymbolReference", "read_symbol_references", "symbolic_relocations_at_most"]

DT_PLTRELSZ, DT_RELA, DT_RELASZ, DT_REL, DT_RELSZ, DT_PLTREL, DT_JMPREL = 2, 7, 8, 17, 18, 20, 23
DT_RELACOUNT, DT_RELCOUNT = 0x6FFFFFF9, 0x6FFFFFFA
MAX_RELOCATIONS = 1 << 24


class RelocClass(Symbolic):
    PLT = "plt"  # JUMP_SLOT and TLS: an undefined definition never satisfies it
    COPY = "copy"  # looked up skipping the executable
    DATA = "data"  # GLOB_DAT, absolute, ...: bound at start-up even in lazy mode
    UNKNOWN = "unknown"  # a machine whose relocation types elfdeps does not know (module docstring)


class _MachineTypes(Fact):
    """What glibc's dl-machine.h says about one machine's relocation types."""

    no_lookup: frozenset[int]  # handled by elf_machine_rel(a) before any lookup (NONE, RELATIVE)
    jump_slot: int  # the type elf_machine_lazy_rel defers (lazy binding)
    plt: frozenset[int]  # elf_machine_type_class: ELF_RTYPE_CLASS_PLT
    copy: int  # elf_machine_type_class: ELF_RTYPE_CLASS_COPY


# (e_machine, ELF class) -> the machine's types, numbers as glibc's elf.h defines them.
_MACHINE_TYPES: dict[tuple[int, int], _MachineTypes] = {
    # sysdeps/x86_64/dl-machine.h: NONE 0, RELATIVE 8; JUMP_SLOT 7, DTPMOD64 16, DTPOFF64 17, TPOFF64 18,
    # TLSDESC 36; COPY 5
    (C.EM_X86_64, 64): _MachineTypes(frozenset({0, 8}), 7, frozenset({7, 16, 17, 18, 36}), 5),
    # sysdeps/i386/dl-machine.h: NONE 0, RELATIVE 8; JMP_SLOT 7, TLS_TPOFF 14, TLS_DTPMOD32 35,
    # TLS_DTPOFF32 36, TLS_TPOFF32 37, TLS_DESC 41; COPY 5
    (C.EM_386, 32): _MachineTypes(frozenset({0, 8}), 7, frozenset({7, 14, 35, 36, 37, 41}), 5),
    # sysdeps/aarch64/dl-machine.h: NONE 0, RELATIVE 1027; JUMP_SLOT 1026, TLS_DTPMOD 1028, TLS_DTPREL 1029,
    # TLS_TPREL 1030, TLSDESC 1031; COPY 1024
    (C.EM_AARCH64, 64): _MachineTypes(frozenset({0, 1027}), 1026, frozenset({1026, 1028, 1029, 1030, 1031}), 1024),
    # sysdeps/arm/dl-machine.h: NONE 0, RELATIVE 23; JUMP_SLOT 22, TLS_DESC 13, TLS_DTPMOD32 17,
    # TLS_DTPOFF32 18, TLS_TPOFF32 19; COPY 20
    (C.EM_ARM, 32): _MachineTypes(frozenset({0, 23}), 22, frozenset({22, 13, 17, 18, 19}), 20),
    # sysdeps/riscv/dl-machine.h: every type goes through RESOLVE_MAP (no early return); JUMP_SLOT 5 and
    # the TLS types of the word size (DTPMOD 6/7, DTPREL 8/9, TPREL 10/11 for 32/64); COPY 4
    (C.EM_RISCV, 64): _MachineTypes(frozenset(), 5, frozenset({5, 7, 9, 11}), 4),
    (C.EM_RISCV, 32): _MachineTypes(frozenset(), 5, frozenset({5, 6, 8, 10}), 4),
}
# Any other machine: nothing known but that type 0 is R_*_NONE (module docstring).
_UNKNOWN_MACHINE = _MachineTypes(frozenset({0}), -1, frozenset(), -1)


class SymbolReference(Fact):
    """One relocation that names a symbol."""

    symbol_index: int
    reloc_class: RelocClass
    lazy: bool  # a JUMP_SLOT in the PLT relocations: bound at first call unless BIND_NOW


def _table(elf: ElfFile, addr: int | None, size: int | None, entry_size: int, what: str) -> tuple[int, int]:
    """(file offset, whole entries) of a relocation table, bounds-checked; (0, 0) when there is none."""
    if addr is None or not size:
        return 0, 0
    offset = elf.vaddr_to_offset(addr)
    if offset is None:
        raise ElfFormatError(f"{elf.path}: {what} address {addr:#x} is not inside a PT_LOAD segment")
    count = min(size // entry_size, MAX_RELOCATIONS)
    elf.unpack_from(f"{count * entry_size}x", offset, what)  # bounds check
    return offset, count


def _layout(elf: ElfFile, dynamic: Dynamic) -> tuple[bool, int]:
    """Whether the relocations carry addends (RELA), and the size of one entry."""
    rela = dynamic.value(DT_RELA) is not None or dynamic.value(DT_PLTREL) == DT_RELA
    return rela, (3 if rela else 2) * (8 if elf.is_64 else 4)


def symbolic_relocations_at_most(elf: ElfFile) -> int:
    """An upper bound of the relocations that may name a symbol, from the dynamic section's table sizes
    alone (no entry read): what a reference costs binding, estimated before reading any."""
    dynamic = elf.dynamic
    if dynamic is None:
        return 0
    rela, entry_size = _layout(elf, dynamic)
    table = dynamic.value(DT_RELASZ if rela else DT_RELSZ) or 0
    relative = dynamic.value(DT_RELACOUNT if rela else DT_RELCOUNT) or 0
    plt = dynamic.value(DT_PLTRELSZ) or 0
    return min(max(table // entry_size - relative, 0) + plt // entry_size, MAX_RELOCATIONS)


def read_symbol_references(elf: ElfFile) -> tuple[SymbolReference, ...]:
    """Every relocation that names a symbol, in file order (DT_REL(A) first, then DT_JMPREL)."""
    dynamic = elf.dynamic
    if dynamic is None:
        return ()
    types = _MACHINE_TYPES.get((elf.e_machine, 64 if elf.is_64 else 32))
    known = types is not None
    no_lookup, jump_slot, plt_types, copy_type = types or _UNKNOWN_MACHINE
    rela, entry_size = _layout(elf, dynamic)
    fmt = elf.byte_order + ("QQ" if elf.is_64 else "II") + (("q" if elf.is_64 else "i") if rela else "")
    shift, type_mask = (32, 0xFFFFFFFF) if elf.is_64 else (8, 0xFF)

    references: list[SymbolReference] = []

    def scan(table: tuple[int, int], in_plt: bool, skip: int) -> None:
        # Relative relocations come first (DT_RELACOUNT says how many) and name no symbol: their pages
        # are never read (librustc_driver has 116k of them, 2.8 MB before its 1.5k symbolic ones).
        offset, count = table
        if skip >= count:
            return
        with memoryview(elf.data) as whole, whole[offset + skip * entry_size : offset + count * entry_size] as raw:
            for entry in struct.iter_unpack(fmt, raw):
                info = entry[1]
                symbol = info >> shift
                if symbol == 0:
                    continue
                rtype = info & type_mask
                if rtype in no_lookup:
                    continue
                if not known:
                    kind = RelocClass.UNKNOWN
                elif rtype == copy_type:
                    kind = RelocClass.COPY
                elif rtype in plt_types:
                    kind = RelocClass.PLT
                else:
                    kind = RelocClass.DATA
                references.append(SymbolReference._make((symbol, kind, in_plt and rtype == jump_slot)))

    if rela:
        table = _table(elf, dynamic.value(DT_RELA), dynamic.value(DT_RELASZ), entry_size, "DT_RELA")
        count = dynamic.value(DT_RELACOUNT) or 0
    else:
        table = _table(elf, dynamic.value(DT_REL), dynamic.value(DT_RELSZ), entry_size, "DT_REL")
        count = dynamic.value(DT_RELCOUNT) or 0
    plt = _table(elf, dynamic.value(DT_JMPREL), dynamic.value(DT_PLTRELSZ), entry_size, "DT_JMPREL")
    # DT_RELA may include the PLT relocations (when DT_JMPREL lies inside it): count them once.
    jmprel, rela_addr = dynamic.value(DT_JMPREL), dynamic.value(DT_RELA if rela else DT_REL)
    rela_size = dynamic.value(DT_RELASZ if rela else DT_RELSZ) or 0
    if plt[1] and jmprel is not None and rela_addr is not None and rela_addr <= jmprel < rela_addr + rela_size:
        # whole entries before DT_JMPREL: a hostile DT_JMPREL may be unaligned
        table = (table[0], min(table[1], (jmprel - rela_addr) // entry_size))
    scan(table, in_plt=False, skip=count)
    scan(plt, in_plt=True, skip=0)
    return tuple(references)
