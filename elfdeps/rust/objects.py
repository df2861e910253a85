"""What one ELF file is in Rust terms (rust.md §2.2, §6.1): its kind, the rustc release(s) that built it,
its crate identity, which crate builds' own code it holds (exported and private) and which crate builds
its undefined references expect.

Three facts per file, each computed once and memoised on the run's ElfFile (an attribute of that
object, never a module-level table), each as cheap as its job allows:

- :func:`rust_facts` (always cheap): kind, versions, identity, from :mod:`elfdeps.rust.metadata`;
- :func:`rust_imports` (cheap): the undefined Rust names of ``.dynsym`` grouped by the crate build that
  must provide them (the crate that compiled the code: a generic instance's instantiating crate);
- :func:`rust_defines` (the expensive one, every exported name parsed): per crate build, its
  non-generic definitions. ``.symtab`` is read only for the kinds whose Rust code is private (cdylib,
  executable, proc-macro): a Rust dylib exports all of its crates' code (rust#38117), so its
  ``.symtab`` adds nothing but local copies.

Attribution rules (rust.md §1.2, §1.4, §6.4): v0 names count for the crate that compiled them, and only
when not generic. Local copies of inlined upstream functions are not the upstream crate's code: a crate
the object also imports is not counted as held there, and std/core/alloc (:data:`RUNTIME_CRATES`) count
only in an object that defines a runtime anchor (the ``__rustc`` panic handler, core's ``panic_fmt``),
so a prefer-dynamic executable never "embeds" alloc. Legacy names count only as anchors of
std/core/alloc, under the file's own crate identity, or later, in :mod:`elfdeps.rust.detect`, as
identical exported names in several objects (``legacy_exports``).

Public API: :func:`rust_facts`, :func:`rust_imports`, :func:`rust_defines`, :class:`Kind`,
:class:`RustFacts`, :class:`Imports`, :class:`Defines`, :class:`CrateCode`, :class:`Static`,
:class:`LegacyExport`, :data:`RUNTIME_CRATES`, :data:`SHARED_SYSROOT_CRATES`, :data:`SYSROOT_CRATES`,
:data:`SYMTAB_KINDS`.
"""

from __future__ import annotations

from elfdeps.elf import constants as C
from elfdeps.elf.symbols import is_exported
from elfdeps.facts import TYPE_CHECKING, Fact, Symbolic
from elfdeps.rust.mangling import Crate, MangledName, Scheme, looks_mangled, parse
from elfdeps.rust.metadata import RustMarkers, read_markers
from elfdeps.rust.symtabs import RawSymbol, dynsym, exports_mangled_names, symtab

if TYPE_CHECKING:
    from collections.abc import Mapping

    from elfdeps.elf.reader import ElfFile

__all__ = [
    "RUNTIME_CRATES",
    "SHARED_SYSROOT_CRATES",
    "SYMTAB_KINDS",
    "SYSROOT_CRATES",
    "CrateCode",
    "Defines",
    "Imports",
    "Kind",
    "LegacyExport",
    "RustFacts",
    "Static",
    "mentions_crate",
    "rust_defines",
    "rust_facts",
    "rust_imports",
]

# The crates a toolchain's std is built from (library/ of rust-lang/rust, 1.95), plus rustc's internal
# pseudo-crate: their code is std's, and their duplication is part of the std problem (rust.md §3.2).
# RUNTIME_CRATES exist only as std's; the SHARED ones are also ordinary crates.io crates that user
# code depends on (a user's libc is not std's libc: see elfdeps.rust.detect).
RUNTIME_CRATES = frozenset(
    {
        b"std",
        b"core",
        b"alloc",
        b"__rustc",
        b"compiler_builtins",
        b"unwind",
        b"panic_unwind",
        b"panic_abort",
        b"std_detect",
        b"rustc_std_workspace_core",
        b"rustc_std_workspace_alloc",
        b"rustc_std_workspace_std",
        b"profiler_builtins",
        b"proc_macro",
        b"test",
    }
)
SHARED_SYSROOT_CRATES = frozenset(
    {
        b"libc",
        b"hashbrown",
        b"rustc_demangle",
        b"cfg_if",
        b"addr2line",
        b"gimli",
        b"object",
        b"memchr",
        b"miniz_oxide",
        b"adler",
        b"adler2",
        b"getopts",
        b"unicode_width",
    }
)
SYSROOT_CRATES = RUNTIME_CRATES | SHARED_SYSROOT_CRATES
# v0 anchors of an embedded runtime (rust.md §1.4): the panic handler every std-embedding artefact
# defines, and core's panic entry point; (owner crate, last identifiers as mangled).
V0_ANCHORS = ((b"__rustc", b"17rust_begin_unwind"), (b"core", b"9panicking9panic_fmt"))
# Non-generic items that exist only where the crate's own code is (rust.md §1.4), as legacy segments.
LEGACY_ANCHORS = {
    (b"std", b"rt", b"lang_start_internal"): b"std",
    (b"std", b"io", b"stdio", b"_print"): b"std",
    (b"std", b"panicking", b"begin_panic_handler"): b"std",
    (b"std", b"panicking", b"rust_panic_with_hook"): b"std",
    (b"core", b"panicking", b"panic_fmt"): b"core",
    (b"core", b"fmt", b"write"): b"core",
    (b"alloc", b"raw_vec", b"handle_error"): b"alloc",
    (b"alloc", b"raw_vec", b"capacity_overflow"): b"alloc",
    (b"alloc", b"alloc", b"handle_alloc_error"): b"alloc",
}
PT_GNU_RELRO = 0x6474E552
PF_W = 0x2
_ATTRIBUTE = "_elfdeps_rust"  # the memo's slot in an ElfFile's __dict__


