"""elfdeps.rust.mangling: crate roots of v0 and legacy names, checked against GNU c++filt (binutils >= 2.36
demangles v0 and prints every crate as ``name[StableCrateId hex]``), on hand-picked real names and on every
exported v0 name of the toolchain's libstd and librustc_driver; robustness with hypothesis.

c++filt's tolerances, by design of the v0 printer it shares with rustc-demangle (rust.md §1.1):
- it does not print the instantiating crate of a generic instance, nor the impl path of ``M``/``X`` paths
  (``<str>::split_once`` lives in core): those are our documented extra roots, each checked to be spelled
  literally in the mangled name;
- it prints ``f16[0]``/``f128[0]`` for the float types rustc spells as crate roots without a
  disambiguator: those are types, not crates, and are not among our roots.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rust_builds import have_nightly, rustc_print, sysroot_libdir

from elfdeps.rust.mangling import Crate, MangledName, Scheme, looks_mangled, parse

_PRINTED = re.compile(rb"((?:[A-Za-z0-9_]|[\x80-\xff])+)\[([0-9a-f]+)\]")
_B62 = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def cxxfilt(names: list[bytes]) -> list[bytes]:
    out = subprocess.run(["c++filt"], input=b"\n".join(names) + b"\n", capture_output=True, check=True).stdout
    lines = out.split(b"\n")
    assert len(lines) >= len(names)
    return lines[: len(names)]


def printed_crates(demangled: bytes) -> set[Crate]:
    return {Crate(name, int(digits, 16)) for name, digits in _PRINTED.findall(demangled) if int(digits, 16)}


def crate_root_spelling(crate: Crate) -> bytes:
    """``s<base62>_<len><name>`` as rustc's v0 encoder writes a crate root (an independent encoder)."""
    assert crate.scid is not None
    value = crate.scid - 2  # disambiguator = base62 + 1, base62 "_" = 0 and "<digits>_" = digits + 1
    digits = b""
    while value >= 0:
        value, rest = divmod(value, 62)
        digits = _B62[rest : rest + 1] + digits
        if not value:
            break
    separator = b"_" if crate.name[:1] in (b"_",) or crate.name[:1].isdigit() else b""
    return b"s" + digits + b"_" + b"%d" % len(crate.name) + separator + crate.name


# -- real names, one by one (expected crates and hashes from c++filt, recomputed by the test) ------

REAL_V0 = [
    # <str>::trim_start_matches::<&str>, a core generic compiled in rustc_demangle (stable 1.95 libstd)
    b"_RINvMNtCsgEmfK2I1SDS_4core3stre18trim_start_matchesReECsgY6Mt91CT9J_14rustc_demangle",
    # <f16 as core::str::traits::FromStr>::from_str: f16 is spelled C3f16
    b"_RNvXs0_NtNtCsgEmfK2I1SDS_4core3num7dec2fltC3f16NtNtNtB9_3str6traits7FromStr8from_str",
    # __rustc::rust_begin_unwind: the toolchain fingerprint of 1.95
    b"_RNvCsfLfy6EI15iL_7___rustc17rust_begin_unwind",
    # std::io::stdio::_print
    b"_RNvNtNtCsjrHSEGnQ3l9_3std2io5stdio6__print",
    # <RawVecInner>::try_allocate_in, inline, instantiated in gimli (an import of a prefer-dynamic dylib)
    b"_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecNtB5_11RawVecInner15try_allocate_inCsduwmD7cSIQq_5gimli",
    # punycode crate name (grosse with umlaut and sharp s), disambiguator 0x3c1c0
    b"_RNvCs1234_u9gre_6ka8i1x",
]


@pytest.mark.parametrize("name", REAL_V0)
def test_v0_roots_agree_with_cxxfilt(name: bytes) -> None:
    parsed = parse(name)
    assert isinstance(parsed, MangledName) and parsed.scheme is Scheme.V0
    (demangled,) = cxxfilt([name])
    assert printed_crates(demangled) <= set(parsed.roots)
    leading = _PRINTED.match(demangled)
    if leading:  # "crate[hash]::…": the item path's crate is the owner
        assert parsed.owner == Crate(leading.group(1), int(leading.group(2), 16))


