"""Rust toolchain and crate-identity markers of one ELF file, read without symbol-by-symbol work
(rust.md §2): the ``.rustc`` section header (METADATA_VERSION 10 as rustc 1.95 / 1.97-nightly write it:
rustc_metadata/src/rmeta/mod.rs ``METADATA_HEADER``, ``CrateHeader``), the exported
``rust_metadata_<crate>_<StableCrateId hex>`` symbol (rustc_metadata ``metadata_symbol_name``), the
``.comment`` ``rustc version …`` lines, the exported ``__rustc_proc_macro_decls_<hex>__`` of proc-macros,
and the ``/rustc/<commit>/library/{std,core,alloc}/`` panic-location strings that survive stripping.

Only the magic, the version byte and the rustc version string at ``blob[16]`` are relied on. The
CrateHeader (target, Svh, name, is_proc_macro_crate, is_stub) is stable per METADATA_VERSION; the
CrateRoot's ``extra_filename`` and ``stable_crate_id`` right after it are not, so they are returned only
when the id agrees with the ``rust_metadata_*`` symbol. Any other layout is reported as "format vN (not
decoded)". Hostile input: every length is checked against the section, every string is bounded;
ElfFormatError (from the reader) at worst, never another exception.

Public API: :func:`read_markers` -> :class:`RustMarkers`; :class:`RustcSection`; :func:`rustc_release`;
:func:`crate_versions` (registry source paths); :func:`readonly_ranges`.
"""

from __future__ import annotations

from elfdeps.elf import constants as C
from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.rust.mangling import Crate
from elfdeps.rust.names import is_lower_hex

if TYPE_CHECKING:
    from collections.abc import Iterator

    from elfdeps.elf.reader import ElfFile

__all__ = ["RustMarkers", "RustcSection", "crate_versions", "read_markers", "readonly_ranges", "rustc_release"]

METADATA_HEADER = b"rust\0\0\0"
DECODED_VERSIONS = frozenset({10})  # METADATA_VERSION values whose layout this module knows
STR_SENTINEL = 0xC1
MAX_STRING = 4096  # a metadata string longer than this is not a name or a version
_COMMENT_PREFIX = b"rustc version "
# The markers' spellings, matched by hand after a C-speed find of their literal start (importing the
# regular-expression machinery cost an audit more than these few matches):
# /rustc/<40 hex>/library/(std|core|alloc)/, \0rust_metadata_<[A-Za-z0-9_]+>_<1-16 hex>\0 and
# \0__rustc_proc_macro_decls_<1-16 hex>__\0.
_LIBRARY_PREFIX = b"/rustc/"
_LIBRARY_NAMES = (b"std/", b"core/", b"alloc/")
_METADATA_PREFIX = b"\0rust_metadata_"
_DECLS_PREFIX = b"\0__rustc_proc_macro_decls_"
_MAX_PATH_HITS = 4096  # panic-location strings examined per file (a real libstd has a few hundred)
PF_X, PF_W = 0x1, 0x2
SHF_ALLOC = 0x2


class RustcSection(Fact):
    """What the ``.rustc`` section's header says."""

    format_version: int  # METADATA_VERSION (byte 7 of the magic)
    decoded: bool  # the modern layout checked out (inner magic, length)
    rustc_version: bytes | None  # "rustc 1.95.0 (59807616e 2026-04-14)"
    is_stub: bool | None  # the sysroot libstd carries stub metadata (rust#137535)
    is_proc_macro: bool | None
    crate_name: bytes | None  # CrateHeader's name when spelled out (std, core, rustc_driver are predefined)
    extra_filename: bytes | None  # cargo's "-<hash>" file-name suffix; only when cross-checked
    stable_crate_id: int | None  # only when it agrees with the rust_metadata_* symbol
    size: int

    @property
    def description(self) -> str:
        if self.decoded:
            return f"format v{self.format_version}"
        return f"format v{self.format_version} (not decoded)"


