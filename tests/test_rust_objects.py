"""elfdeps.rust.objects: kinds, identities, definitions and imports of real artefacts built at test time,
of the toolchain's own files, and of a sample of the system's C files, against nm/readelf/c++filt/grep."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rust_builds import RustBuilds, rust_builds, rustc_print

from elfdeps.elf.cache import FileCache, OpenedFile
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.rust.mangling import Crate
from elfdeps.rust.objects import RUNTIME_CRATES, Kind, rust_defines, rust_facts, rust_imports

__all__ = ["rust_builds"]  # the session fixture, imported for pytest

_PRINTED = re.compile(rb"([A-Za-z0-9_]+)\[([0-9a-f]+)\]")


def load(path: Path | str) -> ElfFile:
    opened = FileCache().open(str(path))
    assert isinstance(opened, OpenedFile), opened
    return opened.elf()


def nm(path: Path, *options: str) -> list[tuple[str, bytes]]:
    """(type letter, name) of nm's lines."""
    out = subprocess.run(["nm", *options, str(path)], capture_output=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            rows.append((fields[-2].decode(), fields[-1]))
    return rows


def cxxfilt(names: list[bytes]) -> list[bytes]:
    out = subprocess.run(["c++filt"], input=b"\n".join(names) + b"\n", capture_output=True, check=True).stdout
    return out.split(b"\n")[: len(names)]


def driver() -> Path:
    return next((Path(rustc_print("sysroot")) / "lib").glob("librustc_driver-*.so"))


@pytest.mark.parametrize(
    ("which", "kind"),
    [
        ("dylib", Kind.RUST_DYLIB),
        ("dylib_pd", Kind.RUST_DYLIB),
        ("dylib_named", Kind.RUST_DYLIB),
        ("cdylib", Kind.CDYLIB),
        ("cdylib_stripped", Kind.CDYLIB),
        ("proc_macro", Kind.PROC_MACRO),
        ("exe_static", Kind.RUST_EXECUTABLE),
        ("exe_pd", Kind.RUST_EXECUTABLE),
        ("libstd", Kind.TOOLCHAIN_STD),
        ("host_dylibs", Kind.NOT_RUST),
        ("host_cdylibs", Kind.NOT_RUST),
    ],
)
def test_kinds(rust_builds: RustBuilds, which: str, kind: Kind) -> None:
    facts = rust_facts(load(getattr(rust_builds, which)))
    assert facts.kind is kind
    if kind is not Kind.NOT_RUST:
        version = subprocess.run(["rustc", "-V"], capture_output=True, check=True).stdout.strip()
        assert facts.versions == (version.removeprefix(b"rustc "),)


def test_toolchain_files() -> None:
    rustc = Path(rustc_print("sysroot")) / "bin" / "rustc"
    assert rust_facts(load(rustc)).kind is Kind.RUST_EXECUTABLE
    facts = rust_facts(load(driver()))
    assert facts.kind is Kind.RUST_DYLIB and facts.crate is not None and facts.crate.name == b"rustc_driver"


def test_facts_are_memoised_on_the_elf_file(rust_builds: RustBuilds) -> None:
    elf = load(rust_builds.dylib_pd)
    assert rust_facts(elf) is rust_facts(elf) and rust_defines(elf) is rust_defines(elf)
    assert rust_imports(elf) is rust_imports(elf)
    assert rust_facts(load(rust_builds.dylib_pd)) is not rust_facts(elf)  # another run, another memo


def _printed_crates(names: list[bytes]) -> set[Crate]:
    return {Crate(name, int(digits, 16)) for line in cxxfilt(names) for name, digits in _PRINTED.findall(line)}


def test_prefer_dynamic_dylib_imports_the_toolchain_std(rust_builds: RustBuilds) -> None:
    elf = load(rust_builds.dylib_pd)
    imports = rust_imports(elf)
    undefined = sorted(
        name for _letter, name in nm(rust_builds.dylib_pd, "-D", "--undefined-only") if name.startswith(b"_R")
    )
    assert undefined and sorted(name for names in imports.crates.values() for name in names) == undefined
    exported = [name for _letter, name in nm(rust_builds.libstd, "-D", "--defined-only") if name.startswith(b"_R")]
    std_crates = _printed_crates(exported)
    assert set(imports.crates) <= std_crates  # every build it expects is one the toolchain's libstd holds
    assert {b"core", b"__rustc"} <= {crate.name for crate in imports.crates}
    # it holds its own crate only: core::/alloc:: exports are its local monomorphisations
    defines = rust_defines(elf)
    assert set(defines.crates) == {rust_facts(elf).crate}
    assert not defines.runtime and defines.read_symtab is False


def test_toolchain_std_holds_std_core_alloc_once(rust_builds: RustBuilds) -> None:
    elf = load(rust_builds.libstd)
    defines = rust_defines(elf)
    builds = {name: [crate for crate in defines.crates if crate.name == name] for name in (b"std", b"core", b"alloc")}
    assert all(len(found) == 1 for found in builds.values()), builds
    assert builds[b"std"][0] == rust_facts(elf).crate and defines.runtime
    exported = [name for _letter, name in nm(rust_builds.libstd, "-D", "--defined-only") if name.startswith(b"_R")]
    assert set(defines.crates) <= _printed_crates(exported)
    # lower bound per crate: exports c++filt spells "crate[hash]::path" with no generics nor impl path
    plain: dict[Crate, int] = {}
    for line in cxxfilt(exported):
        match = _PRINTED.match(line)
        if match and b"<" not in line:
            crate = Crate(match.group(1), int(match.group(2), 16))
            plain[crate] = plain.get(crate, 0) + 1
    assert plain and all(defines.crates[crate].exported >= count for crate, count in plain.items())
    assert sum(code.exported for code in defines.crates.values()) <= len(exported)
    assert sum(code.private for code in defines.crates.values()) == 0  # a dylib: .dynsym only
    assert defines.unparsed == 0 and rust_imports(elf).unparsed == 0


def _section_names(path: Path) -> dict[int, str]:
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    names = {}
    for line in out.splitlines():
        match = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)", line)
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


