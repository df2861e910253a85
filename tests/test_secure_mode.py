"""`--secure` (AT_SECURE: a setuid program) against the real loader running a setuid copy of a real
fixture program as root: euid (nobody) differs from uid (root), so ld.so runs in secure mode
(loader.md §8, S27). ld.so refuses trace mode there, so the oracle is whether the program starts."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfdeps.cli import main

NOBODY = 65534


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _starts(program: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(program)],
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )


@pytest.fixture(scope="module")
def setuid_tree() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("these tests need root (CI runs as root) to make a setuid-nobody copy")
    # Outside pytest's 0700 tmp tree: the program runs as nobody and must be able to read its libraries.
    root = Path(tempfile.mkdtemp(prefix="elfdeps-secure-", dir="/tmp"))
    os.chmod(root, 0o755)
    (root / "lib").mkdir()
    (root / "llp").mkdir()
    (root / "x.c").write_text("int x(void) { return 0; }\n")
    (root / "main.c").write_text("int x(void); int main(void) { return x(); }\n")
    for directory in ("lib", "llp"):
        subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                "-Wl,-soname,libx.so",
                "-o",
                str(root / directory / "libx.so"),
                str(root / "x.c"),
            ],
            check=True,
        )
    # RUNPATH $ORIGIN/lib: honoured normally, dropped in secure mode for an executable outside the
    # trusted directories; LD_LIBRARY_PATH: ignored in secure mode.
    subprocess.run(
        [
            "gcc",
            "-o",
            str(root / "origin_main"),
            str(root / "main.c"),
            str(root / "lib" / "libx.so"),
            "-Wl,-rpath,$ORIGIN/lib",
        ],
        check=True,
    )
    subprocess.run(
        ["gcc", "-o", str(root / "plain_main"), str(root / "main.c"), str(root / "lib" / "libx.so")], check=True
    )
    # The control: an absolute RUNPATH is honoured in secure mode, so this one must start.
    subprocess.run(
        [
            "gcc",
            "-o",
            str(root / "absolute_main"),
            str(root / "main.c"),
            str(root / "lib" / "libx.so"),
            f"-Wl,-rpath,{root / 'lib'}",
        ],
        check=True,
    )
    for name in ("origin_main", "plain_main", "absolute_main"):
        shutil.copy2(root / name, root / f"{name}_suid")
        os.chown(root / f"{name}_suid", NOBODY, NOBODY)
        os.chmod(root / f"{name}_suid", 0o4755)
    for path in root.rglob("*"):
        if path.is_dir():
            os.chmod(path, 0o755)
    yield root
    shutil.rmtree(root)


def test_the_setuid_copies_run_in_secure_mode_and_can_read_their_libraries(setuid_tree: Path) -> None:
    assert _starts(setuid_tree / "absolute_main_suid").returncode == 0
    code, out, _ = _run("list", "--no-env", "--secure", str(setuid_tree / "absolute_main_suid"))
    assert code == 0 and f"libx.so => {setuid_tree}/lib/libx.so" in out


def test_origin_runpath_works_normally_and_not_in_secure_mode(setuid_tree: Path) -> None:
    assert _starts(setuid_tree / "origin_main").returncode == 0
    code, out, _ = _run("list", "--no-env", str(setuid_tree / "origin_main"))
    assert code == 0 and f"libx.so => {setuid_tree}/lib/libx.so" in out

    real = _starts(setuid_tree / "origin_main_suid")
    assert real.returncode == 127 and "libx.so: cannot open shared object file" in real.stderr, real.stderr
    code, out, _ = _run("list", "--no-env", "--secure", str(setuid_tree / "origin_main_suid"))
    assert code == 1 and "\tlibx.so => not found" in out


def test_ld_library_path_is_ignored_in_secure_mode(setuid_tree: Path) -> None:
    llp = {"LD_LIBRARY_PATH": str(setuid_tree / "llp")}
    assert _starts(setuid_tree / "plain_main", llp).returncode == 0
    code, out, _ = _run(
        "list", "--no-env", "--ld-library-path", llp["LD_LIBRARY_PATH"], str(setuid_tree / "plain_main")
    )
    assert code == 0 and f"libx.so => {setuid_tree}/llp/libx.so" in out

    real = _starts(setuid_tree / "plain_main_suid", llp)
    assert real.returncode == 127 and "libx.so" in real.stderr, real.stderr
    code, out, _ = _run(
        "list",
        "--no-env",
        "--secure",
        "--ld-library-path",
        llp["LD_LIBRARY_PATH"],
        str(setuid_tree / "plain_main_suid"),
    )
    assert code == 1 and "\tlibx.so => not found" in out
    code, tree, _ = _run(
        "tree",
        "-v",
        "--no-env",
        "--secure",
        "--ld-library-path",
        llp["LD_LIBRARY_PATH"],
        str(setuid_tree / "plain_main_suid"),
    )
    assert "LD_LIBRARY_PATH" not in tree.split("searched, in order:")[1].split("found elsewhere")[0]
