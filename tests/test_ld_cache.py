"""ld.so.cache in every format the real ldconfig writes (new, old, compat), with glibc-hwcaps entries,
read by elfdeps (elfdeps/loader/ldcache.py) and compared with the loader that reads it: the caches are
built by `ldconfig -c FORMAT -r ROOT` in a sysroot (tests/chroot_oracle.py) and the root's own ld.so
is run under chroot, with --glibc-hwcaps-mask to choose the active levels and --inhibit-cache to
ignore the cache; `ldconfig -p -C` lists the entries for the reader test.

Found here: in a compat file, ld.so reads the glibc-hwcaps names at their offsets from the start of
the file, not from the new header that holds the other strings (elf/dl-cache.c
glibc_hwcaps_compare), so none of the names matches and the hwcaps entries are never taken; elfdeps
took them.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from chroot_oracle import chroot_trace, make_base_sysroot

from elfdeps.cli import main
from elfdeps.loader.fs import RootFS
from elfdeps.loader.ldcache import read_ld_cache
from fixtures import loader_facts

FORMATS = ("new", "old", "compat")
LEVELS = ("x86-64-v4", "x86-64-v3", "x86-64-v2")
# glibc-hwcaps masks for ld.so (None: none given): each a set of levels the loader may use.
MASKS = (None, "x86-64-v2", "x86-64-v3:x86-64-v2", "x86-64-v4:x86-64-v2", "")


def _elfdeps(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def base_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/v holds libX.so and a copy in every glibc-hwcaps level (each a distinct build), listed in
    ld.so.conf; /usr/bin/prog needs libX.so. No cache yet."""
    root = tmp_path_factory.mktemp("cache-root")
    build = tmp_path_factory.mktemp("cache-build")
    make_base_sysroot(root)
    (build / "x.c").write_text("int x(void) { return 1; }\n")
    (build / "prog.c").write_text("int x(void); int main(void) { return x() - 1; }\n")
    for where in ("opt/v", *(f"opt/v/glibc-hwcaps/{level}" for level in LEVELS)):
        (root / where).mkdir(parents=True)
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-Wl,-soname,libX.so", "-o", str(root / where / "libX.so"), str(build / "x.c"),
             f"-Wl,--build-id=0x{abs(hash(where)):x}"],
            check=True, capture_output=True,
        )  # fmt: skip
    subprocess.run(
        ["gcc", "-o", str(root / "usr/bin/prog"), str(build / "prog.c"), str(root / "opt/v/libX.so")],
        check=True,
        capture_output=True,
    )
    (root / "etc/ld.so.conf").write_text("/opt/v\n")
    return root