class RustMarkers(Fact):
    """Every Rust marker of one file that needs no symbol parsing."""

    rustc: RustcSection | None
    metadata_crate: Crate | None  # from the exported rust_metadata_<crate>_<hex> symbol
    proc_macro_decls: bool  # exports __rustc_proc_macro_decls_<hex>__
    comment_versions: tuple[bytes, ...]  # "1.95.0 (59807616e 2026-04-14)" from .comment
    has_comment: bool  # a .comment section exists (its absence makes the other markers decisive)
    commits: tuple[bytes, ...]  # 40-hex rustc commits of /rustc/<commit>/library/... strings
    libraries: tuple[bytes, ...]  # which of std, core, alloc those strings name

    @property
    def versions(self) -> tuple[bytes, ...]:
        """The rustc releases the file names, normalised to "1.95.0 (59807616e 2026-04-14)"."""
        found = dict.fromkeys(self.comment_versions)
        if self.rustc is not None and self.rustc.rustc_version is not None:
            release = rustc_release(self.rustc.rustc_version)
            if release is not None:
                found[release] = None
        return tuple(found)


def rustc_release(version: bytes) -> bytes | None:
    """ "rustc 1.95.0 (…)" or "rustc version 1.95.0 (…)" -> b"1.95.0 (…)"; None if it is neither."""
    for prefix in (_COMMENT_PREFIX, b"rustc "):
        if version.startswith(prefix):
            release = version[len(prefix) :].strip()
            return release or None
    return None


def read_markers(elf: ElfFile, *, scan_strings: bool | None = None) -> RustMarkers:
    """The Rust markers of ``elf``.

    ``scan_strings``: look for ``/rustc/<commit>/library/`` strings in the read-only data (C-speed
    regex over the mapped bytes). By default only when the file has other Rust markers or no
    ``.comment`` at all (a stripped file whose other markers are gone); a C library with a plain
    ``.comment`` is not scanned.
    """
    comment = elf.comment
    versions = tuple(
        dict.fromkeys(
            release
            for line in comment
            if line.startswith(_COMMENT_PREFIX)
            for release in [rustc_release(line)]
            if release
        )
    )
    has_comment = any(section.name == b".comment" for section in elf.sections)
    raw = elf.section_bytes(b".rustc")
    # rustc exports rust_metadata_* to name the .rustc section, in dylibs and proc-macros only: a file
    # whose section table lists no .rustc has neither marker, and its string table is not searched
    # (libLLVM's 2.6 MB: 2 ms). Without a section table, both are searched for.
    searched = raw is not None or not elf.sections
    metadata_crate = _exported_crate(elf) if searched else None
    rustc = _read_rustc(raw, metadata_crate) if raw is not None else None
    # A decoded header says whether the crate is a proc-macro; the decls symbol is looked for only
    # where it may say more (librustc_driver: not a proc-macro, 0.8 ms not spent).
    proc_macro_decls = searched and (rustc is None or rustc.is_proc_macro is not False) and _exports_decls(elf)
    if scan_strings is None:
        scan_strings = bool(versions or rustc or metadata_crate or proc_macro_decls or not has_comment)
    commits, libraries = _library_paths(elf) if scan_strings else ((), ())
    return RustMarkers(rustc, metadata_crate, proc_macro_decls, versions, has_comment, commits, libraries)


# -- exported marker symbols ----------------------------------------------------------------------


def _dynamic_strings(elf: ElfFile) -> tuple[int, int] | None:
    """The dynamic string table's bounds, from the NUL before its first string; None without one."""
    if elf.dynamic is None:
        return None
    try:
        start, end = elf.string_table_bounds()
    except ElfFormatError:  # no dynamic string table: nothing is exported by name
        return None
    return max(start - 1, 0), end


def _names_after(data: bytes, prefix: bytes, bounds: tuple[int, int]) -> Iterator[tuple[bytes, bytes]]:
    """(whole name, what follows ``prefix``) of each string of the table that starts with ``prefix``
    (which starts with NUL): ``bytes.find`` skips librustc_driver's 2.5 MB in about a millisecond."""
    start, end = bounds
    at = data.find(prefix, start, end)
    while at >= 0:
        stop = data.find(b"\0", at + len(prefix), end)
        if stop < 0:
            return
        yield data[at + 1 : stop], data[at + len(prefix) : stop]
        at = data.find(prefix, stop, end)


