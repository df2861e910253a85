"""The explicit inputs of one loader emulation (STYLE.md §5): what the user's environment gives the
analysed program, and the facts of the target system (default dirs, $LIB, $PLATFORM, hwcaps, cache).

The CLI builds a ``LoaderEnv`` once; ``describe_target`` derives the ``TargetSystem`` from the analysed
file's class/machine and the (sys)root. Search code never reads ``os.environ``.
"""

from __future__ import annotations

import os

from elfdeps.elf import constants as C
from elfdeps.facts import Fact
from elfdeps.loader import hwcaps
from elfdeps.loader.fs import RootFS
from elfdeps.loader.ldcache import LdCache, read_ld_cache
from elfdeps.loader.ldconf import read_ld_so_conf
from elfdeps.model import LoadResult, SystemFacts

__all__ = ["LoaderEnv", "TargetCache", "TargetSystem", "describe_target"]


class LoaderEnv(Fact):
    """What the analysed program would be started with. ``None`` means "not set"."""

    ld_library_path: str | None = None
    preload: str | None = None
    root: str | None = None
    cwd: str = "/"
    secure: bool = False
    inhibit_cache: bool = False
    platform: str | None = None  # override of $PLATFORM
    lib: str | None = None  # override of $LIB
    default_dirs: tuple[str, ...] | None = None
    hwcaps_subdirs: tuple[str, ...] | None = None  # active glibc-hwcaps names, best first
    glibc_version: tuple[int, int] | None = None
    read_preload_file: bool = True  # /etc/ld.so.preload of the root


# (e_machine, ELF class) -> Debian multiarch tuple, default interpreter, ld.so.cache flags it accepts.
class _Abi(Fact):
    triple: str
    interpreter: str
    cache_flags: tuple[int, ...]
    lib64: bool


_ABIS: dict[tuple[int, int], _Abi] = {
    (C.EM_X86_64, 64): _Abi("x86_64-linux-gnu", "/lib64/ld-linux-x86-64.so.2", (0x0303,), True),
    (C.EM_X86_64, 32): _Abi("x86_64-linux-gnux32", "/libx32/ld-linux-x32.so.2", (0x0803,), False),
    (C.EM_386, 32): _Abi("i386-linux-gnu", "/lib/ld-linux.so.2", (0x0003, 0x0001), False),
    (C.EM_AARCH64, 64): _Abi("aarch64-linux-gnu", "/lib/ld-linux-aarch64.so.1", (0x0A03,), True),
    (40, 32): _Abi("arm-linux-gnueabihf", "/lib/ld-linux-armhf.so.3", (0x0903, 0x0003), False),
    (21, 64): _Abi("powerpc64le-linux-gnu", "/lib64/ld64.so.2", (0x0503,), True),
    (22, 64): _Abi("s390x-linux-gnu", "/lib/ld64.so.1", (0x0403,), True),
    (243, 64): _Abi("riscv64-linux-gnu", "/lib/ld-linux-riscv64-lp64d.so.1", (0x1003, 0x0F03), True),
}
_FALLBACK_ABI = _Abi("", "", (0x0003,), False)


