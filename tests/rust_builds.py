"""Small real Rust artefacts for the tests of elfdeps/rust, built at test time with plain rustc (and cc
for the C hosts) into a temporary directory, once per test session: the shapes of rust.md §2.2 and §4
(a std-embedding dylib, a prefer-dynamic dylib and executable, a cdylib, a proc-macro, a static
executable, two std-embedding dylibs in one C host, two cdylibs in one C host, two builds of one crate,
one rlib inside two dylibs). Nothing here is checked in; hashes come from the files, never from here.

The nightly artefacts (a libstd of another toolchain under the stable file name) exist only where
``rustc +nightly`` does; the tests that need them skip with that one reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

__all__ = ["RustBuilds", "have_nightly", "run", "rust_builds", "rustc_print", "sysroot_libdir"]

ALPHA = """
use std::sync::atomic::{AtomicUsize, Ordering};
static CALLS: AtomicUsize = AtomicUsize::new(0);
pub static mut COUNTER: usize = 0;
pub static GREETING: &str = "hello";
#[no_mangle] pub extern "C" fn alpha_hello() -> usize {
    let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1; println!("alpha: call {n}"); n
}
#[no_mangle] pub extern "C" fn alpha_spawn() {
    std::thread::spawn(|| println!("alpha {:?}", std::thread::current().id())).join().unwrap();
}
pub fn alpha_rust_api() -> String { "alpha".to_string() }
pub fn largest<T: PartialOrd + Copy>(xs: &[T]) -> T { let mut m = xs[0]; for &x in xs { if x > m { m = x } } m }
pub fn biggest(xs: &[u32]) -> u32 { largest(xs) }
"""
BETA = """
#[no_mangle] pub extern "C" fn beta_hello() -> usize {
    let mut m = std::collections::BTreeMap::new(); m.insert("k", 1); println!("beta: {:?}", m); m.len()
}
#[no_mangle] pub extern "C" fn beta_spawn() {
    std::thread::spawn(|| println!("beta {:?}", std::thread::current().id())).join().unwrap();
}
"""
HOST_C = """
#include <stddef.h>
size_t alpha_hello(void); size_t beta_hello(void); void alpha_spawn(void); void beta_spawn(void);
int main(void) { alpha_hello(); beta_hello(); alpha_spawn(); beta_spawn(); return 0; }
"""
BASE = """
use std::sync::atomic::{AtomicUsize, Ordering};
pub static COUNTER: AtomicUsize = AtomicUsize::new(0);
pub fn bump() -> usize { COUNTER.fetch_add(1, Ordering::SeqCst) + 1 }
pub fn greet(who: &str) -> String { format!("hello, {who} (count {})", bump()) }
pub fn largest<T: PartialOrd + Copy>(xs: &[T]) -> T { let mut m = xs[0]; for &x in xs { if x > m { m = x } } m }
"""
APP = 'fn main() { println!("{} {}", base::greet("world"), base::largest(&[3, 9, 4])); }'
HELLO = 'fn main() { println!("hello {:?}", std::thread::current().id()); }'
PROC_MACRO = """
extern crate proc_macro;
use proc_macro::TokenStream;
#[proc_macro]
pub fn make_answer(_item: TokenStream) -> TokenStream { "fn answer() -> u32 { 42 }".parse().unwrap() }
"""
UTIL = """
use std::sync::atomic::{AtomicUsize, Ordering};
pub static REGISTERED: AtomicUsize = AtomicUsize::new(0);
#[inline(never)] pub fn register() -> usize { REGISTERED.fetch_add(1, Ordering::SeqCst) + 1 }
#[inline(never)] pub fn version() -> &'static str { "VERSION" }
"""
SIDE = """
#[inline(never)]
pub fn SIDE() -> String { format!("SIDE: util {} registered {}", util::version(), util::register()) }
"""
TWO_APP = 'fn main() { println!("{}", left::left()); println!("{}", right::right()); }'
SHARED = """
pub static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
pub fn hit() -> usize { HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 }
"""
WRAPPER = 'pub use shared::*;\n#[no_mangle] pub extern "C" fn WRAP() -> usize { shared::hit() }'
DIAMOND_C = """
#include <stdio.h>
size_t w1(void); size_t w2(void);
int main(void) { size_t a = w1(), b = w2(); printf("w1 %zu w2 %zu\\n", a, b); return 0; }
"""
# cargo-style file-name hashes (16 hex digits) of the two builds of `util`
UTIL_HASHES = ("4404999513933ad5", "6e8f8f939f4ed745")


class RustBuilds(NamedTuple):
    root: Path
    sysroot_lib: Path  # $(rustc --print target-libdir): the toolchain's libstd-<hash>.so
    libstd: Path
    dylib: Path  # std embedded (no -C prefer-dynamic), legacy-mangled user code
    dylib_pd: Path  # -C prefer-dynamic: NEEDs libstd
    dylib_named: Path  # prefer-dynamic, -C extra-filename=-<16 hex>, -C metadata
    cdylib: Path
    cdylib_stripped: Path  # strip --strip-all copy
    proc_macro: Path
    exe_static: Path  # std linked statically
    exe_pd: Path  # prefer-dynamic executable using dylib_pd
    host_dylibs: Path  # C program loading two std-embedding dylibs (alpha, beta)
    host_cdylibs: Path  # C program loading two cdylibs
    two_builds: Path  # executable loading left -> util build 1, right -> util build 2
    diamond: Path  # C program loading two prefer-dynamic dylibs that both contain rlib `shared`
    diamond_v0: Path  # the same with -C symbol-mangling-version=v0
    extra_filename: bytes
    nightly_host: Path | None  # exe_pd's directory with nightly's libstd under the stable file name
    mixed_host: Path | None  # C program loading alpha (stable, std inside) and beta (nightly, std inside)


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [str(arg) for arg in args], check=True, capture_output=True, text=True, env=env, timeout=300
    )
    return completed.stdout


def rustc_print(what: str, toolchain: str | None = None) -> str:
    prefix = [f"+{toolchain}"] if toolchain else []
    return run("rustc", *prefix, "--print", what).strip()


def sysroot_libdir(toolchain: str | None = None) -> Path:
    return Path(rustc_print("target-libdir", toolchain))


def have_nightly() -> bool:
    try:
        run("rustc", "+nightly", "-V")
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def _rustc(directory: Path, source: str, name: str, *args: str | Path, toolchain: str | None = None) -> None:
    source_path = directory / f"{name}.rs"
    source_path.write_text(source)
    prefix = [f"+{toolchain}"] if toolchain else []
    run("rustc", *prefix, "--edition", "2021", "-C", "opt-level=1", "--crate-name", name, *args, source_path)


def _build(root: Path) -> RustBuilds:
    libdir = sysroot_libdir()
    libstd = next(libdir.glob("libstd-*.so"))
    out = root / "single"
    out.mkdir()
    _rustc(out, ALPHA, "alpha", "--crate-type", "dylib", "-o", out / "libalpha.so")
    _rustc(out, BASE, "base", "--crate-type", "dylib", "-C", "prefer-dynamic", "-o", out / "libbase.so")
    named = "-0123456789abcdef"
    _rustc(
        out,
        BASE,
        "named",
        "--crate-type",
        "dylib",
        "-C",
        "prefer-dynamic",
        "-C",
        "metadata=elfdeps",
        "-C",
        f"extra-filename={named}",
        "--out-dir",
        out,
    )
    _rustc(out, ALPHA, "alpha_c", "--crate-type", "cdylib", "-o", out / "libalpha_c.so")
    shutil.copy(out / "libalpha_c.so", out / "libalpha_c_stripped.so")
    run("strip", "--strip-all", out / "libalpha_c_stripped.so")
    _rustc(out, PROC_MACRO, "pm", "--crate-type", "proc-macro", "-o", out / "libpm.so")
    _rustc(out, HELLO, "hello", "-o", out / "hello")
    _rustc(out, APP, "app", "-C", "prefer-dynamic", "--extern", f"base={out / 'libbase.so'}", "-o", out / "app")

    hosts = root / "hosts"
    (hosts / "cd").mkdir(parents=True)
    _rustc(hosts, ALPHA, "alpha", "--crate-type", "dylib", "-o", hosts / "libalpha.so")
    _rustc(hosts, BETA, "beta", "--crate-type", "dylib", "-o", hosts / "libbeta.so")
    _rustc(hosts / "cd", ALPHA, "alpha", "--crate-type", "cdylib", "-o", hosts / "cd" / "libalpha.so")
    _rustc(hosts / "cd", BETA, "beta", "--crate-type", "cdylib", "-o", hosts / "cd" / "libbeta.so")
    (hosts / "host.c").write_text(HOST_C)
    for directory in (hosts, hosts / "cd"):
        link = (f"-L{directory}", "-lalpha", "-lbeta", "-Wl,-rpath,$ORIGIN")
        run("cc", hosts / "host.c", "-o", directory / "host", *link)

    two = root / "two"
    two.mkdir()
    for number, digest in enumerate(UTIL_HASHES, start=1):
        _rustc(
            two,
            UTIL.replace("VERSION", f"0.{number}"),
            "util",
            "--crate-type",
            "dylib",
            "-C",
            "prefer-dynamic",
            "-C",
            f"metadata=util-0.{number}",
            "-C",
            f"extra-filename=-{digest}",
            "--out-dir",
            two,
        )
    for side, digest in (("left", UTIL_HASHES[0]), ("right", UTIL_HASHES[1])):
        _rustc(
            two,
            SIDE.replace("SIDE", side),
            side,
            "--crate-type",
            "dylib",
            "-C",
            "prefer-dynamic",
            "--extern",
            f"util={two / f'libutil-{digest}.so'}",
            "-o",
            two / f"lib{side}.so",
        )
    _rustc(
        two,
        TWO_APP,
        "twoapp",
        "-C",
        "prefer-dynamic",
        "-L",
        f"dependency={two}",
        "--extern",
        f"left={two / 'libleft.so'}",
        "--extern",
        f"right={two / 'libright.so'}",
        "-o",
        two / "app",
    )

    diamonds = []
    for variant, extra in (("legacy", ()), ("v0", ("-C", "symbol-mangling-version=v0"))):
        diamond = root / f"diamond-{variant}"
        diamond.mkdir()
        _rustc(diamond, SHARED, "shared", "--crate-type", "rlib", *extra, "-o", diamond / "libshared.rlib")
        for wrapper in ("w1", "w2"):
            _rustc(
                diamond,
                WRAPPER.replace("WRAP", wrapper),
                wrapper,
                "--crate-type",
                "dylib",
                "-C",
                "prefer-dynamic",
                *extra,
                "--extern",
                f"shared={diamond / 'libshared.rlib'}",
                "-o",
                diamond / f"lib{wrapper}.so",
            )
        (diamond / "host.c").write_text(DIAMOND_C)
        link = ("-lw1", "-lw2", "-Wl,-rpath,$ORIGIN", f"-Wl,-rpath-link,{libdir}")
        run("cc", diamond / "host.c", "-o", diamond / "host", f"-L{diamond}", *link)
        diamonds.append(diamond / "host")

    nightly_host = mixed_host = None
    if have_nightly():
        fake = root / "fake-sysroot"
        fake.mkdir()
        nightly_std = next(sysroot_libdir("nightly").glob("libstd-*.so"))
        shutil.copy(nightly_std, fake / libstd.name)  # another toolchain's libstd under the stable file name
        nightly_host = fake
        mixed = root / "mixed"
        mixed.mkdir()
        shutil.copy(hosts / "libalpha.so", mixed / "libalpha.so")
        _rustc(mixed, BETA, "beta", "--crate-type", "dylib", "-o", mixed / "libbeta.so", toolchain="nightly")
        run("cc", hosts / "host.c", "-o", mixed / "host", f"-L{mixed}", "-lalpha", "-lbeta", "-Wl,-rpath,$ORIGIN")
        mixed_host = mixed / "host"

    return RustBuilds(
        root=root,
        sysroot_lib=libdir,
        libstd=libstd,
        dylib=out / "libalpha.so",
        dylib_pd=out / "libbase.so",
        dylib_named=out / f"libnamed{named}.so",
        cdylib=out / "libalpha_c.so",
        cdylib_stripped=out / "libalpha_c_stripped.so",
        proc_macro=out / "libpm.so",
        exe_static=out / "hello",
        exe_pd=out / "app",
        host_dylibs=hosts / "host",
        host_cdylibs=hosts / "cd" / "host",
        two_builds=two / "app",
        diamond=diamonds[0],
        diamond_v0=diamonds[1],
        extra_filename=named.encode(),
        nightly_host=nightly_host,
        mixed_host=mixed_host,
    )


_BUILT: list[RustBuilds] = []  # one build per test process, shared by the modules that import the fixture


@pytest.fixture(scope="session")
def rust_builds(tmp_path_factory: pytest.TempPathFactory) -> RustBuilds:
    """The artefacts above, built once per test process (each xdist worker builds its own): every test
    module imports this fixture, and pytest would otherwise run a session fixture once per module."""
    if not _BUILT:
        env_path = os.environ.get("PATH", "")
        assert shutil.which("rustc", path=env_path), "rustc is needed (scripts/test checks for it)"
        _BUILT.append(_build(tmp_path_factory.mktemp("rust-builds")))
    return _BUILT[0]
