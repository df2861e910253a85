"""Which CPU-specific subdirectories the loader probes, and the value of $PLATFORM.

Mirrors glibc sysdeps/x86_64/dl-hwcaps-subdirs.c (glibc-hwcaps x86-64-v2..v4 by ISA level),
sysdeps/x86/cpu-features.c (AT_PLATFORM overridden to haswell/xeon_phi on Intel) and, for glibc 2.36
only, elf/dl-hwcaps.c's legacy power set of hwcap names, platform and "tls" (loader.md §5).
"""

from __future__ import annotations

from elfdeps.elf import constants as C
from elfdeps.facts import Fact

__all__ = ["Cpu", "active_glibc_hwcaps", "legacy_subdirs", "platform_name", "read_cpu"]

# The x86-64 micro-architecture levels, as /proc/cpuinfo names the required features.
_X86_64_LEVELS = (
    ("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}),
    ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
)


class Cpu(Fact):
    vendor: str
    flags: frozenset[str]


def read_cpu(cpuinfo: str = "/proc/cpuinfo") -> Cpu:
    vendor, flags = "", frozenset[str]()
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = frozenset(value.split())
                    break
    except OSError:
        pass
    return Cpu(vendor, flags)


def active_glibc_hwcaps(machine: int, cpu: Cpu) -> tuple[str, ...]:
    """glibc-hwcaps subdirectory names the CPU supports, best first (x86-64 only; others have none here)."""
    if machine != C.EM_X86_64:
        return ()
    supported: list[str] = []
    required: set[str] = set()
    for name, features in _X86_64_LEVELS:
        required |= features
        if not required <= cpu.flags:
            break
        supported.append(name)
    return tuple(reversed(supported))


def _is_intel(cpu: Cpu) -> bool:
    return cpu.vendor == "GenuineIntel"


def platform_name(machine: int, cpu: Cpu) -> str:
    """AT_PLATFORM as glibc reports it ($PLATFORM)."""
    if machine == C.EM_X86_64:
        if _is_intel(cpu):
            if {"avx512er", "avx512pf"} <= cpu.flags:
                return "xeon_phi"
            if {"avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"} <= cpu.flags:
                return "haswell"
        return "x86_64"
    return {C.EM_386: "i686", C.EM_AARCH64: "aarch64"}.get(machine, C.MACHINE_NAMES.get(machine, "unknown"))


def legacy_subdirs(machine: int, platform: str, cpu: Cpu) -> tuple[str, ...]:
    """glibc 2.36's legacy prefixes: every subset of [hwcap names..., platform, "tls"], largest first."""
    names: list[str] = []
    if machine == C.EM_X86_64:
        names.append("x86_64")  # HWCAP_X86_64, always set on x86-64
        if _is_intel(cpu) and {"avx512bw", "avx512dq", "avx512vl"} <= cpu.flags:
            names.append("avx512_1")
    names += [platform, "tls"]
    prefixes: list[str] = []
    for mask in range((1 << len(names)) - 1, 0, -1):
        parts = [names[bit] for bit in reversed(range(len(names))) if mask & (1 << bit)]
        prefix = "/".join(parts) + "/"
        if prefix not in prefixes:
            prefixes.append(prefix)
    return tuple(prefixes)
