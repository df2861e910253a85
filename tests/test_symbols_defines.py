"""`elfdeps symbols --defines NAME` with NAME spelled as a person reads it (``mid::shout``, not
``_ZN3mid5shout17h<hash>E``), on the real cargo build of fixtures/rust "ws". The spellings come from
GNU c++filt, the definers and the winner from the files (readelf) and the real loader
(LD_DEBUG=bindings), never from elfdeps."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rust_support import fixture_or_skip

from elfdeps.cli import main
from fixtures.rust import RustFixture, elf_facts, loader

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "elfdeps" / "schemas" / "report-v2.schema.json").read_text())
CASE = "f1b_with_search_path"


def readable(spelled_by_cxxfilt: str) -> str:
    """c++filt's spelling without what elfdeps leaves out: a legacy name's ``::h<hash>`` and a v0
    name's ``[StableCrateId]``s."""
    return re.sub(r"\[[0-9a-f]+\]", "", re.sub(r"::h[0-9a-f]{16}$", "", spelled_by_cxxfilt))


def defines(fx: RustFixture, name: str) -> tuple[int, dict[str, Any]]:
    case = fx.case(CASE)
    llp = fx.ld_library_path(case)
    assert llp
    out = io.StringIO()
    argv = ["symbols", "--json", "--no-env", "--ld-library-path", llp, "--defines", name, str(fx.path(case.target))]
    code = main(argv, out, io.StringIO())
    report = json.loads(out.getvalue())
    jsonschema.validate(report, SCHEMA)
    return code, report


@pytest.fixture(scope="module")
def ws() -> RustFixture:
    return fixture_or_skip("ws")


def test_every_export_of_a_dylib_is_found_by_its_readable_name(ws: RustFixture) -> None:
    library = ws.file("target-dyn/debug/deps/libmid.so")
    rust_exports = [symbol.name for symbol in elf_facts.exports(library) if symbol.name.startswith(("_ZN", "_R"))]
    assert len(rust_exports) >= 2, "libmid.so exports its Rust functions"
    checked = 0
    for raw, spelled in zip(rust_exports, elf_facts.demangle(rust_exports), strict=True):
        code, report = defines(ws, readable(spelled))
        assert code == 0, spelled
        rows = [row for row in report["definers"] if row["object"].endswith("/libmid.so")]
        assert [row["symbol"] for row in rows] == [raw], spelled
        assert report["defines"] == readable(spelled)
        checked += 1
    assert checked == len(rust_exports)


def test_the_winner_of_a_readable_name_is_where_the_real_loader_binds(ws: RustFixture) -> None:
    case = ws.case(CASE)
    target = ws.path(case.target)
    bound = {
        b.symbol: b.definer for b in loader.bindings(target, ws.ld_library_path(case)) if b.referrer == str(target)
    }
    imports = [s.name for s in elf_facts.imports(target) if s.name.startswith(("_ZN", "_R")) and s.name in bound]
    assert imports, "the program imports Rust functions from its dylibs and libstd"
    for raw, spelled in zip(imports, elf_facts.demangle(imports), strict=True):
        code, report = defines(ws, readable(spelled))
        assert code == 0, spelled
        winners = [row for row in report["definers"] if row["wins"] and row["symbol"] == raw]
        assert len(winners) == 1, spelled
        assert Path(winners[0]["object"]).resolve() == Path(bound[raw]).resolve(), spelled


def test_a_raw_name_and_an_unknown_spelling(ws: RustFixture) -> None:
    code, report = defines(ws, "malloc")
    assert code == 0
    assert {row["symbol"] for row in report["definers"]} == {"malloc"}
    code, report = defines(ws, "mid::no_such_function")
    assert code == 1
    assert report["definers"] == []


def test_the_text_says_which_raw_name_a_spelling_is(ws: RustFixture) -> None:
    case = ws.case(CASE)
    llp = ws.ld_library_path(case)
    assert llp
    raw = [s.name for s in elf_facts.exports(ws.file("target-dyn/debug/deps/libmid.so")) if s.name.startswith("_ZN")]
    (spelled,) = [readable(name) for name in elf_facts.demangle(raw[:1])]
    out = io.StringIO()
    argv = ["symbols", "--no-env", "--ld-library-path", llp, "--defines", spelled, str(ws.path(case.target))]
    assert main(argv, out, io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{spelled} is {raw[0]}:"
    assert lines[1].startswith(f"wins  {raw[0]}  ") and lines[1].endswith("/libmid.so  (global, default)")
