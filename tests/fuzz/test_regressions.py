"""One test per bug the fuzzer found (tests/fuzz/README.md lists them with the mutant that found it).

Each input is a damaged copy of a real seed file (seeds.py), damaged exactly as the fuzzer's mutant was;
each test fails on the code before its fix.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from elfdeps.cli import main
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError
from fuzz.harness import Workspace, argv_for, check_run, run_in_process, schema
from fuzz.seeds import DEPENDENCY, GROUPS, LIBRARY, PROGRAM, Seed, build_seeds


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[tuple[str, str], Seed], Workspace]]:
    seed_dir, seeds = build_seeds()
    yield seeds, Workspace(tmp_path_factory.mktemp("regressions"), seed_dir, tuple(GROUPS))


def _field(seed: Seed, name: str) -> tuple[int, int]:
    found = next(f for f in seed.layout.fields if f.name == name)
    return found.offset, found.size


def test_sarif_fingerprint_of_a_non_utf8_name(env: tuple[dict[tuple[str, str], Seed], Workspace]) -> None:
    """Found by mutant 1:21 (a \\x9b injected into a name): `audit --format sarif` exited 3 with
    UnicodeEncodeError, because the finding's fingerprint encoded the name's surrogate escapes as UTF-8."""
    seeds, workspace = env
    seed = seeds[("gnu64", PROGRAM)]
    needed = next(name for name in seed.layout.names if name.kind == "needed")
    content = bytearray(seed.data)
    content[needed.offset] = 0xFF  # "\xffibfuzz.so.1": not UTF-8, not found
    with workspace.placed(seed, bytes(content)) as directory:
        run = run_in_process(argv_for(("audit", "--format", "sarif"), str(directory / PROGRAM), workspace.config))
    assert run.code == 1, run.err
    assert check_run(run) == []
    results = json.loads(run.out)["runs"][0]["results"]
    assert [r["properties"]["library"] for r in results if r["ruleId"] == "missing-library"] == ["\udcffibfuzz.so.1"]


def test_symbols_json_when_the_loader_stops(env: tuple[dict[tuple[str, str], Seed], Workspace]) -> None:
    """Found by mutant 1:18 (libfuzz.so.1 cut short): `symbols --json` printed nothing at all, with
    exit 1, when the loader would stop (here: a needed library shorter than an ELF header)."""
    seeds, workspace = env
    seed = seeds[("gnu64", LIBRARY)]
    with workspace.placed(seed, seed.data[:40]) as directory:
        out, err = io.StringIO(), io.StringIO()
        code = main(["symbols", "--json", "--no-env", str(directory / PROGRAM)], out, err)
    assert code == 1
    assert err.getvalue().startswith("elfdeps: ") and "would stop" in err.getvalue()
    report = json.loads(out.getvalue())
    loaded = schema(report["schema_version"])
    assert loaded is not None
    import jsonschema

    jsonschema.validate(report, loaded)
    assert report["bindings"] == []
    assert report["files"][0]["load_error"] is not None


def test_section_renamed_symtab_is_not_read_as_symbols(env: tuple[dict[tuple[str, str], Seed], Workspace]) -> None:
    """Found by mutant 2:1190 (sh_name of .hash set to 1, which names it ".symtab"): audit exited 3
    with struct.error, decoding the 4-byte-entry hash section as 24-byte symbols. The real .symtab (by
    type SHT_SYMTAB) is read instead."""
    seeds, workspace = env
    seed = seeds[("both64", PROGRAM)]
    hash_index = next(i for i, s in enumerate(ELFFile(io.BytesIO(seed.data)).iter_sections()) if s.name == ".hash")
    offset, size = _field(seed, f"shdr[{hash_index}](.hash).sh_name")
    content = bytearray(seed.data)
    struct.pack_into("<I", content, offset, 1)
    assert [s.name for s in ELFFile(io.BytesIO(bytes(content))).iter_sections()].count(".symtab") == 2
    assert b"main" in ElfFile("damaged", bytes(content)).static_definitions
    with workspace.placed(seed, bytes(content)) as directory:
        for command in (("audit",), ("audit", "--json"), ("symbols",)):
            run = run_in_process(argv_for(command, str(directory / PROGRAM), workspace.config))
            assert run.code in (0, 1) and check_run(run) == [], (command, run.err)
    assert size == 4


def test_regression_inputs_are_real_files() -> None:
    """The seeds the regressions damage come from gcc (via the builder), not from hand-written bytes."""
    seed_dir, _seeds = build_seeds()
    assert Path(seed_dir).name.startswith("fuzz_seeds-")
    assert (Path(seed_dir) / "gnu64" / PROGRAM).read_bytes()[:4] == b"\x7fELF"


def test_unaligned_jmprel_inside_rela_keeps_whole_entries(env: tuple[dict[tuple[str, str], Seed], Workspace]) -> None:
    """Found by mutant 8:565 (one bit flipped in DT_RELA's value): symbols and audit exited 3 with
    struct.error, because DT_JMPREL then fell inside DT_RELA's range at an offset that is no multiple of
    the entry size, and the DT_RELA part was cut there."""
    seeds, workspace = env
    seed = seeds[("both64", LIBRARY)]
    dynamic = {tag: at for tag, at in seed.layout.dyn_entries}
    values = {tag: struct.unpack_from("<Q", seed.data, at + 8)[0] for tag, at in dynamic.items()}
    rela, relasz, jmprel = values[7], values[8], values[23]
    assert jmprel == rela + relasz  # .rela.plt right after .rela.dyn, as ld lays them out
    content = bytearray(seed.data)
    struct.pack_into("<Q", content, dynamic[7] + 8, rela + 2)  # DT_JMPREL is now 2 bytes short of the end
    references = ElfFile("damaged", bytes(content)).symbol_references
    assert references and all(ref.symbol_index > 0 for ref in references)
    with workspace.placed(seed, bytes(content)) as directory:
        for target in (directory / LIBRARY, directory / PROGRAM):
            for command in (("symbols", "--json"), ("audit", "--json")):
                run = run_in_process(argv_for(command, str(target), workspace.config))
                assert run.code in (0, 1) and check_run(run) == [], (command, run.err)


def test_huge_symtab_size_is_a_format_error(env: tuple[dict[tuple[str, str], Seed], Workspace]) -> None:
    """Found by mutants 8:5294 and 8:6717 (.symtab's sh_size set to all ones): audit exited 3 with
    struct.error "total struct size too long", raised by the bounds check itself, while explaining a
    missing symbol (which reads the .symtab of every loaded object)."""
    seeds, workspace = env
    seed = seeds[("sysv64", DEPENDENCY)]
    symtab = next(i for i, s in enumerate(ELFFile(io.BytesIO(seed.data)).iter_sections()) if s.name == ".symtab")
    offset, size = _field(seed, f"shdr[{symtab}](.symtab).sh_size")
    content = bytearray(seed.data)
    content[offset : offset + size] = b"\xff" * size
    with pytest.raises(ElfFormatError, match="implausibly large"):
        _ = ElfFile("damaged", bytes(content)).static_definitions
    with workspace.placed(seed, bytes(content)) as directory:
        for command in (("audit",), ("audit", "--json"), ("audit", "--format", "sarif")):
            run = run_in_process(argv_for(command, str(directory), workspace.config))
            assert run.code == 1 and check_run(run) == [], (command, run.err)  # missing __tls_get_addr
            assert "missing-symbol" in run.out
