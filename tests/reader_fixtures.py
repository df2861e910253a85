"""Small real ELF files for the reader tests, built at test time with gcc (and llvm-objcopy for the
file without section headers), each named after the reader feature it pins.

Every file comes out of gcc/ld/llvm-objcopy; no ELF byte is written by hand. ``EXPECTED`` holds what
the build recipe put into each file (the ground truth the differential test checks before trusting
that three readers agree: agreement on an empty answer would prove nothing).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPECTED", "FIXTURE_NAMES", "RELOC_MACHINES", "Expected", "build_reader_fixtures"]

_VERSIONED_SOURCE = r"""
int v_old_impl(void) { return 1; }
int v_new_impl(void) { return 2; }
__asm__(".symver v_old_impl, v@LIBV_1.0");
__asm__(".symver v_new_impl, v@@LIBV_2.0");
int plain(void) { return 3; }
__attribute__((weak)) int weakdef(void) { return 4; }
__attribute__((visibility("protected"))) int prot(void) { return 5; }
__thread int tlsvar = 6;
int datavar[4] = {1, 2, 3, 4};
int caf\u00e9(void) { return 7; }
extern int undefined_weak(void) __attribute__((weak));
int call(void) { return undefined_weak ? undefined_weak() : 0; }
"""
_VERSION_SCRIPT = """
LIBV_1.0 { global: v; plain; local: *; };
LIBV_2.0 { global: v; weakdef; prot; tlsvar; datavar; call; caf*; } LIBV_1.0;
"""
_CONSUMER_SOURCE = """
extern int v(void);
extern int v_old(void);
__asm__(".symver v_old, v@LIBV_1.0");
int main(void) { return v() + v_old(); }
"""
_PROGRAM_SOURCE = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }'
# Relocation fixtures: every class of elf_machine_type_class on each machine (loader.md 10.2, 10.6):
# JUMP_SLOT (lazy PLT), TLS module/offset/TPOFF/descriptor (PLT class, not lazy), GLOB_DAT and an
# absolute pointer (data), and a COPY relocation in a non-PIE program.
_RELOC_PROVIDER_SOURCE = """
int ext_func(void) { return 4; }
int ext_data = 5;
__thread int ext_tls_gd = 6;
__thread int ext_tls_ie = 7;
"""
_RELOC_LIBRARY_SOURCE = """
int lib_data = 1;
__thread int lib_tls = 2;
int lib_func(void) { return 3; }
extern int ext_func(void);
extern int ext_data;
extern __thread int ext_tls_gd;
extern __thread int ext_tls_ie __attribute__((tls_model("initial-exec")));
int *ptr = &ext_data;
int use(void) { return ext_func() + ext_data + ext_tls_gd + ext_tls_ie + lib_tls; }
"""
_RELOC_PROGRAM_SOURCE = (
    "extern int lib_data; extern int lib_func(void);\nint main(void) { return lib_data + lib_func(); }"
)
# (name prefix, compiler command, interpreter, e_machine, class, TLS descriptors need -mtls-dialect=gnu2);
# without descriptors a global-dynamic TLS access calls __tls_get_addr@GLIBC_2.3 of the interpreter.
RELOC_MACHINES = (
    ("reloc_x86_64", ("gcc",), b"/lib64/ld-linux-x86-64.so.2", 62, 64, True),
    ("reloc_i386", ("gcc", "-m32"), b"/lib/ld-linux.so.2", 3, 32, True),
    ("reloc_aarch64", ("aarch64-linux-gnu-gcc",), b"/lib/ld-linux-aarch64.so.1", 183, 64, False),
)
_LIBRARY_SOURCE = "int answer(void) { return 42; }"

RUNPATH = b"$ORIGIN/../lib:/opt/runpath"
RPATH = b"$ORIGIN:/opt/rpath"
NON_UTF8_SONAME = b"libn\xff\xfe.so"
NON_UTF8_RUNPATH = b"/opt/\xe9t\xe9:$ORIGIN"


@dataclass(frozen=True)
class Expected:
    """What the recipe of a fixture guarantees (None: not pinned for this fixture)."""

    elf_class: int = 64
    machine: int = 62  # e_machine
    interpreter: bytes | None = None
    needed: tuple[bytes, ...] | None = None
    soname: bytes | None = None
    rpath: bytes | None = None
    runpath: bytes | None = None
    has_dynamic: bool = True
    has_sections: bool = True
    defines_versions: tuple[bytes, ...] = ()  # verdef names, in order (base first)
    needs_versions: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()  # (file, versions) as ld wrote them
    hidden_version_symbol: bytes | None = None  # a symbol whose versym has the hidden bit
    symbol: bytes | None = None  # a symbol name that must be in .dynsym


DT_SONAME, DT_RUNPATH = 14, 29
INTERP64 = b"/lib64/ld-linux-x86-64.so.2"
INTERP32 = b"/lib/ld-linux.so.2"
VERDEF = (b"libversioned.so.2", b"LIBV_1.0", b"LIBV_2.0")

EXPECTED: dict[str, Expected] = {
    "pie_program": Expected(interpreter=INTERP64, needed=(b"libc.so.6",), symbol=b"puts"),
    "runpath_sysv_hash_library": Expected(soname=b"librunpath.so.1", runpath=RUNPATH, symbol=b"answer"),
    "rpath_both_hashes_library": Expected(rpath=RPATH, symbol=b"answer"),
    "verdef_library": Expected(
        soname=b"libversioned.so.2", defines_versions=VERDEF, hidden_version_symbol=b"v", symbol=b"caf\xc3\xa9"
    ),
    "verneed_program": Expected(
        interpreter=INTERP64,
        needed=(b"libversioned.so.2", b"libc.so.6"),
        runpath=b"$ORIGIN",
        needs_versions=((b"libversioned.so.2", (b"LIBV_2.0", b"LIBV_1.0")),),
        symbol=b"v",
    ),
    "m32_verdef_library": Expected(
        elf_class=32, machine=3, soname=b"libversioned.so.2", defines_versions=VERDEF, hidden_version_symbol=b"v"
    ),
    "m32_verneed_program": Expected(
        elf_class=32,
        machine=3,
        interpreter=INTERP32,
        needed=(b"libversioned.so.2", b"libc.so.6"),
        runpath=b"$ORIGIN",
        needs_versions=((b"libversioned.so.2", (b"LIBV_2.0", b"LIBV_1.0")),),
    ),
    "no_section_headers_program": Expected(
        interpreter=INTERP64,
        needed=(b"libversioned.so.2", b"libc.so.6"),
        runpath=b"$ORIGIN",
        has_sections=False,
        needs_versions=((b"libversioned.so.2", (b"LIBV_2.0", b"LIBV_1.0")),),
        symbol=b"v",
    ),
    "no_section_headers_library": Expected(
        soname=b"libversioned.so.2", has_sections=False, defines_versions=VERDEF, hidden_version_symbol=b"v"
    ),
    "non_utf8_names_library": Expected(soname=NON_UTF8_SONAME, runpath=NON_UTF8_RUNPATH),
    "non_utf8_needed_program": Expected(interpreter=INTERP64, needed=(NON_UTF8_SONAME, b"libc.so.6")),
    "no_string_tags_library": Expected(needed=(), symbol=b"answer"),
    # Two DT_RUNPATH entries, $ORIGIN/first then $ORIGIN/last (libdup.so is only in first/): ld.so
    # keeps the last entry of a tag, so it searches $ORIGIN/last alone and does not find libdup.so.
    "duplicate_runpath_program": Expected(
        interpreter=INTERP64, needed=(b"libdup.so", b"libc.so.6"), runpath=b"$ORIGIN/last"
    ),
    "static_program": Expected(has_dynamic=False),
    "static_pie_program": Expected(needed=()),
    "relocatable_object": Expected(has_dynamic=False),
}
for _prefix, _cc, _interp, _machine, _bits, _gnu2 in RELOC_MACHINES:
    EXPECTED[f"{_prefix}_library"] = Expected(
        elf_class=_bits,
        machine=_machine,
        soname=b"libreloc.so",
        runpath=b"$ORIGIN",
        symbol=b"ext_tls_gd",
        needs_versions=((_interp.rsplit(b"/", 1)[1], (b"GLIBC_2.3",)),) if _gnu2 else (),
    )
    EXPECTED[f"{_prefix}_program"] = Expected(
        elf_class=_bits, machine=_machine, interpreter=_interp, runpath=b"$ORIGIN", symbol=b"lib_data"
    )
    if _gnu2:
        EXPECTED[f"{_prefix}_tlsdesc_library"] = Expected(
            elf_class=_bits, machine=_machine, soname=b"libreloc.so", symbol=b"ext_tls_gd"
        )
FIXTURE_NAMES = tuple(EXPECTED)


def _run(command: list[str | bytes | Path]) -> None:
    proc = subprocess.run(command, capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"reader fixture build failed: {command}\n{proc.stderr.decode(errors='replace')}")


def _retag_first(path: Path, old: int, new: int) -> None:
    """Rewrite the tag of the first dynamic entry tagged ``old`` (ELF64 LSB, found through PT_DYNAMIC):
    ld writes one DT_RUNPATH only, so the second one is the DT_SONAME string retagged."""
    data = bytearray(path.read_bytes())
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize
        )
        if p_type != 2:  # PT_DYNAMIC
            continue
        for at in range(p_offset, p_offset + p_filesz, 16):
            if struct.unpack_from("<q", data, at)[0] == old:
                struct.pack_into("<q", data, at, new)
                path.write_bytes(data)
                return
    raise RuntimeError(f"{path}: no dynamic entry tagged {old}")


def _objcopy() -> str:
    """llvm-objcopy: GNU objcopy/strip 2.40 cannot drop section headers (--strip-section-headers is 2.41)."""
    for name in ("llvm-objcopy", *(f"llvm-objcopy-{v}" for v in range(20, 12, -1))):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("llvm-objcopy is needed to build a file without section headers (Debian: llvm)")


def _build_relocation_fixtures(d: Path, out: dict[str, Path]) -> None:
    """Per machine: libext.so (the definitions), libreloc.so (every reference class) and a non-PIE
    program with a COPY relocation, in their own directory (the program finds both via $ORIGIN)."""
    for prefix, cc, _interp, _machine, _bits, gnu2 in RELOC_MACHINES:
        where = d / prefix
        where.mkdir(exist_ok=True)
        for name, text in [
            ("ext.c", _RELOC_PROVIDER_SOURCE),
            ("lib.c", _RELOC_LIBRARY_SOURCE),
            ("main.c", _RELOC_PROGRAM_SOURCE),
        ]:
            (where / name).write_text(text)
        shared: list[str | bytes | Path] = ["-shared", "-fPIC"]
        _run([*cc, *shared, "-o", where / "libext.so", where / "ext.c", "-Wl,-soname,libext.so"])
        library: list[str | bytes | Path] = ["-Wl,-soname,libreloc.so", where / "libext.so", "-Wl,--no-as-needed"]
        _run([*cc, *shared, "-o", out[f"{prefix}_library"], where / "lib.c", *library, "-Wl,-rpath,$ORIGIN"])
        if gnu2:
            _run(
                [*cc, *shared, "-mtls-dialect=gnu2", "-o", out[f"{prefix}_tlsdesc_library"], where / "lib.c", *library]
            )
        # the program links the library under its soname in the same directory
        (where / "libreloc.so").symlink_to(out[f"{prefix}_library"])
        _run(
            [*cc, "-fno-pic", "-no-pie", "-o", out[f"{prefix}_program"], where / "main.c", where / "libreloc.so",
             "-Wl,-rpath,$ORIGIN", f"-Wl,-rpath-link,{where}"]
        )  # fmt: skip


def build_reader_fixtures(directory: Path) -> dict[str, Path]:
    """Build every fixture of EXPECTED into ``directory``; returns name -> path."""
    d = directory
    src = d / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name, text in [
        ("versioned.c", _VERSIONED_SOURCE),
        ("versioned.map", _VERSION_SCRIPT),
        ("consumer.c", _CONSUMER_SOURCE),
        ("program.c", _PROGRAM_SOURCE),
        ("library.c", _LIBRARY_SOURCE),
    ]:
        (src / name).write_text(text)

    def c(name: str) -> str:
        return str(src / name)

    out = {name: d / name for name in FIXTURE_NAMES}
    for prefix, *_rest in RELOC_MACHINES:  # each machine's files live in their own directory
        for name in FIXTURE_NAMES:
            if name.startswith(prefix + "_"):
                out[name] = d / prefix / name
    shared = ["-shared", "-fPIC"]

    _run(["gcc", "-o", out["pie_program"], c("program.c")])
    _run(
        ["gcc", *shared, "-o", out["runpath_sysv_hash_library"], c("library.c"),
         "-Wl,-soname,librunpath.so.1", "-Wl,--enable-new-dtags", b"-Wl,-rpath," + RUNPATH,
         "-Wl,--hash-style=sysv", "-Wl,-z,now", "-Wl,-z,nodelete"]
    )  # fmt: skip
    _run(
        ["gcc", *shared, "-o", out["rpath_both_hashes_library"], c("library.c"),
         "-Wl,--disable-new-dtags", b"-Wl,-rpath," + RPATH, "-Wl,--hash-style=both", "-Wl,-z,origin",
         "-Wl,-z,initfirst"]
    )  # fmt: skip
    for bits, lib, prog in [("64", "verdef_library", "verneed_program"),
                            ("32", "m32_verdef_library", "m32_verneed_program")]:  # fmt: skip
        arch = ["-m32"] if bits == "32" else []
        _run(
            ["gcc", *arch, *shared, "-o", out[lib], c("versioned.c"),
             f"-Wl,--version-script={c('versioned.map')}", "-Wl,-soname,libversioned.so.2"]
        )  # fmt: skip
        _run(["gcc", *arch, "-o", out[prog], c("consumer.c"), out[lib], "-Wl,-rpath,$ORIGIN"])
    objcopy = _objcopy()
    _run([objcopy, "--strip-sections", out["verneed_program"], out["no_section_headers_program"]])
    _run([objcopy, "--strip-sections", out["verdef_library"], out["no_section_headers_library"]])
    _run(
        ["gcc", *shared, "-o", out["non_utf8_names_library"], c("library.c"),
         b"-Wl,-soname," + NON_UTF8_SONAME, "-Wl,--enable-new-dtags", b"-Wl,-rpath," + NON_UTF8_RUNPATH]
    )  # fmt: skip
    _run(
        ["gcc", "-o", out["non_utf8_needed_program"], c("program.c"), "-Wl,--no-as-needed",
         out["non_utf8_names_library"]]
    )  # fmt: skip
    (d / "first").mkdir(exist_ok=True)
    _run(["gcc", *shared, "-o", d / "first" / "libdup.so", c("library.c"), "-Wl,-soname,libdup.so"])
    _run(
        ["gcc", "-o", out["duplicate_runpath_program"], c("program.c"), "-Wl,--no-as-needed",
         d / "first" / "libdup.so", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/last",
         "-Wl,-soname,$ORIGIN/first"]
    )  # fmt: skip
    _retag_first(out["duplicate_runpath_program"], DT_SONAME, DT_RUNPATH)
    # No DT_NEEDED, DT_SONAME, DT_RPATH or DT_RUNPATH, but a DT_STRTAB the symbol names live in.
    _run(["gcc", *shared, "-nostdlib", "-o", out["no_string_tags_library"], c("library.c")])
    _run(["gcc", "-static", "-o", out["static_program"], c("library.c"), "-nostartfiles", "-e", "answer"])
    _run(["gcc", "-static-pie", "-o", out["static_pie_program"], c("program.c")])
    _run(["gcc", "-c", "-fPIC", "-o", out["relocatable_object"], c("library.c")])
    _build_relocation_fixtures(d, out)
    for path in out.values():
        assert path.is_file() and os.path.getsize(path) > 0, path
    return out