class TargetSystem:
    """The system the analysed program runs on (the host, or a --root sysroot), as the loader sees
    it: plain values plus the live parts (its file system and ld.so.cache). ``facts()`` gives the
    plain values for results and reports."""

    __slots__ = (
        "_conf_dirs",
        "byte_order",
        "cache",
        "cache_flags",
        "cache_source",
        "default_dirs",
        "default_interpreter",
        "dst_lib",
        "elf_class",
        "fs",
        "glibc_version",
        "hwcaps_subdirs",
        "legacy_subdirs",
        "machine",
        "platform",
        "probe_prefixes",
    )

    def __init__(
        self,
        *,
        fs: RootFS,
        elf_class: int,
        machine: int,
        byte_order: str,
        default_dirs: tuple[str, ...],
        dst_lib: str,
        platform: str,
        hwcaps_subdirs: tuple[str, ...],
        legacy_subdirs: tuple[str, ...],
        default_interpreter: str,
        cache: LdCache | None,
        cache_source: str,
        cache_flags: tuple[int, ...],
        glibc_version: tuple[int, int] | None,
    ) -> None:
        self.fs = fs
        self.elf_class = elf_class  # 32 / 64
        self.machine = machine
        self.byte_order = byte_order
        self.default_dirs = default_dirs  # each ends in "/"
        self.dst_lib = dst_lib
        self.platform = platform
        self.hwcaps_subdirs = hwcaps_subdirs  # "glibc-hwcaps/x86-64-v3/" ... best first
        self.legacy_subdirs = legacy_subdirs  # glibc 2.36 only: "tls/x86_64/", ...
        self.default_interpreter = default_interpreter
        self.cache = cache
        self.cache_source = cache_source  # "/etc/ld.so.cache" or "none"
        self.cache_flags = cache_flags
        self.glibc_version = glibc_version
        # Subdirectory prefixes tried in every search directory, in order; "" is the directory itself.
        self.probe_prefixes = (*hwcaps_subdirs, *legacy_subdirs, "")
        self._conf_dirs: tuple[str, ...] | None = None

    @property
    def conf_dirs(self) -> tuple[str, ...]:
        """The ld.so.conf directories. ld.so never reads ld.so.conf: elfdeps does, on demand, to
        explain a library missing from a stale cache and to know what is a system directory."""
        if self._conf_dirs is None:
            self._conf_dirs = read_ld_so_conf(self.fs, "/etc/ld.so.conf")
        return self._conf_dirs

    def facts(self) -> SystemFacts:
        """The plain values of this target, for results and reports."""
        return SystemFacts(
            root=self.fs.root,
            default_dirs=self.default_dirs,
            dst_lib=self.dst_lib,
            platform=self.platform,
            hwcaps=tuple(prefix.split("/")[1] for prefix in self.hwcaps_subdirs),
            glibc_version=self.glibc_version,
            cache=self.cache_source,
            has_cache=self.cache is not None,
        )


_PATH_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-/")


def _system_dirs(data: bytes) -> tuple[str, ...] | None:
    """dl-load.c's SYSTEM_DIRS, found in ld.so's rodata as "/dir/\0/usr/lib.../\0...".

    Anchored on the boundary "/\0/usr/lib" with bytes.find (a regex over the whole file cost 5 ms).
    """
    anchor = data.find(b"/\x00/usr/lib")
    while anchor >= 0:
        start = anchor
        while start > 0 and data[start - 1] in _PATH_BYTES:
            start -= 1
        end = anchor + 2
        while True:
            stop = end
            while stop < len(data) and data[stop] in _PATH_BYTES:
                stop += 1
            if stop == end or stop >= len(data) or data[stop] != 0 or data[stop - 1] != ord("/"):
                break
            end = stop + 1
        entries = [entry for entry in data[start:end].split(b"\0") if entry]
        if len(entries) >= 2 and all(entry.startswith(b"/") and entry.endswith(b"/") for entry in entries):
            return tuple(entry.decode("ascii").rstrip("/") for entry in entries)
        anchor = data.find(b"/\x00/usr/lib", anchor + 1)
    return None


class _InterpreterFacts(Fact):
    glibc_version: tuple[int, int] | None
    system_dirs: tuple[str, ...] | None


def _read_interpreter(fs: RootFS, interpreter: str) -> _InterpreterFacts:
    """What the target's ld.so has compiled in: its version banner and its default directories.

    Read from the file's bytes (never run): the banner "release version X.Y" and SYSTEM_DIRS, which
    Debian builds as /lib/<triple>/ /usr/lib/<triple>/ /lib/ /usr/lib/ and upstream as /lib64/ /usr/lib64/.
    """
    data = fs.read_bytes(interpreter, limit=8 << 20) if interpreter else None
    if not data:
        return _InterpreterFacts(None, None)
    return _InterpreterFacts(_banner_version(data), _system_dirs(data))


def _digits(data: bytes, start: int) -> int:
    """Where the run of ASCII digits starting at ``start`` ends."""
    end = start
    while end < len(data) and 0x30 <= data[end] <= 0x39:
        end += 1
    return end


