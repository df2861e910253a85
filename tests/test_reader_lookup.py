"""elfdeps' relocation classes per machine, read through ``ElfFile.symbol_references``, against glibc's
rules applied to GNU readelf's, pyelftools' and LIEF's relocations (tests/lookup_oracle.py; the whole
lookup path of every fixture and system file is compared in test_reader_differential).

The relocation fixtures (tests/reader_fixtures.py: x86-64, i386 with gcc -m32, AArch64 cross-built with
Debian's gcc-aarch64-linux-gnu) hold every reference class of each machine; -mtls-dialect=gnu2 adds TLS
descriptors on x86. A copy with e_machine patched to a machine elfdeps does not know shows what such a
machine gets (elfdeps/elf/relocations.py).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lookup_oracle import elf_h, expected_references
from reader_facts import lief_lookup_inputs, our_lookup_facts, readelf_relocations
from reader_fixtures import FIXTURE_NAMES, RELOC_MACHINES

from elfdeps.elf.lookup import gnu_hash

# ---------------------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("prefix", [machine[0] for machine in RELOC_MACHINES])
def test_relocation_classes_match_readelf(prefix: str, reader_fixtures: dict[str, Path]) -> None:
    """Each machine's relocation fixtures, classed by glibc's rules from readelf -D -r's r_info."""
    compared = 0
    for name in FIXTURE_NAMES:
        if name.startswith(prefix + "_"):
            path = str(reader_fixtures[name])
            readelf = lief_lookup_inputs(path)
            expected = expected_references(type(readelf)(readelf.machine, readelf.bits, 1, readelf_relocations(path)))
            assert our_lookup_facts(path, ()).references == expected, name
            compared += len(expected)
    assert compared >= 20


@pytest.mark.parametrize("prefix", [machine[0] for machine in RELOC_MACHINES])
def test_relocation_fixtures_hold_every_reference_class(prefix: str, reader_fixtures: dict[str, Path]) -> None:
    """Agreement on an empty answer would prove nothing: each machine's fixtures have a lazy JUMP_SLOT,
    a PLT-class TLS reference that is not lazy, a data reference and a COPY relocation."""
    seen = set()
    for name in FIXTURE_NAMES:
        if name.startswith(prefix + "_"):
            seen |= {(kind, lazy) for _index, kind, lazy in our_lookup_facts(str(reader_fixtures[name]), ()).references}
    assert seen == {("plt", True), ("plt", False), ("data", False), ("copy", False)}, seen


@pytest.mark.parametrize("prefix", [machine[0] for machine in RELOC_MACHINES if machine[5]])
def test_tls_descriptors_are_plt_class(prefix: str, reader_fixtures: dict[str, Path]) -> None:
    """-mtls-dialect=gnu2 makes TLS descriptor relocations (R_X86_64_TLSDESC 36, R_386_TLS_DESC 41):
    PLT class, and not lazy (elf_machine_lazy_rel initialises them at load time)."""
    path = str(reader_fixtures[f"{prefix}_tlsdesc_library"])
    descriptor = elf_h()["R_X86_64_TLSDESC" if prefix == "reloc_x86_64" else "R_386_TLS_DESC"]
    rows = [r for r in readelf_relocations(path) if r.type == descriptor]
    assert len(rows) == 2  # ext_tls_gd and lib_tls
    ours = set(our_lookup_facts(path, ()).references)
    assert {(r.symbol, "plt", False) for r in rows if r.symbol} <= ours


def test_an_unknown_machine_is_class_unknown_and_never_lazy(reader_fixtures: dict[str, Path], tmp_path: Path) -> None:
    """e_machine patched to EM_SPARCV9 (43), a machine elfdeps does not know: no guess of PLT or COPY."""
    original = reader_fixtures["reloc_x86_64_library"]
    patched = tmp_path / "libsparc.so"
    data = bytearray(original.read_bytes())
    struct.pack_into("<H", data, 18, 43)
    patched.write_bytes(data)
    ours = our_lookup_facts(str(patched), ())
    expected = tuple((r.symbol, "unknown", False) for r in readelf_relocations(str(original)) if r.symbol and r.type)
    assert ours.references == expected and len(expected) >= 10


def test_audit_of_an_unknown_machine_says_the_class_is_unknown(tmp_path: Path) -> None:
    """The audit scenario missing_data_vs_lazy_function (x86-64: f and var missing from the libM that is
    loaded) with every file, libc included, patched to EM_SPARCV9: the references are bound as class
    "unknown", and the findings say when they fail is not known instead of stating it. (var, a COPY
    relocation on x86-64, now binds to the program's own copy: an unknown class is looked up like data.)"""
    import io
    import json
    import os

    from elfdeps.cli import main
    from fixtures import build
    from fixtures.audit_scenarios import audit_by_name

    scenario = audit_by_name("missing_data_vs_lazy_function")
    source = build(scenario.name, scenario.recipe)
    for name, origin in [
        ("main", source / "main"),
        ("libM.so", source / "libM.so"),
        ("libc.so.6", Path(os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6"))),
    ]:
        data = bytearray(origin.read_bytes())
        struct.pack_into("<H", data, 18, 43)
        (tmp_path / name).write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    main(["audit", "--json", "--no-env", str(tmp_path / "main")], out, err)
    missing = {
        f["symbol"]: f["message"] for f in json.loads(out.getvalue())["findings"] if f["rule"] == "missing-symbol"
    }
    assert "f" in missing and "var" not in missing, (missing, err.getvalue())
    assert all("does not know this machine's relocation types" in message for message in missing.values())


def _dl_new_hash(name: bytes) -> int:
    """glibc's dl_new_hash as written in dl-hash.h: h = h * 33 + c, from 5381, in 32 bits."""
    value = 5381
    for byte in name:
        value = (value * 33 + byte) % (1 << 32)
    return value


@given(st.binary(max_size=2100))
def test_gnu_hash_is_dl_new_hash(name: bytes) -> None:
    assert gnu_hash(name) == _dl_new_hash(name)


@pytest.mark.parametrize("size", [0, 1, 2, 638, 639, 640, 641, 5000])
def test_gnu_hash_either_side_of_its_table(size: int) -> None:
    """Names shorter than the powers table are read as base-33 numerals, longer ones take the loop: both
    agree, also with int() limited to the fewest digits an interpreter allows."""
    saved = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        for name in (b"\xff" * size, bytes(range(256)) * (size // 256) + bytes(range(size % 256))):
            assert gnu_hash(name) == _dl_new_hash(name)
    finally:
        sys.set_int_max_str_digits(saved)
