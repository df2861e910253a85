"""One audit run binds many programs through one BindingCache (what a file defines, per name, version
and relocation class, is learnt once). The answer for a program must not depend on which programs the
run bound before it: each program audited in a directory gets exactly the findings it gets alone.

The files are built with gcc: two builds of libv.so (symbol versions V1 and V2 of `sym` and `data`),
a program linked against each, and one shipped libv.so (the V1 build) next to them. The V2 program's
references fail the version check against it (the real loader agrees: `ldd -r`)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from elfdeps.cli import main

LIBRARY = "int data = 1;\nint sym(void) { return data; }\n"
PROGRAM = "extern int data;\nint sym(void);\nint main(void) { return sym() + data - 2; }\n"


def _gcc(*argv: str | Path) -> None:
    subprocess.run(["gcc", *map(str, argv)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("binding-cache")
    (root / "v.c").write_text(LIBRARY)
    (root / "main.c").write_text(PROGRAM)
    for version in ("V1", "V2"):
        build = root / f"build-{version}"
        build.mkdir()
        (root / f"{version}.map").write_text(f"{version} {{ global: sym; data; local: *; }};\n")
        _gcc("-shared", "-fPIC", "-o", build / "libv.so", root / "v.c",
             f"-Wl,--version-script={root / f'{version}.map'}", "-Wl,-soname,libv.so")  # fmt: skip
    ship = root / "ship"
    (ship / "bin").mkdir(parents=True)
    (ship / "lib").mkdir()
    for version in ("V1", "V2"):
        _gcc("-o", ship / "bin" / f"prog-{version.lower()}", root / "main.c", "-L", root / f"build-{version}",
             "-lv", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")  # fmt: skip
    (ship / "lib" / "libv.so").write_bytes((root / "build-V1" / "libv.so").read_bytes())
    return ship


def _findings(*paths: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    main(["audit", "--json", "-j", "1", "--no-env", "--fail-on", "info", *map(str, paths)], out, io.StringIO())
    findings: list[dict[str, Any]] = json.loads(out.getvalue())["findings"]
    return findings


def _own(findings: list[dict[str, Any]], program: Path) -> list[tuple[str, str | None, str | None]]:
    return sorted((f["rule"], f.get("symbol"), f.get("version")) for f in findings if f["entry"] == str(program))


def test_the_real_loader_rejects_the_v2_program(shipped: Path) -> None:
    ldd = subprocess.run(["ldd", "-r", str(shipped / "bin" / "prog-v2")], capture_output=True, text=True, check=False)
    assert "version `V2' not found" in ldd.stderr + ldd.stdout
    ldd = subprocess.run(["ldd", "-r", str(shipped / "bin" / "prog-v1")], capture_output=True, text=True, check=False)
    assert "not found" not in ldd.stderr + ldd.stdout


@pytest.mark.parametrize("order", ["v1-first", "v2-first"])
def test_each_program_gets_the_findings_it_gets_alone(shipped: Path, order: str) -> None:
    v1, v2 = shipped / "bin" / "prog-v1", shipped / "bin" / "prog-v2"
    alone_v1, alone_v2 = _own(_findings(v1), v1), _own(_findings(v2), v2)
    assert ("missing-symbol", "sym", "V2") in alone_v2 and ("missing-symbol", "data", "V2") in alone_v2
    assert not [finding for finding in alone_v1 if finding[0] == "missing-symbol"]
    together = _findings(*((v1, v2) if order == "v1-first" else (v2, v1)))
    assert _own(together, v1) == alone_v1
    assert _own(together, v2) == alone_v2