def _banner_version(data: bytes) -> tuple[int, int] | None:
    """X.Y of the banner "... release version X.Y..." that every ld.so carries."""
    banner = data.find(b"release version ")
    if banner < 0:
        return None
    major_start = banner + len(b"release version ")
    major_end = _digits(data, major_start)
    minor_end = _digits(data, major_end + 1)
    if major_end == major_start or data[major_end : major_end + 1] != b"." or minor_end == major_end + 1:
        return None
    return int(data[major_start:major_end]), int(data[major_end + 1 : minor_end])


def describe_target(
    env: LoaderEnv, elf_class: int, machine: int, byte_order: str, interpreter: str | None = None
) -> TargetSystem:
    """Derive the target's loader facts; every value can be overridden through ``env``.

    The default directories and glibc version come from the target's own ld.so (the file's
    PT_INTERP, else the ABI's usual interpreter); without a readable ld.so, from the directory layout.
    """
    fs = RootFS(env.root)
    abi = _ABIS.get((machine, elf_class), _FALLBACK_ABI)
    facts = _read_interpreter(fs, interpreter or abi.interpreter)
    debian = bool(abi.triple) and (fs.is_directory(f"/lib/{abi.triple}") or fs.is_directory(f"/usr/lib/{abi.triple}"))
    if env.default_dirs is not None:
        dirs = env.default_dirs
    elif facts.system_dirs is not None:
        dirs = facts.system_dirs
    elif debian:
        dirs = (f"/lib/{abi.triple}", f"/usr/lib/{abi.triple}", "/lib", "/usr/lib")
    elif abi.lib64:
        dirs = ("/lib64", "/usr/lib64")
    else:
        dirs = ("/lib", "/usr/lib")
    # $LIB is the first default directory without its leading "/" (lib/x86_64-linux-gnu, lib64, lib).
    dst_lib = env.lib or (dirs[0].strip("/") if dirs else "lib")
    version = env.glibc_version or facts.glibc_version
    cpu = hwcaps.read_cpu()  # a sysroot is analysed for the CPU it is analysed on (override: --hwcaps)
    platform = env.platform or hwcaps.platform_name(machine, cpu)
    active = env.hwcaps_subdirs if env.hwcaps_subdirs is not None else hwcaps.active_glibc_hwcaps(machine, cpu)
    legacy: tuple[str, ...] = ()
    if version is not None and version < (2, 37):
        legacy = hwcaps.legacy_subdirs(machine, platform, cpu)
    cache: LdCache | None = None
    cache_source = "none"
    if not env.inhibit_cache:
        cache = read_ld_cache(fs, "/etc/ld.so.cache")
        if cache is not None:
            cache_source = "/etc/ld.so.cache"
    hwcaps_subdirs = tuple(f"glibc-hwcaps/{name}/" for name in active)
    return TargetSystem(
        fs=fs,
        elf_class=elf_class,
        machine=machine,
        byte_order=byte_order,
        default_dirs=tuple(d.rstrip("/") + "/" if d != "/" else "/" for d in dirs),
        dst_lib=dst_lib,
        platform=platform,
        hwcaps_subdirs=hwcaps_subdirs,
        legacy_subdirs=legacy,
        default_interpreter=abi.interpreter,
        cache=cache,
        cache_source=cache_source,
        cache_flags=abi.cache_flags,
        glibc_version=version,
    )


class TargetCache:
    """The targets one run has described: an audit of a thousand files reads the cache, ld.so.conf,
    /proc/cpuinfo and the interpreter once per kind of file, not once per file."""

    def __init__(self) -> None:
        self._known: dict[tuple[LoaderEnv, int, int, str, str | None], TargetSystem] = {}

    def describe(
        self, env: LoaderEnv, elf_class: int, machine: int, byte_order: str, interpreter: str | None = None
    ) -> TargetSystem:
        key = (env, elf_class, machine, byte_order, interpreter)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = describe_target(env, elf_class, machine, byte_order, interpreter)
        return known

    def of(self, result: LoadResult, env: LoaderEnv) -> TargetSystem | None:
        """The target a result was emulated against (described again only if this cache never saw it)."""
        facts = result.main.facts
        if facts is None:
            return None
        interpreter = os.fsdecode(facts.interpreter) if facts.interpreter else None
        return self.describe(env, facts.elf_class, facts.e_machine, facts.byte_order, interpreter)