class Kind(Symbolic):
    """What kind of Rust artefact a file is (rust.md §2.2)."""

    RUST_DYLIB = "rust-dylib"  # crate-type dylib: .rustc + rust_metadata_*; exports its crates' code
    TOOLCHAIN_STD = "toolchain-std"  # a toolchain's libstd-<hash>.so (rust_metadata_std_*, stub metadata)
    CDYLIB = "cdylib"  # Rust code without Rust metadata in a shared library (cdylib, or a staticlib inside)
    PROC_MACRO = "proc-macro"
    RUST_EXECUTABLE = "rust-executable"
    NOT_RUST = "not-rust"


# The kinds whose Rust code is private: their .symtab is read (see the module docstring).
SYMTAB_KINDS = frozenset({Kind.CDYLIB, Kind.RUST_EXECUTABLE, Kind.PROC_MACRO})


class RustFacts(Fact):
    kind: Kind
    crate: Crate | None  # identity of a dylib / proc-macro: rust_metadata_<name>_<StableCrateId>
    versions: tuple[bytes, ...]  # rustc releases named by .comment and .rustc ("1.95.0 (59807616e …)")
    markers: RustMarkers

    @property
    def is_rust(self) -> bool:
        return self.kind is not Kind.NOT_RUST


class Static(Fact):
    """A named data object in writable, non-RELRO memory (or thread-local): per-copy mutable state."""

    name: bytes
    exported: bool


class CrateCode(Fact):
    """One crate build's own code in one object: non-generic definitions and statics."""

    exported: int  # in .dynsym, able to bind (global/weak, default/protected visibility)
    private: int  # local or hidden (.symtab, or hidden .dynsym entries)
    statics: tuple[Static, ...]


class LegacyExport(Fact):
    crate: bytes  # the name's first segment
    static: bool  # a mutable static (or thread-local)


class Defines(Fact):
    crates: Mapping[Crate, CrateCode]
    legacy_exports: Mapping[bytes, LegacyExport]  # exported legacy names of non-sysroot crates (§6.3)
    read_symtab: bool  # whether .symtab was consulted (see the module docstring)
    unparsed: int  # names that look Rust-mangled but do not parse
    runtime: bool  # the object embeds a Rust runtime: it defines an anchor (panic handler, core's panic_fmt)

    def legacy_crate_names(self) -> frozenset[bytes]:
        return frozenset(export.crate for export in self.legacy_exports.values())


class Imports(Fact):
    crates: Mapping[Crate, tuple[bytes, ...]]  # crate build -> its undefined names this object references
    unparsed: int

    def names(self, crate: Crate) -> tuple[bytes, ...]:
        return self.crates.get(crate, ())


# -- memo -----------------------------------------------------------------------------------------


def _slot(elf: ElfFile) -> dict[str, object]:
    """This module's memo on the run's ElfFile (parsed once per run, dropped with the run)."""
    slot = elf.__dict__.get(_ATTRIBUTE)
    if not isinstance(slot, dict):
        slot = elf.__dict__[_ATTRIBUTE] = {}
    return slot


# -- kind, versions, identity ---------------------------------------------------------------------