def test_statics_are_writable_non_relro_objects(rust_builds: RustBuilds) -> None:
    path = rust_builds.dylib
    sections = _section_names(path)
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    expected: set[bytes] = set()
    relro: set[bytes] = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[3] == "OBJECT" and fields[6].isdigit() and fields[7].startswith("_ZN5alpha"):
            section = sections[int(fields[6])]
            (expected if section in (".data", ".bss") else relro).add(fields[7].encode())
    assert expected and relro  # COUNTER (static mut) and GREETING (&str in .data.rel.ro)
    facts = rust_facts(load(path))
    assert facts.crate is not None
    code = rust_defines(load(path)).crates[facts.crate]  # legacy names counted under the file's identity
    assert {static.name for static in code.statics} == expected
    assert all(static.exported for static in code.statics)


def test_cdylib_holds_a_private_std(rust_builds: RustBuilds) -> None:
    elf = load(rust_builds.cdylib)
    defines = rust_defines(elf)
    assert defines.read_symtab and defines.runtime
    std = [crate for crate in defines.crates if crate.name == b"std"]
    assert std == [rust_facts(load(rust_builds.libstd)).crate]
    assert defines.crates[std[0]].exported == 0 and defines.crates[std[0]].private > 10
    local = sorted({name for letter, name in nm(rust_builds.cdylib) if letter in "tTdDbB" and name.startswith(b"_R")})
    assert std[0].scid is not None
    prefix = b"std[%016x]::" % std[0].scid
    plain = [line for line in cxxfilt(local) if line.startswith(prefix) and b"<" not in line]
    assert 10 <= len(plain) <= defines.crates[std[0]].private


def test_prefer_dynamic_executable_holds_no_runtime(rust_builds: RustBuilds) -> None:
    """Its .symtab has local copies of inlined std/alloc functions: not an embedded runtime (§6.4)."""
    defines = rust_defines(load(rust_builds.exe_pd))
    assert defines.read_symtab and not defines.runtime
    assert not {crate.name for crate in defines.crates} & RUNTIME_CRATES
    static = rust_defines(load(rust_builds.exe_static))
    assert static.runtime and any(crate.name == b"std" for crate in static.crates)


# -- the system's C files -------------------------------------------------------------------------


def _system_sample(limit: int) -> list[str]:
    paths = []
    for directory in ("/usr/bin", "/usr/lib/x86_64-linux-gnu"):
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(directory, entry)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    if handle.read(4) == b"\x7fELF":
                        paths.append(path)
            if len(paths) >= limit * (1 + (directory != "/usr/bin")):
                break
    return paths


def _is_rust_by_binutils(path: str) -> bool:
    comment = subprocess.run(["readelf", "-p", ".comment", path], capture_output=True, text=True, check=False)
    if "rustc version" in comment.stdout:
        return True
    grep = subprocess.run(["grep", "-c", "-a", "/rustc/[0-9a-f]*/library/", path], capture_output=True, check=False)
    if grep.returncode == 0:
        return True
    names = subprocess.run(["nm", "-D", path], capture_output=True, check=False).stdout
    return re.search(rb"\s_R[A-Z0-9]\S*$|17h[0-9a-f]{16}E$", names, re.M) is not None


def test_system_c_files_are_not_rust() -> None:
    compared = rust = 0
    for path in _system_sample(50):
        elf = load(path)
        if _is_rust_by_binutils(path):
            rust += 1
            assert rust_facts(elf).is_rust, path
            continue
        facts = rust_facts(elf)
        assert facts.kind is Kind.NOT_RUST, path
        assert not rust_defines(elf).crates and not rust_imports(elf).crates, path
        compared += 1
    assert compared >= 100, (compared, rust)


# -- hostile input --------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["dylib_pd", "cdylib", "exe_pd", "proc_macro"]),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=30),
    st.booleans(),
)
def test_damaged_copies_raise_only_format_errors(
    rust_builds: RustBuilds, which: str, edits: list[tuple[int, int]], headers: bool
) -> None:
    data = bytearray(getattr(rust_builds, which).read_bytes())
    for position, value in edits:
        data[position % (8192 if headers else len(data))] = value
    with contextlib.suppress(ElfFormatError):
        elf = ElfFile("damaged", bytes(data))
        rust_facts(elf)
        rust_imports(elf)
        rust_defines(elf)
