"""Unit tests of the loader's pure pieces against the rules of loader.md (and ldconfig for the cache)."""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elfdeps.loader import hwcaps
from elfdeps.loader.dst import DstValues, expand, split_path_list
from elfdeps.loader.fs import RootFS
from elfdeps.loader.ldcache import parse_ld_cache, read_ld_cache
from elfdeps.loader.ldconf import read_ld_so_conf
from fixtures.builder import RTLD, active_hwcaps, loader_facts

VALUES = DstValues(origin=b"/D", lib=b"lib/x86_64-linux-gnu", platform=b"x86_64")


def test_dst_grammar_matches_the_verified_experiment_s9() -> None:
    runpath = b"/d1/$LIB:/d2/$PLATFORM:/d3/${ORIGIN}/x:/d4/$FOO:/d5/$ORIGINX:/d6/${LIB}z:/d7/$LIB_x:$ORIGIN"
    assert split_path_list(runpath, b":", VALUES) == (
        "/d1/lib/x86_64-linux-gnu/",
        "/d2/x86_64/",
        "/d3//D/x/",
        "/d4/$FOO/",
        "/d5/$ORIGINX/",
        "/d6/lib/x86_64-linux-gnuz/",
        "/d7/$LIB_x/",
        "/D/",
    )


def test_empty_elements_mean_the_current_directory_but_an_empty_list_means_none() -> None:
    assert split_path_list(b"", b":;", VALUES) == ()
    assert split_path_list(b":", b":;", VALUES) == ("",)
    assert split_path_list(b"/nonexistent;", b":;", VALUES) == ("/nonexistent/", "")
    assert split_path_list(b"/nonexistent;", b":", VALUES) == ("/nonexistent;/",)  # RPATH: ':' only


def test_duplicates_are_kept_once_and_trailing_slashes_fold() -> None:
    assert split_path_list(b"/a//:/a:/b/:/", b":", VALUES) == ("/a/", "/b/", "/")


def test_unknown_origin_drops_the_element_instead_of_meaning_cwd() -> None:
    unknown = VALUES._replace(origin=None)
    assert split_path_list(b"$ORIGIN/lib:/x", b":", unknown) == ("/x/",)


def test_secure_mode_accepts_origin_only_at_the_start_and_in_a_trusted_dir() -> None:
    secure = VALUES._replace(secure=True)
    assert expand(b"$ORIGIN/lib", secure) == b"/D/lib"
    assert expand(b"/x/$ORIGIN", secure) is None
    assert expand(b"$ORIGINlib", secure) == b"$ORIGINlib"  # not a token at all
    executable = secure._replace(origin_is_executable=True, trusted_dirs=(b"/usr/lib/",))
    assert expand(b"$ORIGIN", executable._replace(origin=b"/usr/lib")) == b"/usr/lib"
    assert expand(b"$ORIGIN/lib", executable) is None
    assert expand(b"$LIB", secure) == b"lib/x86_64-linux-gnu"


# loader.md 4.1, written as a regular expression (an oracle independent of dst.py's scanner): $NAME or
# ${NAME} for ORIGIN, PLATFORM, LIB; unbraced, the name must not go on with [A-Za-z0-9_].
_DST = re.compile(rb"\$(?:\{(ORIGIN|PLATFORM|LIB)\}|(ORIGIN|PLATFORM|LIB)(?![A-Za-z0-9_]))")
_PIECES = [b"$ORIGIN", b"${ORIGIN}", b"$LIB", b"${LIB}", b"$PLATFORM", b"${PLATFORM}", b"$", b"{", b"}",
           b"ORIGIN", b"X", b"_", b"0", b"/", b":", b"\xff", b"$FOO", b"${FOO}", b"$ORIGINX", b"${LIB"]  # fmt: skip
_DST_TEXT = st.lists(st.sampled_from(_PIECES), max_size=8).map(b"".join) | st.binary(max_size=24)


def _reference_expand(text: bytes, values: DstValues) -> bytes | None:
    tokens = {b"ORIGIN": values.origin, b"LIB": values.lib, b"PLATFORM": values.platform}
    if values.origin is None and any(m[1] == b"ORIGIN" or m[2] == b"ORIGIN" for m in _DST.finditer(text)):
        return None  # an unknown $ORIGIN drops the element (loader.md 4.3)
    return _DST.sub(lambda m: tokens[m[1] or m[2]] or b"", text)


@settings(max_examples=500, deadline=None)
@given(_DST_TEXT)
def test_expansion_follows_the_token_grammar_s9(text: bytes) -> None:
    assert expand(text, VALUES) == _reference_expand(text, VALUES)
    unknown = VALUES._replace(origin=None)
    assert expand(text, unknown) == _reference_expand(text, unknown)