def test_instantiating_crate_and_owner() -> None:
    parsed = parse(REAL_V0[0])
    assert parsed is not None
    (core,) = printed_crates(cxxfilt([b"_RNvNtCsgEmfK2I1SDS_4core3str1x"])[0])
    (rustc_demangle,) = printed_crates(cxxfilt([b"_RNvCsgY6Mt91CT9J_14rustc_demangle1x"])[0])
    assert parsed.owner == core  # the impl path's crate: <str> lives in core
    assert parsed.instantiating == rustc_demangle
    assert parsed.compiled_in == rustc_demangle and parsed.generic is True
    assert parsed.roots == (core, rustc_demangle)
    assert str(core) == "core[c1f1a4ba060b9bfa]"


def test_float_pseudo_root_is_not_a_crate() -> None:
    parsed = parse(REAL_V0[1])
    assert parsed is not None and parsed.generic is False
    assert [crate.name for crate in parsed.roots] == [b"core"]
    assert b"f16[0]" in cxxfilt([REAL_V0[1]])[0]


def test_rustc_fingerprint_and_punycode() -> None:
    parsed = parse(REAL_V0[2])
    assert parsed is not None and parsed.owner is not None and parsed.owner.scid is not None
    assert b"__rustc[%016x]" % parsed.owner.scid in cxxfilt([REAL_V0[2]])[0]
    puny = parse(REAL_V0[5])
    assert puny is not None and puny.owner == Crate("größe".encode(), 0x3C1C0)
    assert "größe[3c1c0]".encode() in cxxfilt([REAL_V0[5]])[0]


def test_back_reference_and_vendor_suffix() -> None:
    base = parse(REAL_V0[4])
    with_suffix = parse(REAL_V0[4] + b".llvm.12345")
    assert base is not None and base == with_suffix
    assert base.instantiating is not None and base.instantiating.name == b"gimli"
    assert parse(REAL_V0[4] + b"X") is None  # trailing garbage is not a suffix


def shared_name() -> bytes:
    return b"_ZN6shared4HITS17he34f143c43c632b9E.llvm.7"


def test_legacy_names() -> None:
    shared = parse(b"_ZN6shared4HITS17he34f143c43c632b9E")
    crate = Crate(b"shared", None)
    assert shared == MangledName(Scheme.LEGACY, crate, None, (crate,), (b"shared", b"HITS"))
    assert shared.generic is None and shared.compiled_in == Crate(b"shared", None)
    core = parse(b"_ZN4core3cmp3Ord3max17h0123456789abcdefE.llvm.99")
    assert core is not None and core.segments == (b"core", b"cmp", b"Ord", b"max")
    segment = b"_$LT$core..slice..iter..Iter$LT$T$GT$$u20$as$u20$core..iter..Iterator$GT$"
    impl_name = b"_ZN%d%s4next17h0123456789abcdefE" % (len(segment), segment)
    assert cxxfilt([impl_name])[0] == b"<core::slice::iter::Iter<T> as core::iter::Iterator>::next::h0123456789abcdef"
    impl = parse(impl_name)
    assert impl is not None and impl.owner is None and impl.roots == ()
    for cxx in (b"_ZNSt6vectorIiSaIiEE9push_backERKi", b"_ZN3foo3barEv", b"_ZN3foo17h0123456789abcdefEv", b"main"):
        assert parse(cxx) is None and not looks_mangled(cxx)
    assert looks_mangled(b"_RNvC0") and parse(b"_RNvC0") is None
    # a legacy name claims to be Rust by its hash, parsed or not (a parse failure is then worth counting)
    assert looks_mangled(b"_ZN4core3fmt5write17h0123456789abcdefE") and looks_mangled(shared_name())
    assert looks_mangled(b"_ZN17h0123456789abcdefE") and parse(b"_ZN17h0123456789abcdefE") is None
    assert not looks_mangled(b"_ZN3foo17h0123456789abcdeE")  # 15 hex digits


# -- the differential over real symbol tables -----------------------------------------------------


def _exported_v0(path: Path) -> list[bytes]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, check=True).stdout
    names = (line.split()[-1] for line in out.splitlines() if line.split())
    return sorted({name for name in names if name.startswith(b"_R")})


