"""For a library not found, `tree` says where a file of that name exists and what would make the
loader find it; the suggested fix is checked by applying it (elfdeps and the real loader agree)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

from oracle import trace

from elfdeps.cli import main


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cargo_style_deps_directory_is_found_and_the_fix_works(tmp_path: Path) -> None:
    debug = tmp_path / "proj" / "target" / "debug"
    (debug / "deps").mkdir(parents=True)
    (tmp_path / "foo.c").write_text("int foo(void) { return 0; }\n")
    (tmp_path / "app.c").write_text("int foo(void); int main(void) { return foo(); }\n")
    library = debug / "deps" / "libfoo.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", str(library), str(tmp_path / "foo.c")], check=True
    )
    app = debug / "app"
    subprocess.run(["gcc", "-o", str(app), str(tmp_path / "app.c"), str(library)], check=True)

    code, out, _ = _run("tree", "--no-env", str(app))
    assert code == 1
    assert f"libfoo.so => not found (a copy in {debug / 'deps'})" in out
    assert f"fix: LD_LIBRARY_PATH={debug / 'deps'}\n" in out
    assert "with it the missing library resolves" in out
    code, verbose, _ = _run("tree", "-v", "--no-env", str(app))
    assert f"found elsewhere: {library}" in verbose

    _code, report, _ = _run("tree", "--json", "--no-env", str(app))
    missing = next(o for o in json.loads(report)["files"][0]["objects"] if not o["found"])
    fix = missing["nearby"][0]
    assert fix == {
        "path": str(library),
        "suitable": True,
        "ld_library_path": str(debug / "deps"),
        "runpath": "$ORIGIN/deps",
        "note": None,
    }
    # Apply the suggested LD_LIBRARY_PATH: elfdeps and ld.so now both find it.
    code, listed, _ = _run("list", "--no-env", "--ld-library-path", fix["ld_library_path"], str(app))
    assert code == 0
    assert tuple(listed.splitlines()) == trace(str(app), env={"LD_LIBRARY_PATH": fix["ld_library_path"]}).lines
    # Apply the suggested RUNPATH with patchelf: found without any environment.
    subprocess.run(["patchelf", "--add-rpath", fix["runpath"], str(app)], check=True)
    code, listed, _ = _run("list", "--no-env", str(app))
    assert code == 0 and f"libfoo.so => {debug}/deps/libfoo.so" in listed
    assert tuple(listed.splitlines()) == trace(str(app)).lines


def test_rust_prefer_dynamic_binary_points_at_the_toolchains_libstd(tmp_path: Path) -> None:
    (tmp_path / "main.rs").write_text('fn main() { println!("hi"); }\n')
    app = tmp_path / "app"
    subprocess.run(
        ["rustc", "-C", "prefer-dynamic", "-o", str(app), str(tmp_path / "main.rs")],
        check=True,
        capture_output=True,
        env={**os.environ, "RUSTC_BOOTSTRAP": ""},
    )
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True).stdout.strip()
    code, out, _ = _run("tree", "-v", "--no-env", str(app))
    assert code == 1
    assert "libstd-" in out and "=> not found (a copy in " in out
    assert "found elsewhere: " in out and "/lib/rustlib/" in out
    _code, report, _ = _run("tree", "--json", "--no-env", str(app))
    libstd = next(o for o in json.loads(report)["files"][0]["objects"] if o["name"].startswith("libstd-"))
    suitable = [m for m in libstd["nearby"] if m["suitable"]]
    assert suitable, libstd["nearby"]
    toolchain_lib = os.path.dirname(suitable[0]["path"])
    assert os.path.realpath(toolchain_lib).startswith(os.path.realpath(sysroot)) or "/toolchains/" in toolchain_lib
    code, listed, _ = _run("list", "--no-env", "--ld-library-path", suitable[0]["ld_library_path"], str(app))
    assert code == 0
    assert tuple(listed.splitlines()) == trace(str(app), env={"LD_LIBRARY_PATH": suitable[0]["ld_library_path"]}).lines