def test_expansion_examples_of_the_grammar() -> None:
    """The oracle itself pinned on loader.md 4.1's examples (S9), so a wrong regex cannot pass quietly."""
    assert _reference_expand(b"$ORIGINX/${LIB}z/$LIB_x/$FOO", VALUES) == b"$ORIGINX/lib/x86_64-linux-gnuz/$LIB_x/$FOO"
    assert _reference_expand(b"${ORIGIN}/$PLATFORM", VALUES) == b"/D/x86_64"
    assert expand(b"$ORIGIN/${PLATFORM}", VALUES._replace(origin=None)) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab/$:{}", max_size=6), max_size=6))
def test_split_never_yields_empty_named_directories(parts: list[str]) -> None:
    for directory in split_path_list(":".join(parts).encode(), b":", VALUES):
        assert directory == "" or directory.endswith("/")


def test_cache_reader_agrees_with_ldconfig_on_every_entry() -> None:
    cache = read_ld_cache(RootFS(None), "/etc/ld.so.cache")
    assert cache is not None
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    checked = 0
    for line in listing.splitlines()[1:]:
        if "=>" not in line:
            continue
        name, path = line.split()[0], line.split("=> ", 1)[1]
        assert path.encode() in [entry.path for entry in cache.entries_for(name.encode())], line
        checked += 1
    assert checked > 100


def test_cache_lookup_takes_only_entries_this_abi_accepts() -> None:
    cache = read_ld_cache(RootFS(None), "/etc/ld.so.cache")
    assert cache is not None
    entry = cache.lookup(b"libc.so.6", (0x0303,), (), legacy=True)
    assert entry is not None and entry.path == b"/lib/x86_64-linux-gnu/libc.so.6"
    assert cache.lookup(b"libc.so.6", (0x0A03,), (), legacy=True) is None
    assert cache.lookup(b"libdoes-not-exist.so.1", (0x0303,), (), legacy=True) is None


def test_a_truncated_or_foreign_cache_is_ignored() -> None:
    """elf/dl-cache.c _dl_load_cache_lookup: a new-format cache is used only if its header and all nlibs
    entries fit in the file; string offsets beyond the file then match nothing (_dl_cache_verify_ptr).
    The same cuts are checked against the real loader in test_ld_cache (a chroot)."""
    with open("/etc/ld.so.cache", "rb") as handle:
        data = handle.read()
    assert data.startswith(b"glibc-ld.so.cache1.1")
    (nlibs,) = struct.unpack_from("<I", data, 20)
    entries_end = 48 + 24 * nlibs
    assert parse_ld_cache(data[:40]) is None
    assert parse_ld_cache(b"not a cache at all") is None
    assert parse_ld_cache(data[: entries_end - 1]) is None
    cut = parse_ld_cache(data[:entries_end])
    assert cut is not None and cut.lookup(b"libc.so.6", (0x0303,), (), legacy=True) is None
    whole = parse_ld_cache(data)
    assert whole is not None and whole.lookup(b"libc.so.6", (0x0303,), (), legacy=True) is not None


def test_ld_so_conf_includes_globs_in_sorted_order_comments_and_hwcap_lines(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "ld.so.conf.d").mkdir(parents=True)
    (etc / "ld.so.conf").write_text("# top\n/opt/first/ # trailing comment\ninclude ld.so.conf.d/*.conf\nhwcap 0 x\n")
    (etc / "ld.so.conf.d" / "b.conf").write_text("/opt/b\n")
    (etc / "ld.so.conf.d" / "a.conf").write_text("  /opt/a=libc6\n\ninclude /etc/ld.so.conf\n")
    assert read_ld_so_conf(RootFS(str(tmp_path)), "/etc/ld.so.conf") == ("/opt/first", "/opt/a", "/opt/b")


def test_root_resolution_follows_symlinks_physically_and_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "libx.so").write_bytes(b"x")
    os.symlink("/usr/lib", tmp_path / "lib")  # absolute: must re-root, never reach the host's /usr/lib
    os.symlink("usr/lib/libx.so", tmp_path / "rel")
    os.symlink("loop", tmp_path / "loop")
    fs = RootFS(str(tmp_path))
    assert fs.host_path("/lib/libx.so") == f"{tmp_path}/usr/lib/libx.so"
    assert fs.host_path("/lib/../../../etc") == f"{tmp_path}/etc"  # '..' clamps at the root
    assert fs.realpath("/rel") == "/usr/lib/libx.so"
    assert fs.is_directory("/lib")
    assert not fs.exists("/loop")


