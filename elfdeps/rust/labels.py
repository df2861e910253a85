"""Which loaded objects are Rust, told cheaply enough for ``tree`` and ``list``: a C program never
imports the rest of the Rust stage (nor ``re``), and a Rust object costs only
:func:`elfdeps.rust.objects.rust_facts` (kind, identity, rustc releases; no symbol parsing).

:func:`looks_rust` is a cheap necessary condition (rust.md §2.2): a SONAME or DT_NEEDED entry
``libstd-<hash>.so`` (the toolchain's libstd, and every prefer-dynamic artefact), an exported
``rust_metadata_*`` name (every Rust dylib and proc-macro: a C-speed search of the dynamic string
table), a ``rustc version`` line in ``.comment`` (any Rust artefact rustc linked), a ``.rustc``
section. Only a file that passes is given to ``rust_facts``, which decides. A cdylib or a Rust
executable whose ``.comment`` was stripped (Debian strips it from every package) is therefore not
labelled: scanning its read-only data for rustc's panic-location strings would cost every C library
of a tree a pass over its ``.rodata``. ``crates`` and ``audit`` read such files fully.

Public API: :func:`looks_rust`, :func:`rust_labels`.
"""

from __future__ import annotations

from elfdeps.errors import ElfFormatError
from elfdeps.facts import TYPE_CHECKING

if TYPE_CHECKING:
    from elfdeps.elf.cache import FileCache
    from elfdeps.elf.reader import ElfFile
    from elfdeps.model import LoadResult
    from elfdeps.rust.objects import RustFacts

__all__ = ["looks_rust", "rust_labels"]

_COMMENT = b"rustc version "


def _is_libstd(name: bytes) -> bool:
    """``libstd-<16 hex>.so`` (matched without ``re``, which ``tree`` must not import)."""
    base = name.rsplit(b"/", 1)[-1]
    return (
        len(base) == 26
        and base.startswith(b"libstd-")
        and base.endswith(b".so")
        and all(char in b"0123456789abcdef" for char in base[7:-3])
    )


def looks_rust(elf: ElfFile) -> bool:
    """Whether ``elf`` may be a Rust artefact (see the module docstring); False for a C file, cheaply:
    the dynamic section's own facts first, then the ``.comment`` strings (which cost the section headers)."""
    dynamic = elf.dynamic
    if dynamic is not None:
        if any(_is_libstd(name) for name in (dynamic.soname or b"", *dynamic.needed)):
            return True
        try:
            start, end = elf.string_table_bounds()
        except ElfFormatError:
            start = end = 0
        if elf.data.find(b"\0rust_metadata_", max(start - 1, 0), end) >= 0:
            return True
    if any(line.startswith(_COMMENT) for line in elf.comment):
        return True
    return any(section.name == b".rustc" for section in elf.sections)


def rust_labels(result: LoadResult, files: FileCache) -> dict[int, RustFacts]:
    """The Rust facts of every loaded Rust object of ``result`` (by load-order index); ``{}`` for a C
    program, which then never imports :mod:`elfdeps.rust.objects`. Unreadable files are left out."""
    labels: dict[int, RustFacts] = {}
    for obj in result.objects:
        if not obj.found or obj.host_path is None:
            continue
        try:
            elf = files.elf(obj.host_path)
            if not looks_rust(elf):
                continue
            from elfdeps.rust.objects import rust_facts

            facts = rust_facts(elf)
        except ElfFormatError:  # tree and list report what the loader does; a bad file is not theirs
            continue
        if facts.is_rust:
            labels[obj.index] = facts
    return labels
