"""`--root DIR`: a sysroot analysed with its own interpreter, ld.so.cache, ld.so.conf and default dirs,
absolute symlinks resolved inside the root. The oracle is the root's own ld.so run under chroot(1)
(the tests run as root, as CI does)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from chroot_oracle import chroot_trace

from elfdeps.cli import main

HOST_LIBS = "/lib/x86_64-linux-gnu"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _gcc(*args: str) -> None:
    subprocess.run(["gcc", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def sysroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Debian-layout root: host libc/ld.so/libz copied in, a vendor library found only through
    the root's ld.so.conf (and so its cache), a program that needs them all."""
    root = tmp_path_factory.mktemp("sysroot")
    build = tmp_path_factory.mktemp("build")
    for directory in (
        "lib64",
        "lib/x86_64-linux-gnu",
        "usr/bin",
        "opt/vendor/lib",
        "opt/late/lib",
        "etc/ld.so.conf.d",
    ):
        (root / directory).mkdir(parents=True)
    for name in ("libc.so.6", "libz.so.1", "ld-linux-x86-64.so.2"):
        shutil.copy2(os.path.realpath(f"{HOST_LIBS}/{name}"), root / "lib/x86_64-linux-gnu" / name)
    # env(1) inside the root sets LD_TRACE_LOADED_OBJECTS for the root's ld.so only (set outside,
    # the host's loader would trace chroot(1) itself).
    shutil.copy2("/usr/bin/env", root / "usr/bin/env")
    # An absolute symlink: inside the root it must resolve to the root's copy, never the host's file.
    os.symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2")
    (build / "vendor.c").write_text("int vendor(void) { return 1; }\n")
    (build / "late.c").write_text("int late(void) { return 2; }\n")
    (build / "prog.c").write_text("int vendor(void); int main(void) { return vendor() - 1; }\n")
    (build / "prog_late.c").write_text("int late(void); int main(void) { return late() - 2; }\n")
    _gcc(
        "-shared",
        "-fPIC",
        "-Wl,-soname,libvendor.so.1",
        "-o",
        str(root / "opt/vendor/lib/libvendor.so.1"),
        str(build / "vendor.c"),
    )
    _gcc(
        "-shared",
        "-fPIC",
        "-Wl,-soname,liblate.so.1",
        "-o",
        str(build / "liblate.so.1"),
        str(build / "late.c"),
    )
    _gcc(
        "-o",
        str(root / "usr/bin/prog"),
        str(build / "prog.c"),
        "-Wl,--no-as-needed",
        str(root / "opt/vendor/lib/libvendor.so.1"),
        f"{HOST_LIBS}/libz.so.1",
    )
    _gcc("-o", str(root / "usr/bin/prog_late"), str(build / "prog_late.c"), str(build / "liblate.so.1"))
    (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    (root / "etc/ld.so.conf.d/vendor.conf").write_text("/opt/vendor/lib\n/opt/late/lib\n")
    subprocess.run(["ldconfig", "-r", str(root)], check=True, capture_output=True)
    # Installed after ldconfig ran: the cache is stale for it.
    shutil.copy2(build / "liblate.so.1", root / "opt/late/lib/liblate.so.1")
    return root


def _chroot_trace(root: Path, program: str) -> list[str]:
    return chroot_trace(root, program)


@pytest.mark.parametrize("program", ["/usr/bin/prog", "/usr/bin/prog_late"])
def test_list_in_a_root_equals_the_roots_own_loader(sysroot: Path, program: str) -> None:
    expected = _chroot_trace(sysroot, program)
    assert expected, "the chroot oracle printed nothing"
    code, out, _err = _run("list", "--no-env", "--root", str(sysroot), program)
    assert out.splitlines() == expected
    assert code == (1 if any("not found" in line for line in expected) else 0)


def test_a_host_path_inside_the_root_is_accepted_as_file(sysroot: Path) -> None:
    by_host_path = _run("list", "--no-env", "--root", str(sysroot), str(sysroot / "usr/bin/prog"))
    assert by_host_path == _run("list", "--no-env", "--root", str(sysroot), "/usr/bin/prog")


def test_cache_hit_and_interpreter_come_from_the_root(sysroot: Path) -> None:
    _code, out, _ = _run("list", "--json", "--no-env", "--root", str(sysroot), "/usr/bin/prog")
    report = json.loads(out)
    objects = {obj["name"]: obj for obj in report["files"][0]["objects"]}
    assert objects["libvendor.so.1"]["via"] == "ld_so_cache"
    assert objects["libvendor.so.1"]["path"] == "/opt/vendor/lib/libvendor.so.1"
    assert report["environment"]["root"] == str(sysroot)
    assert report["environment"]["glibc_version"] is not None


def test_stale_cache_is_explained_with_the_ldconfig_fix(sysroot: Path) -> None:
    code, out, _ = _run("tree", "--no-env", "--root", str(sysroot), "/usr/bin/prog_late")
    assert code == 1
    assert "liblate.so.1 => not found (a copy in /opt/late/lib;" in out
    assert f"run ldconfig -r {sysroot}" in out
    code, out, _ = _run("tree", "-v", "--no-env", "--root", str(sysroot), "/usr/bin/prog_late")
    assert "found elsewhere: /opt/late/lib/liblate.so.1" in out


def test_absolute_symlink_to_a_host_only_file_is_not_followed_out_of_the_root(sysroot: Path, tmp_path: Path) -> None:
    trap_root = tmp_path / "root"
    shutil.copytree(sysroot, trap_root, symlinks=True)
    # The host has this file; the root does not. Inside the root the link dangles.
    os.symlink(f"{HOST_LIBS}/libz.so.1", trap_root / "opt/vendor/lib/libz.so.1")
    os.remove(trap_root / "lib/x86_64-linux-gnu/libz.so.1")
    subprocess.run(["ldconfig", "-r", str(trap_root)], check=True, capture_output=True)
    expected = _chroot_trace(trap_root, "/usr/bin/prog")
    assert "\tlibz.so.1 => not found" in expected
    _code, out, _ = _run("list", "--no-env", "--root", str(trap_root), "/usr/bin/prog")
    assert out.splitlines() == expected


def test_preload_file_of_the_root_and_no_preload_file(sysroot: Path, tmp_path: Path) -> None:
    """The root's /etc/ld.so.preload loads like LD_PRELOAD (loader.md 7), as the root's ld.so shows;
    --no-preload-file analyses the root as if the file were not there (the same root's trace without it)."""
    root = tmp_path / "root"
    shutil.copytree(sysroot, root, symlinks=True)
    (tmp_path / "pre.c").write_text("int pre(void) { return 3; }\n")
    _gcc(
        "-shared",
        "-fPIC",
        "-Wl,-soname,libpre.so",
        "-o",
        str(root / "opt/vendor/lib/libpre.so"),
        str(tmp_path / "pre.c"),
    )
    (root / "etc/ld.so.preload").write_text("/opt/vendor/lib/libpre.so\n")
    with_file = _chroot_trace(root, "/usr/bin/prog")
    assert "\t/opt/vendor/lib/libpre.so" in with_file
    assert _run("list", "--no-env", "--root", str(root), "/usr/bin/prog")[1].splitlines() == with_file
    (root / "etc/ld.so.preload").unlink()
    without_file = _chroot_trace(root, "/usr/bin/prog")
    (root / "etc/ld.so.preload").write_text("/opt/vendor/lib/libpre.so\n")
    _code, out, _err = _run("list", "--no-env", "--no-preload-file", "--root", str(root), "/usr/bin/prog")
    assert out.splitlines() == without_file != with_file


@pytest.mark.parametrize("command", [("audit", "--json"), ("graph", "-p")])
def test_audit_and_graph_analyse_the_root_not_the_host(sysroot: Path, command: tuple[str, ...]) -> None:
    """The root's prog finds libvendor.so.1 through the root's cache; the host has no such library, so
    a result that names it inside /opt/vendor/lib can only come from analysing inside the root."""
    for target in ("/usr/bin/prog", str(sysroot / "usr/bin/prog")):
        code, out, err = _run(*command, "--no-env", "--root", str(sysroot), target)
        assert (code, err) == (0, ""), (target, err)
        assert "/opt/vendor/lib/libvendor.so.1" in out
        assert str(sysroot) not in out.replace(f'"root": "{sysroot}"', "")
