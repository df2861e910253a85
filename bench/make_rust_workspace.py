"""Build the benchmark's synthetic Rust workspace: N `dylib` crates plus one binary, with cargo and
`-C prefer-dynamic` (the seed's shape, a program with a hundred crate dylibs; issue 6 "done when").

The crates form a layered DAG, like bench/make_tree.py's libraries:

    app (bin)        depends on every crate of layer 0
    layer 0 (15 %)   each depends on 3 crates of layer 1, drawn from a narrow window: neighbours share
    layer 1 (25 %)   dependencies, so the graph is full of diamonds; sometimes one more two layers down
    layer 2 (30 %)   "
    layer 3 (30 %)   leaves (std only)

Every crate has a `pub static` counter, a plain function calling its dependencies, a generic function
its dependents instantiate (cross-crate monomorphisations) and some std use (format!, a HashMap), so
symbol tables, imports and relocations look like real Rust dylibs. Path dependencies only (no network):
CARGO_NET_OFFLINE, a CARGO_HOME inside OUT. The crate dylibs land in `target/debug/deps/` without a
hash in their names, the program NEEDs every one of them and the toolchain's libstd-<hash>.so and has
no RUNPATH: it resolves with LD_LIBRARY_PATH=<deps>:<rustc --print target-libdir> (what `cargo run`
sets), which the generator checks with `LD_TRACE_LOADED_OBJECTS=1 ld.so` after building.

The build is cached: `OUT/workspace.json` records the generator version, N, the seed and `rustc -vV`; a
matching workspace is reused. A fresh build goes to a temporary sibling directory renamed into place.

Usage: python bench/make_rust_workspace.py [-n 60] [--out DIR]
       (prints the program's path, then the LD_LIBRARY_PATH it needs)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_N", "RustWorkspace", "build", "main", "plan"]

GENERATOR_VERSION = 1
DEFAULT_N = 60
DEFAULT_SEED = 20260601
DEFAULT_OUT_ROOT = Path(__file__).resolve().parent / "out"
LAYER_SHARES = (0.15, 0.25, 0.30, 0.30)
FANOUT = 3  # dependencies in the layer directly below
WINDOW = 5  # drawn from a window this wide: neighbours share dependencies (diamonds)
SKIP_EDGE_P = 0.3  # probability of one more dependency two layers down
RTLD = "/lib64/ld-linux-x86-64.so.2"
# Inherited settings that would change the build (or send cargo to the network).
_SCRUBBED_PREFIXES = ("CARGO_", "RUSTC_", "LD_", "__CARGO")
_SCRUBBED = {"RUSTFLAGS", "RUSTDOCFLAGS", "RUSTC", "RUSTDOC"}


@dataclass
class Crate:
    layer: int
    index: int
    deps: list[Crate] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"c{self.layer}n{self.index:03d}"


@dataclass(frozen=True)
class RustWorkspace:
    """A built workspace: the program, where its crate dylibs and libstd are, and how to run it."""

    root: Path
    exe: Path
    deps: Path
    target_libdir: Path
    crates: int
    build_seconds: float  # of the cargo build that made it (0.0 when reused without a record)

    @property
    def ld_library_path(self) -> str:
        return f"{self.deps}:{self.target_libdir}"


def layer_sizes(n: int) -> list[int]:
    sizes = [max(1, round(n * share)) for share in LAYER_SHARES]
    sizes[-1] += n - sum(sizes)
    if min(sizes) < 1:
        raise SystemExit(f"make_rust_workspace: N={n} is too small for {len(LAYER_SHARES)} layers")
    return sizes


def plan(n: int, seed: int = DEFAULT_SEED) -> list[list[Crate]]:
    """The crate DAG: layers of Crate, each with its dependencies (every crate below is used)."""
    rng = random.Random(seed)
    layers = [[Crate(k, i) for i in range(size)] for k, size in enumerate(layer_sizes(n))]
    for k, layer in enumerate(layers[:-1]):
        below = layers[k + 1]
        for j, dep in enumerate(below):  # coverage first: each crate below has a dependent
            layer[(j * len(layer)) // len(below)].deps.append(dep)
        for i, crate in enumerate(layer):
            centre = (i * len(below)) // len(layer)
            low = max(0, min(centre - WINDOW // 2, len(below) - WINDOW))
            pool = [d for d in below[low : low + WINDOW] if d not in crate.deps]
            crate.deps += rng.sample(pool, min(max(0, FANOUT - len(crate.deps)), len(pool)))
            if k + 2 < len(layers) and rng.random() < SKIP_EDGE_P:
                extra = rng.choice(layers[k + 2])
                if extra not in crate.deps:
                    crate.deps.append(extra)
    return layers


def crate_source(crate: Crate) -> str:
    calls = "".join(
        f"    r = r.wrapping_add({d.name}::f(x)).wrapping_add({d.name}::g(x as u32));\n" for d in crate.deps
    )
    return f"""\