def rust_facts(elf: ElfFile) -> RustFacts:
    """Kind, rustc releases and identity of ``elf`` (cheap; memoised on the ElfFile)."""
    slot = _slot(elf)
    known = slot.get("facts")
    if isinstance(known, RustFacts):
        return known
    markers = read_markers(elf)
    facts = RustFacts(_kind(elf, markers), markers.metadata_crate, markers.versions, markers)
    slot["facts"] = facts
    return facts


def _is_executable(elf: ElfFile) -> bool:
    return elf.interpreter is not None or elf.e_type == C.ET_EXEC or (elf.dynamic is not None and elf.dynamic.is_pie)


def _kind(elf: ElfFile, markers: RustMarkers) -> Kind:
    rustc = markers.rustc
    if markers.metadata_crate is not None or rustc is not None:
        if markers.proc_macro_decls or (rustc is not None and rustc.is_proc_macro):
            return Kind.PROC_MACRO
        if markers.metadata_crate is not None and markers.metadata_crate.name == b"std":
            return Kind.TOOLCHAIN_STD
        if markers.metadata_crate is not None or not _is_executable(elf):
            return Kind.RUST_DYLIB
    if not (markers.comment_versions or markers.commits or rustc is not None or exports_mangled_names(elf)):
        return Kind.NOT_RUST
    return Kind.RUST_EXECUTABLE if _is_executable(elf) else Kind.CDYLIB


# -- imports --------------------------------------------------------------------------------------


def rust_imports(elf: ElfFile) -> Imports:
    """Undefined Rust names of ``.dynsym``, per crate build expected to define them (memoised)."""
    slot = _slot(elf)
    known = slot.get("imports")
    if isinstance(known, Imports):
        return known
    crates: dict[Crate, list[bytes]] = {}
    unparsed = 0
    memo: dict[bytes, Crate | None] = {}
    for symbol in dynsym(elf, defined=False):
        parsed = parse(symbol.name, memo)
        if parsed is None:
            unparsed += looks_mangled(symbol.name)
            continue
        crate = parsed.compiled_in
        if crate is not None:
            crates.setdefault(crate, []).append(symbol.name)
    imports = Imports({crate: tuple(sorted(set(names))) for crate, names in crates.items()}, unparsed)
    slot["imports"] = imports
    return imports


# -- definitions ----------------------------------------------------------------------------------


def rust_defines(elf: ElfFile) -> Defines:
    """Per crate build, the object's own non-generic definitions and statics (memoised)."""
    slot = _slot(elf)
    known = slot.get("defines")
    if isinstance(known, Defines):
        return known
    facts = rust_facts(elf)
    imported = frozenset(rust_imports(elf).crates)
    read_symtab = facts.kind in SYMTAB_KINDS
    builder = _DefinesBuilder(elf, facts.crate, imported)
    if facts.is_rust or exports_mangled_names(elf):
        for symbol in dynsym(elf, defined=True):
            builder.add(symbol, from_symtab=False)
        if read_symtab:
            for symbol in symtab(elf):
                builder.add(symbol, from_symtab=True)
    defines = builder.result(read_symtab)
    slot["defines"] = defines
    return defines


class _Counts:
    __slots__ = ("exported", "private", "statics")

    def __init__(self) -> None:
        self.exported = 0
        self.private = 0
        self.statics: dict[bytes, bool] = {}


