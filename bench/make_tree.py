"""Build the benchmark's synthetic library tree: N shared libraries plus one executable, with gcc.

The tree is a layered DAG, shaped like a real application bundle:

    bin/app                  RUNPATH $ORIGIN/../lib:$ORIGIN/../lib/app   -> layer 0 (half in each dir)
    lib/, lib/app/           layer 0 (10 %)  each NEEDs 3 libs of layer 1, sometimes one of layer 2
    lib/core/                layer 1 (20 %)  "
    lib/core/impl/           layer 2 (25 %)  "
    lib/base/                layer 3 (25 %)  NEEDs 3 libs of layer 4
    lib/base/sys/            layer 4 (20 %)  leaves; one in four also NEEDs libm

Every library NEEDs libc; many share dependencies (the three edges of a library fall in a narrow window of
the layer below, plus occasional skip edges two layers down). Each library finds its own NEEDED entries
through its own `$ORIGIN`-relative search path: about 60 % use DT_RUNPATH (`--enable-new-dtags`), the rest
DT_RPATH; some spell `${ORIGIN}`, some carry a leading entry that does not exist (a leaked build dir). Nothing
depends on RPATH inheritance or on the executable's RUNPATH beyond its direct NEEDED entries, so glibc's
loader, pax-utils' lddtree and libtree all resolve every library without LD_LIBRARY_PATH.

Files are versioned like real ones: `libl2n017.so.1.0.0` with SONAME `libl2n017.so.1` and the symlink
`libl2n017.so.1 -> libl2n017.so.1.0.0`. Each library exports 20 functions and an object that call into
its dependencies, so symbol tables and relocations are not empty.

The build is cached: `OUT/tree.json` records the generator version, N and the seed; a matching tree is
reused. A fresh build goes to a temporary sibling directory and is renamed into place (all search paths
are `$ORIGIN`-relative, so the tree is relocatable). After building, or when reusing, the tree is checked
with `LD_TRACE_LOADED_OBJECTS=1 ld.so bin/app`: all N libraries must resolve inside the tree.

Usage: python bench/make_tree.py [-n 200] [--out DIR]   (prints the executable's path)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 4
DEFAULT_SEED = 20240611
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT_ROOT = BENCH_DIR / "out"

# Layer share of N, and the directory (relative to the tree root) each layer lives in.
LAYER_SHARES = (0.10, 0.20, 0.25, 0.25, 0.20)
LAYER_DIRS: tuple[tuple[str, ...], ...] = (
    ("lib", "lib/app"),
    ("lib/core",),
    ("lib/core/impl",),
    ("lib/base",),
    ("lib/base/sys",),
)
FANOUT = 3  # NEEDED entries into the layer directly below
WINDOW = 6  # the FANOUT dependencies are drawn from a window this wide: neighbours share deps
SKIP_EDGE_P = 0.25  # probability of an extra NEEDED two layers down
RUNPATH_P = 0.6  # DT_RUNPATH vs DT_RPATH
BRACE_ORIGIN_P = 0.2  # spell ${ORIGIN}
MISSING_DIR_P = 0.1  # a leading search-path entry that does not exist
LIBM_P = 0.25  # leaves that also NEED libm
FUNCS_PER_LIB = 20
EXE_RUNPATH = "$ORIGIN/../lib:$ORIGIN/../lib/app"


def find_interpreter() -> str:
    """The system's x86-64 (or otherwise native) dynamic loader."""
    for cand in ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux.so.2"):
        if os.path.exists(cand):
            return cand
    raise SystemExit("make_tree: cannot find the dynamic loader (ld-linux*.so)")


@dataclass
class Lib:
    layer: int
    index: int  # index within the layer
    directory: str  # relative to the tree root
    deps: list[Lib] = field(default_factory=list)
    runpath: bool = True
    brace: bool = False
    missing_dir: bool = False
    libm: bool = False

    @property
    def stem(self) -> str:
        return f"libl{self.layer}n{self.index:03d}"

    @property
    def soname(self) -> str:
        return f"{self.stem}.so.1"

    @property
    def filename(self) -> str:
        return f"{self.stem}.so.1.0.0"

    @property
    def func(self) -> str:
        return f"l{self.layer}n{self.index:03d}"