use std::sync::atomic::{{AtomicUsize, Ordering}};
pub static CALLS: AtomicUsize = AtomicUsize::new(0);
pub fn f(x: u64) -> u64 {{
    CALLS.fetch_add(1, Ordering::Relaxed);
    let mut r = x.wrapping_mul({crate.index + 3});
{calls}    r
}}
pub fn g<T: Into<u64>>(x: T) -> u64 {{ f(x.into()) ^ {crate.layer} }}
pub fn describe() -> String {{
    let mut seen = std::collections::HashMap::new();
    seen.insert("{crate.name}", CALLS.load(Ordering::Relaxed));
    format!("{crate.name}: {{:?}}", seen)
}}
"""


def app_source(top: list[Crate]) -> str:
    body = "".join(f"    total = total.wrapping_add({crate.name}::g(2u32));\n" for crate in top)
    tail = f'    println!("{{}} {{}}", total, {top[0].name}::describe());\n'
    return f"fn main() {{\n    let mut total: u64 = 0;\n{body}{tail}}}\n"


def manifest(name: str, version: str, deps: list[tuple[str, str]], crate_type: str | None) -> str:
    lines = ["[package]", f'name = "{name}"', f'version = "{version}"', 'edition = "2021"']
    if crate_type:
        lines += ["[lib]", f'crate-type = ["{crate_type}"]']
    lines += ["[dependencies]", *(f'{dep} = {{ path = "{path}" }}' for dep, path in deps)]
    return "\n".join(lines) + "\n"


def write_workspace(root: Path, layers: list[list[Crate]]) -> None:
    crates = [crate for layer in layers for crate in layer]
    members = ", ".join(f'"{c.name}"' for c in crates)
    (root / "Cargo.toml").write_text(f'[workspace]\nmembers = [{members}, "app"]\nresolver = "2"\n')
    for crate in crates:
        (root / crate.name / "src").mkdir(parents=True)
        deps = [(dep.name, f"../{dep.name}") for dep in crate.deps]
        (root / crate.name / "Cargo.toml").write_text(manifest(crate.name, "0.1.0", deps, "dylib"))
        (root / crate.name / "src" / "lib.rs").write_text(crate_source(crate))
    (root / "app" / "src").mkdir(parents=True)
    deps = [(crate.name, f"../{crate.name}") for crate in layers[0]]
    (root / "app" / "Cargo.toml").write_text(manifest("app", "0.1.0", deps, None))
    (root / "app" / "src" / "main.rs").write_text(app_source(layers[0]))


def cargo_env(cargo_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(
        CARGO_HOME=str(cargo_home),
        CARGO_NET_OFFLINE="true",
        CARGO_TERM_COLOR="never",
        CARGO_INCREMENTAL="0",
        RUSTUP_AUTO_INSTALL="0",
        RUSTFLAGS="-C prefer-dynamic",
    )
    return env


def rustc_facts() -> tuple[str, Path]:
    """`rustc -vV` (part of the cache key) and `rustc --print target-libdir`."""
    if shutil.which("cargo") is None or shutil.which("rustc") is None:
        raise SystemExit("make_rust_workspace: cargo and rustc are required (rustup)")
    version = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    libdir = subprocess.run(["rustc", "--print", "target-libdir"], capture_output=True, text=True, check=True)
    return version, Path(libdir.stdout.strip())


def verify(workspace: RustWorkspace) -> None:
    """With the workspace's LD_LIBRARY_PATH every crate dylib and libstd resolve; nothing is missing."""
    env = {"LD_TRACE_LOADED_OBJECTS": "1", "LD_LIBRARY_PATH": workspace.ld_library_path}
    proc = subprocess.run([RTLD, str(workspace.exe)], env=env, capture_output=True, text=True, check=False)
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    missing = [line.split()[0] for line in proc.stdout.splitlines() if "not found" in line]
    crates = {name for name in names if re.fullmatch(r"libc\d+n\d{3}\.so", name)}
    if missing or len(crates) != workspace.crates or proc.returncode != 0:
        raise SystemExit(
            f"make_rust_workspace: {workspace.exe}: ld.so resolves {len(crates)} of {workspace.crates} crate"
            f" dylibs; not found: {missing}"
        )


def _workspace(root: Path, n: int, libdir: Path, seconds: float) -> RustWorkspace:
    return RustWorkspace(root, root / "target/debug/app", root / "target/debug/deps", libdir, n, seconds)


def build(
    n: int = DEFAULT_N, out: Path | None = None, seed: int = DEFAULT_SEED, jobs: int | None = None
) -> RustWorkspace:
    """Build (or reuse) the workspace with N crates in OUT (default bench/out/rust-ws-N)."""
    root = (out or DEFAULT_OUT_ROOT / f"rust-ws-{n}").resolve()
    version, libdir = rustc_facts()
    record = {"generator_version": GENERATOR_VERSION, "n": n, "seed": seed, "rustc": version}
    manifest_file = root / "workspace.json"
    try:
        saved = json.loads(manifest_file.read_text())
    except (OSError, ValueError):
        saved = {}
    if {k: saved.get(k) for k in record} == record and (root / "target/debug/app").is_file():
        workspace = _workspace(root, n, libdir, float(saved.get("build_seconds", 0.0)))
        verify(workspace)
        return workspace
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    tmp.chmod(0o755)
    try:
        write_workspace(tmp, plan(n, seed))
        argv = ["cargo", "build", "--offline", "--target-dir", str(tmp / "target")]
        argv += ["-j", str(jobs)] if jobs else []
        start = time.monotonic()
        env = cargo_env(tmp / ".cargo-home")
        proc = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, check=False)
        seconds = round(time.monotonic() - start, 2)
        if proc.returncode != 0:
            raise SystemExit(f"make_rust_workspace: cargo build failed:\n{proc.stderr[-3000:]}")
        (tmp / "workspace.json").write_text(json.dumps({**record, "build_seconds": seconds}, indent=2) + "\n")
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    workspace = _workspace(root, n, libdir, seconds)
    verify(workspace)
    return workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", type=int, default=DEFAULT_N, help=f"number of dylib crates (default {DEFAULT_N})")
    parser.add_argument("--out", type=Path, help="output directory (default bench/out/rust-ws-N)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("-j", "--jobs", type=int, help="cargo build jobs (default: cargo's)")
    args = parser.parse_args(argv)
    workspace = build(args.n, args.out, args.seed, args.jobs)
    print(workspace.exe)
    print(f"LD_LIBRARY_PATH={workspace.ld_library_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