def test_legacy_hwcaps_power_set_order_matches_s11() -> None:
    amd = hwcaps.Cpu("AuthenticAMD", frozenset({"avx512bw", "avx512dq", "avx512vl"}))
    assert hwcaps.legacy_subdirs(62, "x86_64", amd) == (
        "tls/x86_64/x86_64/",
        "tls/x86_64/",
        "tls/",
        "x86_64/x86_64/",
        "x86_64/",
    )
    intel = amd._replace(vendor="GenuineIntel")
    assert hwcaps.legacy_subdirs(62, "haswell", intel)[0] == "tls/haswell/avx512_1/x86_64/"


def test_glibc_hwcaps_levels_need_every_feature_of_the_lower_levels() -> None:
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    assert hwcaps.active_glibc_hwcaps(62, hwcaps.Cpu("x", frozenset(v2 | v3 | v4))) == (
        "x86-64-v4",
        "x86-64-v3",
        "x86-64-v2",
    )
    assert hwcaps.active_glibc_hwcaps(62, hwcaps.Cpu("x", frozenset(v2 | v4))) == ("x86-64-v2",)
    assert hwcaps.active_glibc_hwcaps(183, hwcaps.Cpu("x", frozenset(v2 | v3 | v4))) == ()


X86_64_LEVELS = ("x86-64-v4", "x86-64-v3", "x86-64-v2")  # dl_hwcaps_subdirs on x86-64, priority order


@pytest.mark.parametrize(
    ("mask", "active"),
    [
        (0x7, ("x86-64-v4", "x86-64-v3", "x86-64-v2")),  # a v4 machine
        (0x6, ("x86-64-v3", "x86-64-v2")),  # a v3 machine (issue 9: no AVX-512)
        (0x4, ("x86-64-v2",)),  # a v2 machine
        (0x0, ()),  # baseline x86-64 only
        (0x1, ("x86-64-v4",)),  # bit 0 is the first name, whatever the CPU could do
        (0x5, ("x86-64-v4", "x86-64-v2")),
        (0xF8, ()),  # bits past the list name nothing
    ],
)
def test_hwcaps_active_mask_bit_i_is_the_ith_subdirectory(mask: int, active: tuple[str, ...]) -> None:
    """glibc elf/dl-hwcaps.c _dl_hwcaps_subdirs_build_bitmask: bit i of dl_hwcaps_subdirs_active
    belongs to the i-th name of dl_hwcaps_subdirs (the list in priority order)."""
    assert active_hwcaps(X86_64_LEVELS, mask) == active


def _loader_help_hwcaps() -> tuple[str, ...]:
    """The glibc-hwcaps names `ld.so --help` marks "supported, searched", in its priority order."""
    text = subprocess.run([RTLD, "--help"], capture_output=True, text=True, check=True).stdout
    section = text.split("Subdirectories of glibc-hwcaps directories, in priority order:\n", 1)[1]
    names = []
    for line in section.splitlines():
        if not line.startswith("  "):
            break
        name, _, status = line.strip().partition(" ")
        if status == "(supported, searched)":
            names.append(name)
    return tuple(names)


def test_this_machines_hwcaps_and_platform_agree_with_its_loader() -> None:
    diagnostics = subprocess.run([RTLD, "--list-diagnostics"], capture_output=True, text=True, check=True).stdout
    facts = dict(line.split("=", 1) for line in diagnostics.splitlines() if "=" in line)
    cpu = hwcaps.read_cpu()
    assert facts["dl_platform"].strip('"') == hwcaps.platform_name(62, cpu)
    names = tuple(facts["dl_hwcaps_subdirs"].strip('"').split(":"))
    decoded = active_hwcaps(names, int(facts["dl_hwcaps_subdirs_active"], 16))
    assert decoded == _loader_help_hwcaps(), "two views of the same loader disagree: the decoding is wrong"
    assert hwcaps.active_glibc_hwcaps(62, cpu) == decoded
    assert loader_facts().hwcaps == decoded


def test_default_dirs_are_read_from_the_interpreters_bytes() -> None:
    from elfdeps.loader.environment import _system_dirs

    debian = b"\x00junk/\x00/lib/x86_64-linux-gnu/\x00/usr/lib/x86_64-linux-gnu/\x00/lib/\x00/usr/lib/\x00\x01"
    assert _system_dirs(debian) == ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib")
    assert _system_dirs(b"ELF\x00/lib64/\x00/usr/lib64/\x00\x00rest") == ("/lib64", "/usr/lib64")
    assert _system_dirs(b"no such table /usr/lib here") is None