def layer_sizes(n: int) -> list[int]:
    sizes = [max(1, round(n * share)) for share in LAYER_SHARES]
    sizes[-1] += n - sum(sizes)  # rounding remainder goes to the leaves
    if min(sizes) < 1:
        raise SystemExit(f"make_tree: N={n} is too small for {len(LAYER_SHARES)} layers")
    return sizes


def plan(n: int, seed: int) -> list[list[Lib]]:
    """The DAG: layers of Lib, each with its dependencies and search-path style."""
    rng = random.Random(seed)
    layers: list[list[Lib]] = []
    for k, size in enumerate(layer_sizes(n)):
        dirs = LAYER_DIRS[k]
        layers.append([Lib(layer=k, index=i, directory=dirs[i % len(dirs)]) for i in range(size)])
    for k, layer in enumerate(layers[:-1]):
        below = layers[k + 1]
        # Coverage first: every library of the layer below is needed by the parent "above" it.
        for j, dep in enumerate(below):
            layer[(j * len(layer)) // len(below)].deps.append(dep)
        for i, lib in enumerate(layer):
            # Then fill up to FANOUT from a narrow window below: neighbours share dependencies.
            centre = (i * len(below)) // len(layer)
            lo = max(0, min(centre - WINDOW // 2, len(below) - WINDOW))
            pool = [d for d in below[lo : lo + WINDOW] if d not in lib.deps]
            lib.deps += rng.sample(pool, min(max(0, FANOUT - len(lib.deps)), len(pool)))
            if k + 2 < len(layers) and rng.random() < SKIP_EDGE_P:
                lib.deps.append(rng.choice(layers[k + 2]))
    for layer in layers:
        for lib in layer:
            lib.runpath = rng.random() < RUNPATH_P
            lib.brace = rng.random() < BRACE_ORIGIN_P
            lib.missing_dir = rng.random() < MISSING_DIR_P
            lib.libm = not lib.deps and rng.random() < LIBM_P
    return layers


def search_path(lib: Lib) -> str:
    """The library's own $ORIGIN-relative RUNPATH/RPATH: the directories of its dependencies."""
    origin = "${ORIGIN}" if lib.brace else "$ORIGIN"
    entries: list[str] = []
    if lib.missing_dir:
        entries.append(f"{origin}/../../build/lib")
    for dep in lib.deps:
        rel = os.path.relpath(dep.directory, lib.directory)
        entry = origin if rel == "." else f"{origin}/{rel}"
        if entry not in entries:
            entries.append(entry)
    return ":".join(entries)


def c_source(lib: Lib) -> str:
    lines = ["#include <string.h>"]
    if lib.libm:
        lines.append("#include <math.h>")
    lines += [f"extern int {dep.func}_f{j}(int);" for dep in lib.deps for j in range(FUNCS_PER_LIB)]
    lines.append(f'const char {lib.func}_name[] = "{lib.stem}";')
    lines.append(f"int {lib.func}_calls;")
    for j in range(FUNCS_PER_LIB):
        body = [f"{lib.func}_calls++;", "int r = x + (int)strlen(" + f"{lib.func}_name);"]
        for d, dep in enumerate(lib.deps):
            body.append(f"r += {dep.func}_f{(j + d) % FUNCS_PER_LIB}(x);")
        if lib.libm and j == 0:
            body.append("volatile double v = x; r += (int)cos(v);")
        lines.append(f"int {lib.func}_f{j}(int x) {{ " + " ".join(body) + " return r; }")
    return "\n".join(lines) + "\n"


def exe_source(top: list[Lib]) -> str:
    lines = ["#include <stdio.h>"]
    lines += [f"extern int {lib.func}_f0(int);" for lib in top]
    lines.append("int main(int argc, char **argv) { int r = 0; (void)argv;")
    lines += [f"  r += {lib.func}_f0(argc);" for lib in top]
    lines.append('  printf("%d\\n", r); return 0; }')
    return "\n".join(lines) + "\n"


def run_gcc(args: list[str]) -> None:
    proc = subprocess.run(["gcc", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"make_tree: gcc failed: {' '.join(args)}\n{proc.stderr}")


def build_lib(root: Path, src_dir: Path, lib: Lib) -> None:
    src = src_dir / f"{lib.stem}.c"
    src.write_text(c_source(lib))
    out = root / lib.directory / lib.filename
    dtags = "--enable-new-dtags" if lib.runpath else "--disable-new-dtags"
    args = ["-shared", "-fPIC", "-O1", "-o", str(out), str(src), f"-Wl,-soname,{lib.soname}"]
    args += [str(root / dep.directory / dep.filename) for dep in lib.deps]
    if lib.deps:
        args += [f"-Wl,{dtags}", f"-Wl,-rpath,{search_path(lib)}"]
    if lib.libm:
        args.append("-lm")
    run_gcc(args)
    (root / lib.directory / lib.soname).symlink_to(lib.filename)


def build_into(root: Path, n: int, seed: int, jobs: int) -> None:
    layers = plan(n, seed)
    src_dir = root / "src"
    for d in ["bin", "src", *(d for dirs in LAYER_DIRS for d in dirs)]:
        (root / d).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for layer in reversed(layers):  # leaves first: a library links against its built dependencies
            list(pool.map(lambda lib: build_lib(root, src_dir, lib), layer))
    exe_src = src_dir / "app.c"
    exe_src.write_text(exe_source(layers[0]))
    args = ["-O1", "-o", str(root / "bin" / "app"), str(exe_src)]
    args += [str(root / lib.directory / lib.filename) for lib in layers[0]]
    args += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{EXE_RUNPATH}"]
    run_gcc(args)


def parse_trace(text: str) -> list[tuple[str, str | None]]:
    """(NAME, PATH or None) per line of ldd / `LD_TRACE_LOADED_OBJECTS=1 ld.so` / `elfdeps list` output.

    The vDSO line and the " (0x...)" load addresses are dropped; a line without "=>" (the interpreter, an
    absolute NEEDED) gives (PATH, PATH); "NAME => not found" gives (NAME, None).
    """
    entries: list[tuple[str, str | None]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("linux-vdso") or line.startswith("linux-gate"):
            continue
        if " => " in line:
            name, _, rest = line.partition(" => ")
            path = None if rest.startswith("not found") else rest.rsplit(" (0x", 1)[0]
            entries.append((name, path))
        else:
            path = line.rsplit(" (0x", 1)[0]
            entries.append((path, path))
    return entries


def trace(exe: Path) -> list[tuple[str, str | None]]:
    """The real loader's list for EXE (its real path, as the contract's oracle), without env overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    env["LD_TRACE_LOADED_OBJECTS"] = "1"
    proc = subprocess.run(
        [find_interpreter(), os.path.realpath(exe)], env=env, capture_output=True, text=True, check=False
    )
    return parse_trace(proc.stdout)


def verify(root: Path, n: int) -> None:
    """All N tree libraries resolve, inside the tree, with nothing missing."""
    exe = (root / "bin" / "app").resolve()
    entries = trace(exe)
    missing = [name for name, path in entries if path is None]
    inside = {os.path.realpath(path) for _, path in entries if path and path.startswith(str(root.resolve()))}
    if missing or len(inside) != n:
        raise SystemExit(f"make_tree: {exe}: ld.so resolves {len(inside)} of {n} tree libraries; not found: {missing}")


def manifest_for(n: int, seed: int) -> dict[str, object]:
    return {"generator_version": GENERATOR_VERSION, "n": n, "seed": seed, "exe": "bin/app"}


def build(n: int = 200, out: Path | None = None, seed: int = DEFAULT_SEED, jobs: int | None = None) -> Path:
    """Build (or reuse) the tree with N libraries in OUT; return the executable's path."""
    root = (out or DEFAULT_OUT_ROOT / f"tree-{n}").resolve()
    manifest = manifest_for(n, seed)
    manifest_file = root / "tree.json"
    try:
        cached = json.loads(manifest_file.read_text()) == manifest and (root / "bin" / "app").is_file()
    except (OSError, ValueError):
        cached = False
    if not cached:
        if shutil.which("gcc") is None:
            raise SystemExit("make_tree: gcc is required (apt-get install -y gcc)")
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the tree should look like an installed one
        try:
            build_into(tmp, n, seed, jobs or os.cpu_count() or 1)
            verify(tmp, n)
            (tmp / "tree.json").write_text(json.dumps(manifest, indent=2) + "\n")
            if root.exists():
                shutil.rmtree(root)
            tmp.rename(root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    else:
        verify(root, n)
    return root / "bin" / "app"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="number of shared libraries (default 200)")
    parser.add_argument("--out", type=Path, help="output directory (default bench/out/tree-N)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("-j", "--jobs", type=int, help="parallel gcc jobs (default: CPU count)")
    args = parser.parse_args(argv)
    print(build(args.n, args.out, args.seed, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