@pytest.fixture(scope="module")
def roots(base_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One copy of the root per cache format, each with the cache the real ldconfig writes."""
    made = {}
    for fmt in FORMATS:
        root = tmp_path_factory.mktemp(f"cache-{fmt}")
        shutil.copytree(base_root, root, symlinks=True, dirs_exist_ok=True)
        subprocess.run(["ldconfig", "-c", fmt, "-r", str(root)], check=True, capture_output=True)
        made[fmt] = root
    return made


def _hwcaps_for(mask: str | None) -> tuple[str, ...]:
    """elfdeps' --hwcaps for an ld.so --glibc-hwcaps-mask: the machine's active levels the mask keeps."""
    active = loader_facts().hwcaps
    return active if mask is None else tuple(level for level in active if level in mask.split(":"))


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_cache_lookup_equals_the_roots_loader(roots: dict[str, Path], fmt: str, mask: str | None) -> None:
    root = roots[fmt]
    expected = chroot_trace(root, "/usr/bin/prog", *(() if mask is None else ("--glibc-hwcaps-mask", mask)))
    assert any(line.startswith("\tlibX.so => /opt/v/") for line in expected), expected
    hwcaps = ":".join(_hwcaps_for(mask))
    code, out, err = _elfdeps("list", "--no-env", "--root", str(root), f"--hwcaps={hwcaps}", "/usr/bin/prog")
    assert (code, out.splitlines()) == (0, expected), err
    _code, out, _err = _elfdeps(
        "list", "--json", "--no-env", "--root", str(root), f"--hwcaps={hwcaps}", "/usr/bin/prog"
    )
    libx = next(o for o in json.loads(out)["files"][0]["objects"] if o["name"] == "libX.so")
    assert libx["via"] == "ld_so_cache"


def test_the_formats_and_masks_make_a_difference(roots: dict[str, Path]) -> None:
    """The comparison above is not vacuous: the loader picks different copies across formats and masks."""
    picked = {
        line
        for fmt in FORMATS
        for mask in MASKS
        for line in chroot_trace(roots[fmt], "/usr/bin/prog", *(() if mask is None else ("--glibc-hwcaps-mask", mask)))
        if "libX.so" in line
    }
    assert len(picked) >= 3, picked


@pytest.mark.parametrize("fmt", FORMATS)
def test_cache_entries_equal_ldconfig_p(roots: dict[str, Path], fmt: str) -> None:
    """Every entry ldconfig -p -C lists, in its order, with the hwcaps subdirectory it names (new format:
    ldconfig's listing reads the names as ld.so does there)."""
    cache_file = roots[fmt] / "etc/ld.so.cache"
    listing = subprocess.run(["ldconfig", "-p", "-C", str(cache_file)], capture_output=True, text=True, check=True)
    rows = [line.strip() for line in listing.stdout.splitlines()[1:] if " => " in line]
    cache = read_ld_cache(RootFS(str(roots[fmt])), "/etc/ld.so.cache")
    assert cache is not None
    for name in sorted({row.split()[0] for row in rows}):
        wanted = [row.split(" => ")[1] for row in rows if row.split()[0] == name]
        entries = cache.entries_for(name.encode())
        assert [e.path.decode() for e in entries] == wanted, name
        if fmt == "new":
            subdirs = [
                row.split('hwcap: "')[1].split('"')[0] if 'hwcap: "' in row else None
                for row in rows
                if row.split()[0] == name
            ]
            assert [e.hwcaps_subdir for e in entries] == subdirs, name
    assert len(rows) >= 5


def _cut(root: Path, size: int, tmp: Path) -> Path:
    copy = tmp / f"cut-{size}"
    shutil.copytree(root, copy, symlinks=True)
    data = (root / "etc/ld.so.cache").read_bytes()
    (copy / "etc/ld.so.cache").write_bytes(data[:size])
    return copy


def test_truncated_caches_are_read_as_the_loader_reads_them(roots: dict[str, Path], tmp_path: Path) -> None:
    """dl-cache.c: a new-format cache is used only when all its entries fit; string offsets past the end
    match nothing; the extension sections (glibc-hwcaps names, generator) are taken all or none
    (dl-cache.h cache_extension_load). Cuts: inside the header, one byte short of the entries, right
    after them, inside the strings, inside the extension directory and its section array, one byte
    short of the end (the generator section, last in the file, then reaches past it)."""
    root = roots["new"]
    data = (root / "etc/ld.so.cache").read_bytes()
    (nlibs,) = struct.unpack_from("<I", data, 20)
    (extension,) = struct.unpack_from("<I", data, 32)
    entries_end = 48 + 24 * nlibs
    cuts = (
        40,
        entries_end - 1,
        entries_end,
        (entries_end + extension) // 2,
        extension + 4,
        extension + 24,
        len(data) - 1,
    )
    answers = set()
    for size in cuts:
        copy = _cut(root, size, tmp_path)
        expected = chroot_trace(copy, "/usr/bin/prog")
        _code, out, _err = _elfdeps("list", "--no-env", "--root", str(copy), "/usr/bin/prog")
        assert out.splitlines() == expected, size
        answers.add(next(line for line in expected if "libX.so" in line))
    assert len(answers) >= 2, answers  # the cuts change what the loader finds


@pytest.mark.parametrize("fmt", FORMATS)
def test_inhibit_cache_equals_ld_so_inhibit_cache(roots: dict[str, Path], fmt: str) -> None:
    """--inhibit-cache is `ld.so --inhibit-cache`: libX.so, found only through the cache, is not found."""
    root = roots[fmt]
    expected = chroot_trace(root, "/usr/bin/prog", "--inhibit-cache")
    assert "\tlibX.so => not found" in expected
    code, out, _err = _elfdeps("list", "--no-env", "--inhibit-cache", "--root", str(root), "/usr/bin/prog")
    assert (code, out.splitlines()) == (1, expected)
    _code, out, _err = _elfdeps("list", "--json", "--no-env", "--inhibit-cache", "--root", str(root), "/usr/bin/prog")
    report = json.loads(out)
    assert report["environment"]["cache"] == "none"
    libx = next(o for o in report["files"][0]["objects"] if o["name"] == "libX.so")
    assert all(entry["source"] != "ld_so_cache" for entry in libx["searched"])
