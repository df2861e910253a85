"""Reads /etc/ld.so.cache in its binary formats and answers a lookup as ld.so does.

Mirrors glibc sysdeps/generic/dl-cache.h (formats) and elf/dl-cache.c:search_cache (lookup):
new format "glibc-ld.so.cache1.1", old "ld.so-1.7.0", and the compat file that hides a new block
inside an old one; the glibc-hwcaps extension section; only entries whose flags the target's ld.so
accepts (x86-64: exactly 0x0303) are visible. See loader.md §6.
"""

from __future__ import annotations

import struct

from elfdeps.facts import TYPE_CHECKING, Fact
from elfdeps.loader.fs import RootFS

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["CacheEntry", "LdCache", "parse_ld_cache", "read_ld_cache"]

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
EXTENSION_MAGIC = 0xEAA42174
EXTENSION_TAG_HWCAPS = 1
HWCAP_EXTENSION = 1 << 62
ISA_LEVEL_MASK = 0x3FF


class CacheEntry(Fact):
    flags: int
    key: bytes
    path: bytes
    hwcap: int
    hwcaps_subdir: str | None  # glibc-hwcaps entry: its subdirectory name


class LdCache:
    """A parsed cache. Entries are decoded on demand: a lookup finds its key's string offsets with one
    ``bytes.find`` over the string table (ldconfig shares string suffixes, so a key may start inside a
    path) and decodes only the entries with those keys. A whole-table decode cost more than the rest
    of ``elfdeps list`` together.
    """

    __slots__ = ("_base", "_by_key_offset", "_data", "_entries", "_hwcaps_names", "generator")

    def __init__(
        self,
        data: bytes = b"",
        base: int = 0,
        raw_entries: Iterable[tuple[int, int, int, int, int]] = (),
        hwcaps_names: tuple[str, ...] = (),
        generator: str | None = None,
    ) -> None:
        self._data = data
        self._base = base  # string offsets are relative to the header that holds them
        self._hwcaps_names = hwcaps_names
        self._by_key_offset: dict[int, list[tuple[int, int, int, int, int]]] = {}
        for raw in raw_entries:
            self._by_key_offset.setdefault(raw[1], []).append(raw)
        self.generator = generator
        self._entries: dict[bytes, tuple[CacheEntry, ...]] = {}  # per name: an audit asks for libc.so.6 900 times

    def entries_for(self, name: bytes) -> tuple[CacheEntry, ...]:
        """Every entry whose key is ``name``, in file order."""
        known = self._entries.get(name)
        if known is None:
            known = self._entries[name] = self._find_entries(name)
        return known

    def _find_entries(self, name: bytes) -> tuple[CacheEntry, ...]:
        found: list[tuple[int, int, int, int, int]] = []
        needle = name + b"\0"
        position = self._data.find(needle, self._base)
        while position >= 0:
            found += self._by_key_offset.get(position - self._base, ())
            position = self._data.find(needle, position + 1)
        found.sort(key=lambda raw: raw[4])
        return tuple(self._decode(raw) for raw in found)

    def _decode(self, raw: tuple[int, int, int, int, int]) -> CacheEntry:
        flags, key, value, hwcap = raw[:4]
        subdir = None
        if ((hwcap >> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32):
            index = hwcap & 0xFFFFFFFF
            subdir = self._hwcaps_names[index] if index < len(self._hwcaps_names) else "?"
        data, base = self._data, self._base
        return CacheEntry(flags, _string(data, base + key), _string(data, base + value), hwcap, subdir)

    def lookup(
        self, name: bytes, accepted_flags: tuple[int, ...], active_hwcaps: tuple[str, ...], legacy: bool
    ) -> CacheEntry | None:
        """The entry ld.so would use for ``name`` (dl-cache.c:search_cache), or None."""
        best: CacheEntry | None = None
        best_priority = len(active_hwcaps)
        for entry in self.entries_for(name):
            if entry.flags not in accepted_flags:
                continue
            if entry.hwcaps_subdir is not None:
                if entry.hwcaps_subdir in active_hwcaps:
                    priority = active_hwcaps.index(entry.hwcaps_subdir)
                    if priority < best_priority:
                        best, best_priority = entry, priority
                continue
            if best is not None:
                return best
            # Legacy-hwcap entries: glibc >= 2.37 skips them all; 2.36 accepts only the platform-neutral
            # "tls" bit here (a documented simplification: Debian's ldconfig writes none).
            if entry.hwcap and not (legacy and entry.hwcap == 1 << 63):
                continue
            return entry
        return best


def _string(data: bytes, offset: int) -> bytes:
    end = data.find(b"\0", offset)
    return data[offset:end] if end >= 0 else data[offset:]


def _extension(data: bytes, extension_offset: int, order: str) -> tuple[tuple[str, ...], str | None]:
    """The glibc-hwcaps names and the generator string, all or nothing as sysdeps/generic/dl-cache.h
    cache_extension_load and cache_extension_verify accept them: a misaligned or truncated directory,
    a wrong magic, or any section reaching past the end of the file drops every section."""
    if not extension_offset or extension_offset % 4 or extension_offset + 8 > len(data):
        return (), None
    magic, count = struct.unpack_from(order + "II", data, extension_offset)
    if magic != EXTENSION_MAGIC or extension_offset + 8 + 16 * count > len(data):
        return (), None
    sections: dict[int, tuple[int, int]] = {}
    for index in range(count):
        tag, _flags, offset, size = struct.unpack_from(order + "IIII", data, extension_offset + 8 + 16 * index)
        if offset + size > len(data):
            return (), None
        sections[tag] = (offset, size)
    generator = None
    if 0 in sections:
        offset, size = sections[0]
        generator = data[offset : offset + size].decode(errors="replace")
    names: list[str] = []
    offset, size = sections.get(EXTENSION_TAG_HWCAPS, (0, 0))
    if size and not offset % 4 and not size % 4:
        # dl-cache.c glibc_hwcaps_compare reads each name at its offset from the start of the file, not
        # from the new header: in a compat file the two differ and ld.so sees other bytes than ldconfig meant.
        for (name_offset,) in struct.iter_unpack(order + "I", data[offset : offset + size]):
            names.append(_string(data, name_offset).decode(errors="replace") if name_offset < len(data) else "?")
    return tuple(names), generator


def _parse_new(data: bytes, base: int) -> LdCache | None:
    if len(data) < base + 48:
        return None
    endian_flag = data[base + 28]
    order = ">" if endian_flag == 3 else "<"
    nlibs, _len_strings = struct.unpack_from(order + "II", data, base + 20)
    (extension_offset,) = struct.unpack_from(order + "I", data, base + 32)
    if base + 48 + nlibs * 24 > len(data):
        return None
    hwcaps_names, generator = _extension(data, extension_offset, order)
    raw = data[base + 48 : base + 48 + nlibs * 24]
    entries = [
        (flags, key, value, hwcap, position)
        for position, (flags, key, value, _osversion, hwcap) in enumerate(struct.iter_unpack(order + "iIIIQ", raw))
    ]
    return LdCache(data, base, entries, tuple(hwcaps_names), generator)


def _parse_old(data: bytes) -> LdCache | None:
    (nlibs,) = struct.unpack_from("<I", data, 12)
    table = 16 + nlibs * 12
    if table > len(data):
        return None
    new_base = (table + 7) & ~7  # a compat file hides a complete new-format block here
    if data[new_base : new_base + len(NEW_MAGIC)] == NEW_MAGIC:
        return _parse_new(data, new_base)
    entries = [
        (flags, key, value, 0, position)
        for position, (flags, key, value) in enumerate(struct.iter_unpack("<iII", data[16:table]))
    ]
    return LdCache(data, table, entries)


def parse_ld_cache(data: bytes) -> LdCache | None:
    """Parse cache bytes; None for anything ld.so would not use."""
    try:
        if data.startswith(NEW_MAGIC):
            return _parse_new(data, 0)
        if data.startswith(OLD_MAGIC) and len(data) >= 16:
            return _parse_old(data)
    except (struct.error, IndexError):
        return None
    return None


def read_ld_cache(fs: RootFS, path: str) -> LdCache | None:
    data = fs.read_bytes(path, limit=64 << 20)
    return parse_ld_cache(data) if data else None