def _exported_crate(elf: ElfFile) -> Crate | None:
    """The crate of the first defined ``rust_metadata_<crate>_<hex>`` in .dynsym, confirmed through the
    hash table (the section index cannot be trusted: BOLT-rewritten files point it past the section
    table)."""
    bounds = _dynamic_strings(elf)
    if bounds is None:
        return None
    for name, rest in _names_after(elf.data, _METADATA_PREFIX, bounds):
        crate, _, digits = rest.rpartition(b"_")
        if not crate or not 1 <= len(digits) <= 16 or not is_lower_hex(digits):
            continue
        if crate.replace(b"_", b"a").isalnum() and _defined(elf, name):
            return Crate(crate, int(digits, 16))
    return None


def _exports_decls(elf: ElfFile) -> bool:
    """Whether .dynsym defines ``__rustc_proc_macro_decls_<hex>__``."""
    bounds = _dynamic_strings(elf)
    if bounds is None:
        return False
    for name, rest in _names_after(elf.data, _DECLS_PREFIX, bounds):
        digits = rest[:-2]
        if rest.endswith(b"__") and 1 <= len(digits) <= 16 and is_lower_hex(digits) and _defined(elf, name):
            return True
    return False


def _defined(elf: ElfFile, name: bytes) -> bool:
    table = elf.symbol_table
    return any(table.symbol(index).shndx != C.SHN_UNDEF for index in table.find(name))


# -- the .rustc section ---------------------------------------------------------------------------


class _Truncated(Exception):
    """A length or string runs past the end of the metadata blob."""


