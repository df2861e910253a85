"""elfdeps.rust.metadata on real artefacts built at test time, against rustc's own word (``rustc -vV``),
binutils (nm, readelf) and the file names rustc wrote; plus hostile copies of a real .rustc section."""

from __future__ import annotations

import contextlib
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rust_builds import RustBuilds, rust_builds, rustc_print

from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from elfdeps.rust.mangling import Crate
from elfdeps.rust.metadata import crate_versions, read_markers, rustc_release

__all__ = ["rust_builds"]  # the session fixture, imported for pytest


def load(path: Path) -> ElfFile:
    return ElfFile(str(path), path.read_bytes())


def rustc_version() -> bytes:
    return subprocess.run(["rustc", "-V"], capture_output=True, check=True).stdout.strip()


def metadata_symbol(path: Path) -> Crate | None:
    """The rust_metadata_<crate>_<hex> symbol as nm lists it."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, check=True).stdout
    for line in out.splitlines():
        match = re.fullmatch(rb"\S+ \S rust_metadata_(\w+)_([0-9a-f]+)", line.strip())
        if match:
            return Crate(match.group(1), int(match.group(2), 16))
    return None


def section_offset(path: Path, name: str) -> tuple[int, int]:
    """(file offset, size) of a section, from readelf -S."""
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 5 and fields[1] == name:
            return int(fields[4], 16), int(fields[5], 16)
    raise AssertionError(f"{path} has no {name}")


@pytest.mark.parametrize("which", ["dylib", "dylib_pd", "dylib_named", "proc_macro"])
def test_dylib_markers(rust_builds: RustBuilds, which: str) -> None:
    path = getattr(rust_builds, which)
    markers = read_markers(load(path))
    symbol = metadata_symbol(path)
    assert symbol is not None and markers.metadata_crate == symbol
    rustc = markers.rustc
    assert rustc is not None and rustc.decoded and rustc.description == "format v10"
    offset, size = section_offset(path, ".rustc")
    raw = path.read_bytes()[offset : offset + size]
    assert raw[:7] == b"rust\0\0\0" and rustc.format_version == raw[7] and rustc.size == size
    assert rustc.rustc_version == rustc_version()
    assert markers.comment_versions == (rustc_version().removeprefix(b"rustc "),)
    assert markers.versions == markers.comment_versions
    assert rustc.is_stub is False and rustc.crate_name == symbol.name
    assert rustc.stable_crate_id == symbol.scid  # cross-checked, so kept
    expected_extra = rust_builds.extra_filename if which == "dylib_named" else b""
    assert rustc.extra_filename == expected_extra
    if which == "dylib_named":  # cargo's file-name hash joins the file to its crate identity
        assert path.name == f"lib{symbol.name.decode()}{expected_extra.decode()}.so"
    assert rustc.is_proc_macro is (which == "proc_macro")
    assert markers.proc_macro_decls is (which == "proc_macro")


def test_toolchain_std_is_a_stub(rust_builds: RustBuilds) -> None:
    markers = read_markers(load(rust_builds.libstd))
    assert markers.metadata_crate == metadata_symbol(rust_builds.libstd)
    assert markers.metadata_crate is not None and markers.metadata_crate.name == b"std"
    assert markers.rustc is not None and markers.rustc.is_stub is True
    assert markers.rustc.stable_crate_id is None and markers.rustc.extra_filename is None  # not cross-checked
    assert markers.rustc.rustc_version == rustc_version()


def test_rustc_driver_extra_filename_is_its_file_hash() -> None:
    driver = next((Path(rustc_print("sysroot")) / "lib").glob("librustc_driver-*.so"))
    markers = read_markers(load(driver))
    assert markers.metadata_crate == metadata_symbol(driver)
    assert markers.rustc is not None
    assert markers.rustc.extra_filename == driver.name.removeprefix("librustc_driver").removesuffix(".so").encode()


def test_stripped_cdylib_keeps_comment_and_library_paths(rust_builds: RustBuilds) -> None:
    stripped = rust_builds.cdylib_stripped
    sections = subprocess.run(["readelf", "-S", "-W", str(stripped)], capture_output=True, text=True, check=True)
    assert ".symtab" not in sections.stdout and ".comment" in sections.stdout
    commit = re.search(r"^commit-hash: ([0-9a-f]{40})$", subprocess.check_output(["rustc", "-vV"], text=True), re.M)
    assert commit is not None
    pattern = f"/rustc/{commit.group(1)}/library/std/"
    grep = subprocess.run(["grep", "-c", pattern, str(stripped)], check=False, capture_output=True)
    assert grep.returncode == 0  # grep finds the panic-location strings too
    markers = read_markers(load(stripped))
    assert markers.rustc is None and markers.metadata_crate is None
    assert markers.commits == (commit.group(1).encode(),)
    assert markers.libraries == (b"alloc", b"core", b"std")
    assert markers.comment_versions == (rustc_version().removeprefix(b"rustc "),)


def test_c_files_have_no_markers(rust_builds: RustBuilds) -> None:
    markers = read_markers(load(rust_builds.host_dylibs))  # built by cc
    assert markers.rustc is None and markers.metadata_crate is None and not markers.versions
    assert markers.commits == () and not markers.proc_macro_decls


def test_rustc_release() -> None:
    assert rustc_release(b"rustc version 1.95.0 (59807616e 2026-04-14)") == b"1.95.0 (59807616e 2026-04-14)"
    assert rustc_release(b"rustc 1.97.0-nightly (e50aa6fba 2026-05-19)") == b"1.97.0-nightly (e50aa6fba 2026-05-19)"
    assert rustc_release(b"GCC: (Debian 12.2.0-14) 12.2.0") is None
    assert rustc_release(b"rustc ") is None


def test_registry_version_from_source_paths(tmp_path: Path) -> None:
    package = tmp_path / "registry" / "src" / "index.crates.io-1949cf8c6b5b557f" / "fancy-util-1.2.3" / "src"
    package.mkdir(parents=True)
    (package / "lib.rs").write_text("pub fn pick(xs: &[u32], i: usize) -> u32 { xs[i] }\n")
    out = tmp_path / "libfancy_util.so"
    command = ["rustc", "--crate-type", "dylib", "-C", "prefer-dynamic", "--crate-name", "fancy_util"]
    subprocess.run([*command, "-o", out, package / "lib.rs"], check=True, capture_output=True)
    assert crate_versions(load(out), b"fancy_util") == (b"1.2.3",)
    assert crate_versions(load(out), b"other") == ()


# -- format versions and hostile input ------------------------------------------------------------


def _patched(path: Path, edits: dict[int, int]) -> ElfFile:
    """The file with bytes of its .rustc section replaced (offsets relative to the section)."""
    offset, _size = section_offset(path, ".rustc")
    data = bytearray(path.read_bytes())
    for at, value in edits.items():
        data[offset + at] = value
    return ElfFile(str(path), bytes(data))


def test_other_format_version_is_not_decoded(rust_builds: RustBuilds) -> None:
    markers = read_markers(_patched(rust_builds.dylib_pd, {7: 9}))
    assert markers.rustc is not None and not markers.rustc.decoded
    assert markers.rustc.description == "format v9 (not decoded)" and markers.rustc.rustc_version is None
    assert markers.metadata_crate == metadata_symbol(rust_builds.dylib_pd)  # the symbol still says who it is


def test_huge_length_is_not_followed(rust_builds: RustBuilds) -> None:
    markers = read_markers(_patched(rust_builds.dylib_pd, dict.fromkeys(range(8, 16), 0xFF)))
    assert markers.rustc is not None and not markers.rustc.decoded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_rustc_section_never_raises(rust_builds: RustBuilds, edits: list[tuple[int, int]]) -> None:
    markers = read_markers(_patched(rust_builds.dylib_pd, dict(edits)))
    if markers.rustc is not None and markers.rustc.stable_crate_id is not None:
        assert markers.metadata_crate is not None and markers.rustc.stable_crate_id == markers.metadata_crate.scid


@pytest.mark.parametrize("keep", [64, 1000, 4096, 9000, 12000])
def test_truncated_copies_raise_only_format_errors(rust_builds: RustBuilds, keep: int) -> None:
    data = rust_builds.dylib_pd.read_bytes()[:keep]
    with contextlib.suppress(ElfFormatError):
        read_markers(ElfFile("truncated", data))