class _DefinesBuilder:
    def __init__(self, elf: ElfFile, identity: Crate | None, imported: frozenset[Crate]) -> None:
        self.elf = elf
        self.identity = identity
        self.imported = imported
        self.counts: dict[Crate, _Counts] = {}
        self.legacy: dict[bytes, LegacyExport] = {}
        self.unparsed = 0
        self.runtime = False
        self.seen: set[bytes] = set()  # names already counted (.symtab repeats .dynsym)
        self.memo: dict[bytes, Crate | None] = {}
        self.mutable = _mutable_ranges(elf)

    def add(self, symbol: RawSymbol, *, from_symtab: bool) -> None:
        if symbol.name in self.seen:
            return
        bind, visibility, kind = symbol.info >> 4, symbol.other & 3, symbol.info & 0xF
        # A .symtab name .dynsym did not show is private whatever its binding: an executable's GLOBAL
        # symbols are not exported (no -rdynamic), and a library's exports were all in .dynsym.
        exported = not from_symtab and is_exported(bind, visibility)
        self.seen.add(symbol.name)
        parsed = parse(symbol.name, self.memo)
        if parsed is None:
            self.unparsed += looks_mangled(symbol.name)
            return
        static = kind == C.STT_TLS or (kind == C.STT_OBJECT and self._is_mutable(symbol.value))
        crate = self._attribute(parsed, symbol.name, exported, static)
        if crate is None or crate in self.imported:
            return
        counts = self.counts.get(crate)
        if counts is None:
            counts = self.counts[crate] = _Counts()
        if exported:
            counts.exported += 1
        else:
            counts.private += 1
        if static:
            counts.statics[symbol.name] = exported

    def _attribute(self, parsed: MangledName, name: bytes, exported: bool, static: bool) -> Crate | None:
        owner = parsed.owner
        if parsed.scheme is Scheme.V0:
            if parsed.instantiating is not None or owner is None:
                return None
            if not self.runtime and owner.name in (b"core", b"__rustc"):
                base = name.split(b".", 1)[0].split(b"$", 1)[0]
                self.runtime = any(owner.name == crate and base.endswith(tail) for crate, tail in V0_ANCHORS)
            return owner
        if owner is None:
            return None
        anchor = LEGACY_ANCHORS.get(parsed.segments)
        if anchor is not None:
            self.runtime = True
            return Crate(anchor, None)
        if owner.name in SYSROOT_CRATES:
            return None  # legacy core::/alloc:: names in user code are local monomorphisations (§6.4)
        if exported:
            self.legacy[name] = LegacyExport(owner.name, static)
        if self.identity is not None and owner.name == self.identity.name:
            return self.identity
        return None

    def _is_mutable(self, value: int) -> bool:
        return any(start <= value < end for start, end in self.mutable)

    def result(self, read_symtab: bool) -> Defines:
        """Without a runtime anchor, runtime crates' definitions are local copies (inlined functions of
        an upstream std), not an embedded runtime: they are dropped (rust.md §6.4)."""
        crates = {
            crate: CrateCode(
                counts.exported,
                counts.private,
                tuple(Static(name, exported) for name, exported in sorted(counts.statics.items())),
            )
            for crate, counts in self.counts.items()
            if self.runtime or crate.name not in RUNTIME_CRATES
        }
        return Defines(crates, self.legacy, read_symtab, self.unparsed, self.runtime)


def _mutable_ranges(elf: ElfFile) -> list[tuple[int, int]]:
    """Virtual address ranges of writable PT_LOAD memory, minus PT_GNU_RELRO (read-only after relocation)."""
    relro = [(seg.vaddr, seg.vaddr + seg.memsz) for seg in elf.segments if seg.type == PT_GNU_RELRO]
    ranges: list[tuple[int, int]] = []
    for seg in elf.segments:
        if seg.type != C.PT_LOAD or not seg.flags & PF_W:
            continue
        start, end = seg.vaddr, seg.vaddr + seg.memsz
        for relro_start, relro_end in relro:
            if relro_start <= start < relro_end:
                start = min(relro_end, end)
            if relro_start < end <= relro_end:
                end = max(relro_start, start)
        if start < end:
            ranges.append((start, end))
    return ranges


# -- crate names ----------------------------------------------------------------------------------


def mentions_crate(elf: ElfFile, name: bytes) -> bool:
    """Whether a crate name could be in one of the symbol names ``elf``'s definitions are read from (the
    dynamic string table, and ``.strtab`` for the kinds whose ``.symtab`` is read): v0 or legacy
    spelling, C-speed searches (memoised per name)."""
    slot = _slot(elf)
    known = slot.setdefault("mentions", {})
    assert isinstance(known, dict)
    if name not in known:
        known[name] = _mentions(elf, name, symtab=rust_facts(elf).kind in SYMTAB_KINDS)
    return bool(known[name])


def _mentions(elf: ElfFile, name: bytes, *, symtab: bool) -> bool:
    if not name.isascii() or not name.replace(b"_", b"a").isalnum():
        return True  # punycode: its mangled spelling differs; assume it may be there
    literals = {b"%d%s" % (len(name), name)}
    if name[:1] == b"_" or name[:1].isdigit():
        literals.add(b"%d_%s" % (len(name), name))
    ranges = []
    if elf.dynamic is not None:
        ranges.append(elf.string_table_bounds())
    if symtab:
        for section in elf.sections:
            if section.name == b".strtab":
                ranges.append((section.offset, min(section.offset + section.size, elf.size)))
    data = elf.data
    return any(data.find(literal, start, end) >= 0 for literal in literals for start, end in ranges)
