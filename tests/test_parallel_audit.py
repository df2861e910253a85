"""Directory audits at scale (issue 8): `-j N` gives byte-for-byte the output of `-j 1`; descriptors
stay bounded (300 files audited under RLIMIT_NOFILE 64); running out of descriptors is elfdeps'
own internal error (exit 3), never "bad input"."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEM_LIBS = Path("/usr/lib/x86_64-linux-gnu")


def _copies(directory: Path, count: int, large: int) -> list[Path]:
    """Copies of real system libraries: the ``count - large`` smallest and ``large`` between 64 KiB and
    1 MiB (big ones are mapped, small ones read: both kinds of file handling are exercised)."""
    files = sorted(
        (path for path in SYSTEM_LIBS.glob("*.so*") if path.is_file() and not path.is_symlink()),
        key=lambda path: path.stat().st_size,
    )
    files = [path for path in files if path.read_bytes()[:4] == b"\x7fELF"]
    big = [path for path in files if 64 << 10 < path.stat().st_size < 1 << 20]
    chosen = files[: count - large] + big[-large:]
    assert len(chosen) == count, f"{SYSTEM_LIBS} holds {len(files)} usable libraries"
    directory.mkdir()
    copies = []
    for source in chosen:
        copy = directory / source.name
        shutil.copyfile(source, copy)
        copies.append(copy)
    return copies


def _elfdeps(*argv: str, nofile: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return subprocess.run(
        [sys.executable, "-m", "elfdeps", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=limit,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def library_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit") / "libs"
    _copies(directory, 300, 20)
    return directory


@pytest.fixture(scope="module")
def serial_json(library_copies: Path) -> subprocess.CompletedProcess[str]:
    """The reference: the audit of the 300 copies in one process, descriptors unlimited."""
    return _elfdeps("audit", "--no-env", "-j", "1", "--json", str(library_copies))


def test_parallel_audit_json_is_byte_identical(
    library_copies: Path, serial_json: subprocess.CompletedProcess[str]
) -> None:
    parallel = _elfdeps("audit", "--no-env", "-j", "2", "--json", str(library_copies))
    assert serial_json.returncode == parallel.returncode == 1, serial_json.stderr  # plugins miss their host
    assert parallel.stdout == serial_json.stdout
    assert sorted(file["path"] for file in json.loads(serial_json.stdout)["files"]) == sorted(
        str(path) for path in library_copies.iterdir()
    )
    assert parallel.stderr == serial_json.stderr == ""


@pytest.mark.parametrize("output", [["--format", "sarif"], []])
def test_parallel_audit_text_and_sarif_are_byte_identical(tmp_path: Path, output: list[str]) -> None:
    directory = tmp_path / "libs"
    _copies(directory, 40, 4)
    serial = _elfdeps("audit", "--no-env", "-j", "1", *output, str(directory))
    parallel = _elfdeps("audit", "--no-env", "-j", "2", *output, str(directory))
    assert serial.returncode == parallel.returncode and serial.returncode in {0, 1}
    assert parallel.stdout == serial.stdout
    if output:
        assert json.loads(serial.stdout)["runs"][0]["results"], "the copies give findings to compare"
    else:
        assert serial.stdout.endswith(" in 40 files\n")


def test_three_hundred_files_audit_under_sixty_four_descriptors(
    library_copies: Path, serial_json: subprocess.CompletedProcess[str]
) -> None:
    limited = _elfdeps("audit", "--no-env", "-j", "1", "--json", str(library_copies), nofile=64)
    assert limited.returncode == serial_json.returncode == 1, limited.stderr
    assert limited.stdout == serial_json.stdout and limited.stderr == ""


def test_running_out_of_descriptors_is_an_internal_error_not_bad_input() -> None:
    """Every descriptor taken (after elfdeps' modules are imported): opening the file fails with
    EMFILE, which is elfdeps' own trouble, not a property of the file."""
    code = (
        "import io, os, resource, sys\n"
        "import elfdeps.cli, elfdeps.audit.runner, elfdeps.render.audit_text, elfdeps.render.text\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
        "held = []\n"
        "try:\n"
        "    while True: held.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError: pass\n"
        "err = io.StringIO()\n"
        "rc = elfdeps.cli.main(['audit', '--no-env', '-j', '1', '/usr/bin/ls'], io.StringIO(), err)\n"
        "print(rc, err.getvalue(), end='')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert proc.stdout.startswith("3 elfdeps: internal error: OSError: "), proc.stdout + proc.stderr
    assert "Too many open files" in proc.stdout and proc.stdout.count("\n") == 1