def _toolchain_files(toolchain: str | None) -> list[Path]:
    libstd = next(sysroot_libdir(toolchain).glob("libstd-*.so"))
    driver = next((Path(rustc_print("sysroot", toolchain)) / "lib").glob("librustc_driver-*.so"))
    return [libstd, driver]


def _differential(files: list[Path]) -> dict[str, int]:
    names = sorted({name for path in files for name in _exported_v0(path)})
    counts = {"names": len(names), "prefixed": 0, "extra": 0, "float_roots": 0}
    memo: dict[bytes, Crate | None] = {}
    for name, demangled in zip(names, cxxfilt(names), strict=True):
        parsed = parse(name, memo)
        assert parsed is not None, name
        printed = printed_crates(demangled)
        assert printed <= set(parsed.roots), (name, demangled)
        counts["float_roots"] += bool(re.search(rb"\bf(16|128)\[0\]", demangled))
        leading = _PRINTED.match(demangled)
        if leading:
            counts["prefixed"] += 1
            assert parsed.owner == Crate(leading.group(1), int(leading.group(2), 16)), (name, demangled)
        for extra in set(parsed.roots) - printed:
            counts["extra"] += 1
            # the instantiating crate, or a crate of an impl path (c++filt then prints "<Self>" or "<T as Trait>")
            assert extra == parsed.instantiating or b"<" in demangled, (name, demangled)
            assert crate_root_spelling(extra) in name, (name, extra)
    return counts


def test_differential_against_cxxfilt_stable() -> None:
    counts = _differential(_toolchain_files(None))
    # 1.95: 1,749 libstd + 19,883 rustc_driver exports; a new toolchain moves these, not by an order
    assert counts["names"] >= 15_000 and counts["prefixed"] >= 3_000 and counts["extra"] >= 1_000
    assert counts["float_roots"] >= 1


@pytest.mark.skipif(not have_nightly(), reason="needs the nightly toolchain (rustc +nightly), not installable offline")
def test_differential_against_cxxfilt_nightly() -> None:
    counts = _differential(_toolchain_files("nightly"))
    assert counts["names"] >= 15_000 and counts["prefixed"] >= 3_000


def test_speed_on_rustc_driver() -> None:
    names = _exported_v0(_toolchain_files(None)[1])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        memo: dict[bytes, Crate | None] = {}
        for name in names:
            parse(name, memo)
        best = min(best, time.perf_counter() - start)
    # measured 0.27-0.6 s for 19,883 names on a shared 2-CPU machine; 4 s means something went quadratic
    assert best < 4.0, f"{len(names)} names in {best:.2f} s"


# -- robustness -----------------------------------------------------------------------------------

_REAL = [*REAL_V0, b"_ZN6shared4HITS17he34f143c43c632b9E"]


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    for name in (data, b"_R" + data, b"_ZN" + data):
        result = parse(name)
        assert result is None or isinstance(result, MangledName)
        looks_mangled(name)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_REAL),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    st.integers(0, 400),
)
def test_mutated_real_names_never_raise(name: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    mutated = bytearray(name)
    for position, value in flips:
        if mutated:
            mutated[position % len(mutated)] = value
    for candidate in (bytes(mutated), bytes(mutated[:cut]), bytes(mutated) + bytes(mutated[2:])):
        result = parse(candidate)
        assert result is None or isinstance(result, MangledName)


@pytest.mark.parametrize(
    "name",
    [
        b"_R" + b"N" * 5000 + b"C1a",  # a very deep nesting
        b"_RI" * 3000 + b"C1a",
        b"_RINvC1a1x" + b"B2_" * 4000 + b"E",  # many back-references to one path
        b"_RINvC1a1x" + b"".join(b"RB%s_" % _B62[i % 10 : i % 10 + 1] for i in range(3000)) + b"E",
        b"_R" + b"A" * 20000,
        b"_ZN" + b"1a" * 20000 + b"17h0123456789abcdefE",
    ],
)
def test_hostile_shapes_are_bounded(name: bytes) -> None:
    start = time.perf_counter()
    parse(name)
    assert time.perf_counter() - start < 2.0  # linear: ~0.1 ms here; generous for a loaded CI machine