def _leb128(blob: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(blob) or shift > 63:
            raise _Truncated
        byte = blob[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _string(blob: bytes, pos: int) -> tuple[bytes, int]:
    """rustc's encoded str: LEB128 length, the bytes, STR_SENTINEL."""
    length, pos = _leb128(blob, pos)
    end = pos + length
    if length > MAX_STRING or end >= len(blob) or blob[end] != STR_SENTINEL:
        raise _Truncated
    return blob[pos:end], end + 1


def _read_rustc(raw: bytes, metadata_crate: Crate | None) -> RustcSection | None:
    if len(raw) < 8 or not raw.startswith(METADATA_HEADER):
        return None
    version = raw[7]
    undecoded = RustcSection(version, False, None, None, None, None, None, None, len(raw))
    if version not in DECODED_VERSIONS or len(raw) < 16:
        return undecoded
    length = int.from_bytes(raw[8:16], "little")
    if length > len(raw) - 16 or length < 16:
        return undecoded
    blob = raw[16 : 16 + length]
    if blob[:8] != raw[:8]:
        return undecoded
    try:
        rustc_version, _ = _string(blob, 16)
    except _Truncated:
        return undecoded
    header = _crate_header(blob, metadata_crate)
    if header is None:
        return RustcSection(version, True, rustc_version, None, None, None, None, None, len(raw))
    return RustcSection(version, True, rustc_version, *header, len(raw))


def _crate_header(
    blob: bytes, metadata_crate: Crate | None
) -> tuple[bool, bool, bytes | None, bytes | None, int | None] | None:
    """(is_stub, is_proc_macro, name, extra_filename, stable_crate_id) from the CrateHeader at root_pos."""
    root = int.from_bytes(blob[8:16], "little")
    if not 16 <= root < len(blob):
        return None
    try:
        if blob[root] != 0:  # TargetTuple::TargetTuple(String); a JSON target spec is not decoded
            return None
        _target, pos = _string(blob, root + 1)
        pos += 16  # Svh: 16 raw bytes
        if pos >= len(blob):
            return None
        tag = blob[pos]
        name: bytes | None = None
        if tag == 0:  # SYMBOL_STR
            name, pos = _string(blob, pos + 1)
        elif tag == 1:  # SYMBOL_OFFSET: the position of the same string written earlier
            offset, pos = _leb128(blob, pos + 1)
            if offset >= pos:
                return None
            name, _ = _string(blob, offset)
        elif tag == 2:  # SYMBOL_PREDEFINED: an index into rustc's own symbol table (std, core, …)
            _index, pos = _leb128(blob, pos + 1)
        else:
            return None
        if pos + 2 > len(blob) or blob[pos] > 1 or blob[pos + 1] > 1:
            return None
        is_proc_macro, is_stub = bool(blob[pos]), bool(blob[pos + 1])
        pos += 2
    except _Truncated:
        return None
    extra_filename, scid = _cross_checked_root(blob, pos, metadata_crate, name, is_stub)
    return is_stub, is_proc_macro, name, extra_filename, scid


def _cross_checked_root(
    blob: bytes, pos: int, metadata_crate: Crate | None, name: bytes | None, is_stub: bool
) -> tuple[bytes | None, int | None]:
    """CrateRoot's extra_filename and stable_crate_id, kept only when they agree with the symbol."""
    if metadata_crate is None or is_stub or (name is not None and name != metadata_crate.name):
        return None, None
    try:
        extra_filename, pos = _string(blob, pos)
    except _Truncated:
        return None, None
    if pos + 8 > len(blob):
        return None, None
    scid = int.from_bytes(blob[pos : pos + 8], "little")
    if scid != metadata_crate.scid:
        return None, None
    return extra_filename, scid


# -- panic-location strings -----------------------------------------------------------------------


def readonly_ranges(elf: ElfFile) -> list[tuple[int, int]]:
    """File ranges of read-only data: the ``.rodata*`` sections, else the non-writable, non-executable
    PT_LOAD segments (a file without section headers)."""
    ranges = [
        (section.offset, section.offset + section.size)
        for section in elf.sections
        if b".rodata" in section.name and section.type != C.SHT_NOBITS and section.flags & SHF_ALLOC
    ]
    if not ranges:  # no section headers: the mapped, non-writable, non-executable segments
        ranges = [
            (seg.offset, seg.offset + seg.filesz)
            for seg in elf.segments
            if seg.type == C.PT_LOAD and not seg.flags & (PF_X | PF_W)
        ]
    size = elf.size
    return [(max(0, min(start, size)), max(0, min(end, size))) for start, end in ranges]


def crate_versions(elf: ElfFile, name: bytes) -> tuple[bytes, ...]:
    """Versions of crate ``name`` the file reveals: cargo registry source paths in panic locations
    (``…/registry/src/<index>/<package>-<version>/``), the only place a version survives (rust.md §8)."""
    import re  # only here: the audit's other Rust markers are matched without it

    package = re.escape(name).replace(b"_", b"[-_]")
    pattern = re.compile(
        rb"/registry/src/[^/\0]{1,200}/" + package + rb"-([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]{0,40})/"
    )
    found: dict[bytes, None] = {}
    hits = 0
    for start, end in readonly_ranges(elf):
        for match in pattern.finditer(elf.data, start, end):
            found[match.group(1)] = None
            hits += 1
            if hits >= _MAX_PATH_HITS:
                return tuple(sorted(found))
    return tuple(sorted(found))


def _library_paths(elf: ElfFile) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """Commits and library names of ``/rustc/<commit>/library/<lib>/`` strings in read-only data."""
    commits: dict[bytes, None] = {}
    libraries: dict[bytes, None] = {}
    hits = 0
    data = elf.data
    for start, end in readonly_ranges(elf):
        at = data.find(_LIBRARY_PREFIX, start, end)
        while at >= 0:
            found = _library_path(data, at + len(_LIBRARY_PREFIX), end)
            if found is not None:
                commits[found[0]] = None
                libraries[found[1]] = None
                hits += 1
                if hits >= _MAX_PATH_HITS or len(libraries) == 3:
                    break
            at = data.find(_LIBRARY_PREFIX, at + 1, end)
        if hits >= _MAX_PATH_HITS:
            break
    return tuple(commits), tuple(sorted(libraries))


def _library_path(data: bytes, at: int, end: int) -> tuple[bytes, bytes] | None:
    """(commit, library) of ``<40 hex>/library/<std|core|alloc>/`` at ``at``, within ``end``."""
    commit = data[at : min(at + 40, end)]
    if len(commit) != 40 or not is_lower_hex(commit) or data[at + 40 : min(at + 49, end)] != b"/library/":
        return None
    rest = data[at + 49 : min(at + 55, end)]
    for library in _LIBRARY_NAMES:
        if rest.startswith(library):
            return commit, library[:-1]
    return None
