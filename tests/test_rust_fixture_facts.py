"""rust.md §4's facts, pinned on the Rust fixtures as built here: build results and log messages,
NEEDED/SONAME/RUNPATH, the exported and imported symbol shapes (§1.5, §2), and where references bind.

Every hash (StableCrateIds, cargo's file-name hashes, legacy symbol hashes) is read from the files:
they change with the absolute path of the fixture cache (rust.md §6.4). Counts rust.md gives for its
own build are lower bounds here (a copy of std is "hundreds of names", not exactly 858).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from rust_support import fixture_or_skip

from fixtures.rust import RustFixture, elf_facts, loader
from fixtures.rust.elf_facts import CrateRoot

SYSTEM_NEEDED = {"libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2"}
MANY = 100  # an embedded std: at least this many names rooted in std (c++filt roots; impl paths not counted)
SHOWS_UP_ONCE = "cannot satisfy dependencies so `{}` only shows up once"
COLLISION = "warning: output filename collision at {}"


def std_id(fx: RustFixture, nightly: bool = False) -> str:
    """The StableCrateId of a toolchain's std, from its libstd's rust_metadata_std_<hex> symbol."""
    toolchain = fx.nightly if nightly else fx.stable
    assert toolchain is not None
    return elf_facts.crate_ids(toolchain.libstd)["std"]


def exported_roots(path: Path) -> dict[CrateRoot, int]:
    return dict(elf_facts.roots_by_crate(elf_facts.exports(path)))


def rust_exports(path: Path) -> list[str]:
    return [s.name for s in elf_facts.exports(path) if s.name.startswith(("_R", "_ZN"))]


def std_exports(path: Path) -> dict[str, int]:
    """StableCrateId -> number of exported v0 names rooted in std (legacy `std::` names in a user dylib
    are its own monomorphisations, not a copy of std: rust.md §6.4)."""
    return {root.scid: n for root, n in exported_roots(path).items() if root.crate == "std" and root.scid}


def v0_disambiguator(digits: str) -> str:
    """The StableCrateId a v0 `s<digits>_` encodes: base-62 value + 1 (for the '_'), + 1 (rust.md §1.1)."""
    value = 0
    for digit in digits:
        value = value * 62 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".index(digit)
    return f"{value + 2:016x}"


def bindings_between(fx: RustFixture, program: str, referrer: str, definer: str) -> list[str]:
    binds = loader.bindings(fx.file(program))
    return [b.symbol for b in binds if b.referrer.endswith("/" + referrer) and b.definer.endswith("/" + definer)]


# ---------------------------------------------------------------------------------------- F1 ws


def test_f1a_whole_workspace_build_fails_and_leaves_std_embedding_dylibs() -> None:
    ws = fixture_or_skip("ws")
    log = ws.log("static")
    assert ws.returncode("static") == 101
    for crate in ("std", "core", "alloc"):
        assert SHOWS_UP_ONCE.format(crate) in log
    assert "`std` was unavailable as a static crate" in log
    assert "could not compile `mid`" in log
    assert not ws.path("target-static/debug/app").exists()
    for lib in ("libbase.so", "libleaf.so"):
        path = ws.file(f"target-static/debug/deps/{lib}")
        assert set(elf_facts.dynamic(path).needed) <= SYSTEM_NEEDED  # std is inside, not NEEDed
        assert ".rustc" in elf_facts.section_names(path)
        assert std_exports(path).get(std_id(ws), 0) >= MANY  # the toolchain's own std build, exported


def test_f1b_prefer_dynamic_needs_deps_and_libstd_and_sets_no_runpath() -> None:
    ws = fixture_or_skip("ws")
    app = elf_facts.dynamic(ws.file("target-dyn/debug/app"))
    assert app.needed[:4] == ("libleaf.so", "libmid.so", "libbase.so", ws.stable.libstd.name)
    assert set(app.needed[4:]) <= SYSTEM_NEEDED
    assert app.runpath is None and app.rpath is None
    mid = elf_facts.dynamic(ws.file("target-dyn/debug/deps/libmid.so"))
    assert mid.soname == "libmid.so"  # path packages: no hash in dylib names (rust.md §4 F1b)
    assert mid.needed[:2] == ("libbase.so", ws.stable.libstd.name)
    base = ws.file("target-dyn/debug/deps/libbase.so")
    assert std_exports(base) == {}  # std is only imported now, from the toolchain's build of it
    imported = elf_facts.roots_by_crate(elf_facts.imports(base))
    assert {root.crate for root in imported if root.scid} >= {"core", "alloc"}
    assert len(rust_exports(base)) < 50  # its own items and local monomorphisations (rust.md §1.5: 11)


def test_f1_stable_crate_ids_of_path_packages_ignore_rustflags() -> None:
    """rust.md §6.4: base's StableCrateId is the same with and without -C prefer-dynamic / -C rpath."""
    ws = fixture_or_skip("ws")
    ids = {
        elf_facts.crate_ids(ws.file(f"{target}/debug/deps/libbase.so"))["base"]
        for target in ("target-static", "target-dyn", "target-rpath")
    }
    assert len(ids) == 1


def test_f1c_cargo_adds_prefer_dynamic_to_non_primary_dylibs() -> None:
    ws = fixture_or_skip("ws")
    log = ws.log("p-app")
    for crate in ("base", "mid", "leaf"):
        (line,) = [line for line in log.splitlines() if f"--crate-name {crate} " in line]
        assert "-C prefer-dynamic" in line
    (app_line,) = [line for line in log.splitlines() if "--crate-name app " in line]
    assert "-C prefer-dynamic" not in app_line
    assert ws.stable.libstd.name in elf_facts.dynamic(ws.file("target-p-app/debug/deps/libbase.so")).needed


def test_f1d_rpath_climbs_to_the_toolchain_from_where_it_was_linked() -> None:
    """-C rpath: RUNPATH $ORIGIN/ plus a path relative to the output directory (deps/) that reaches the
    target-libdir; it still does after the fixture was renamed into the cache (same depth), and no
    longer from the deeper copy."""
    ws = fixture_or_skip("ws")
    app = elf_facts.dynamic(ws.file("target-rpath/debug/app")).runpath
    assert app is not None
    own, climbing = app.split(":")
    assert own == "$ORIGIN/"
    assert climbing.startswith("$ORIGIN/../")
    deps = ws.path("target-rpath/debug/deps")
    assert os.path.samefile(climbing.replace("$ORIGIN", str(deps)), ws.target_libdir)
    # the uplifted debug/app is the same file: one level higher, the surplus '..' clamps at /
    assert ws.path("target-rpath/debug/app").samefile(ws.glob("target-rpath/debug/deps/app-*[!d]")[0])
    assert elf_facts.dynamic(ws.file("target-rpath/debug/deps/libbase.so")).runpath == climbing
    deep = ws.path("deep/a/b/c/d/e/debug")
    assert not os.path.exists(climbing.replace("$ORIGIN", str(deep)))


def test_f1_release_bundle_ships_the_toolchain_libstd() -> None:
    ws = fixture_or_skip("ws")
    bundled = ws.file(f"bundle/lib/{ws.stable.libstd.name}")
    assert bundled.read_bytes() == ws.stable.libstd.read_bytes()
    assert elf_facts.dynamic(ws.file("bundle/bin/app")).runpath == "$ORIGIN/../lib"
    assert elf_facts.dynamic(ws.file("bundle/lib/libmid.so")).runpath == "$ORIGIN"
    assert elf_facts.dynamic(bundled).runpath == "$ORIGIN/../lib"  # the toolchain's own, valid here
    # the cargo target directory itself is untouched
    assert elf_facts.dynamic(ws.file("target-dyn/debug/deps/libmid.so")).runpath is None


# ------------------------------------------------------------------------------------ F1e diamond


def test_f1e_diamond_fails_and_both_wrappers_export_the_same_static() -> None:
    fx = fixture_or_skip("diamond")
    assert fx.returncode("p-app") == 101
    log = fx.log("p-app")
    assert SHOWS_UP_ONCE.format("shared") in log
    assert SHOWS_UP_ONCE.format("std") not in log  # cargo made the wrappers prefer-dynamic
    exports = {}
    for w in ("w1", "w2"):
        path = fx.file(f"target/debug/deps/lib{w}.so")
        assert fx.stable.libstd.name in elf_facts.dynamic(path).needed
        exports[w] = {s.name: s for s in elf_facts.exports(path) if s.name.startswith("_ZN6shared")}
    assert set(exports["w1"]) == set(exports["w2"])  # identical legacy names: one build, twice
    statics = [s for s in exports["w1"].values() if s.type == "OBJECT"]
    assert [s.name for s in statics] == [n for n in exports["w1"] if n.startswith("_ZN6shared4HITS17h")]
    assert elf_facts.section_of(fx.file("target/debug/deps/libw1.so"), statics[0]) == ".bss"


def test_f1e_w2_binds_to_w1s_copy_of_shared() -> None:
    """Why the C host prints "w2 hit 2": libw2.so's calls to shared::hit bind to libw1.so's copy."""
    fx = fixture_or_skip("diamond")
    crossing = bindings_between(fx, "host/bin/host", "libw2.so", "libw1.so")
    assert [name for name in crossing if name.startswith("_ZN6shared3hit17h")]


def test_f1e_fix_links_shared_dynamically() -> None:
    fx = fixture_or_skip("diamond")
    assert fx.returncode("fixed") == 0
    for w in ("w1", "w2"):
        path = fx.file(f"fixed/target/debug/deps/lib{w}.so")
        assert "libshared.so" in elf_facts.dynamic(path).needed
        assert not [n for n in rust_exports(path) if n.startswith("_ZN6shared4HITS")]
    assert [n for n in rust_exports(fx.file("fixed/target/debug/deps/libshared.so")) if "HITS" in n]


# ------------------------------------------------------------------------------------ F2 twostd


def test_f2_dylibs_each_export_the_toolchains_std() -> None:
    fx = fixture_or_skip("twostd")
    for lib in ("libalpha.so", "libbeta.so"):
        path = fx.file(lib)
        dynamic = elf_facts.dynamic(path)
        assert dynamic.soname == lib
        assert set(dynamic.needed) <= SYSTEM_NEEDED
        assert ".rustc" in elf_facts.section_names(path)
        assert std_exports(path).get(std_id(fx), 0) >= MANY
    assert set(elf_facts.crate_ids(fx.file("libalpha.so"))) == {"alpha"}


def test_f2_interposition_binds_beta_to_alphas_std() -> None:
    """rust.md §3.2: hundreds of libbeta.so's references go to libalpha.so (457 there)."""
    fx = fixture_or_skip("twostd")
    crossing = bindings_between(fx, "main_dylibs", "libbeta.so", "libalpha.so")
    assert len([name for name in crossing if name.startswith("_R")]) >= 100


def test_f2c_cdylibs_keep_std_private() -> None:
    fx = fixture_or_skip("twostd")
    c_api = {"alpha_hello", "alpha_make_box", "alpha_set_hook", "alpha_spawn"}
    for lib, api in (("cd/libalpha.so", c_api), ("cd/libbeta.so", None)):
        path = fx.file(lib)
        assert rust_exports(path) == []
        assert elf_facts.crate_ids(path) == {}
        assert elf_facts.dynamic(path).soname is None  # rustc sets no SONAME for a cdylib
        assert ".rustc" not in elf_facts.section_names(path)
        if api:
            assert {s.name for s in elf_facts.exports(path) if s.type == "FUNC"} == api
        local = elf_facts.roots_by_crate(s for s in elf_facts.static_symbols(path) if s.bind == "LOCAL")
        assert local[CrateRoot("std", std_id(fx))] >= 50
    assert bindings_between(fx, "cd/main_cdylibs", "libbeta.so", "libalpha.so") == []


def test_f2_shared_std_dylibs_need_the_toolchain_libstd() -> None:
    fx = fixture_or_skip("twostd")
    for lib in ("libalpha.so", "libbeta.so"):
        path = fx.file(f"shared/lib/{lib}")
        assert fx.stable.libstd.name in elf_facts.dynamic(path).needed
        assert std_exports(path) == {}


def test_f2m_two_toolchains_two_std_builds() -> None:
    fx = fixture_or_skip("twostd_mixed")
    assert fx.nightly is not None
    alpha, beta = fx.file("libalpha.so"), fx.file("libbeta_nightly.so")
    assert elf_facts.rustc_versions(alpha) == (fx.stable.comment,)
    assert elf_facts.rustc_versions(beta) == (fx.nightly.comment,)
    assert elf_facts.rustc_metadata_version(beta) == fx.nightly.version_line
    assert std_exports(alpha).get(std_id(fx), 0) >= MANY
    assert std_exports(beta).get(std_id(fx, nightly=True), 0) >= MANY
    assert std_id(fx) != std_id(fx, nightly=True)
    # nightly mangles user crates with v0: generic code instantiated in beta names beta's StableCrateId
    # as its instantiating crate (`...Cs<base62>_4beta`), the id of beta's rust_metadata symbol
    instantiated = {m[1] for name in rust_exports(beta) if (m := re.search(r"Cs([0-9A-Za-z]+)_4beta$", name))}
    assert {v0_disambiguator(digits) for digits in instantiated} == {elf_facts.crate_ids(beta)["beta"]}
    assert not [name for name in rust_exports(beta) if name.startswith("_ZN")]
    crossing = bindings_between(fx, "main_mixed", "libbeta_nightly.so", "libalpha.so")
    assert crossing == ["rust_eh_personality"]  # the one unmangled runtime name crosses (rust.md §3.2)


# ------------------------------------------------------------------------------------- F3 cwrap


@pytest.mark.parametrize("variant", ["default", "strict", "plain"])
def test_f3_link_of_app_fails_on_the_wrapper(variant: str) -> None:
    fx = fixture_or_skip("cwrap")
    assert fx.returncode(variant) == 101
    log = fx.log(variant)
    assert "undefined reference: format_long_wrapper" in log
    assert "(disallowed by --no-allow-shlib-undefined)" in log
    assert f"{fx.dir}/target-{variant}/debug/deps/libuser.so" in log  # logs name the final directory


def test_f3_default_the_generic_instance_references_the_wrapper_in_libuser() -> None:
    fx = fixture_or_skip("cwrap")
    user = fx.file("target-default/debug/deps/libuser.so")
    assert "format_long_wrapper" in {s.name for s in elf_facts.imports(user)}
    assert "libvsp.so" not in elf_facts.dynamic(user).needed  # --as-needed: nothing of vsp is used
    user_roots = {root.crate for root in exported_roots(user)}
    assert "vsp" in user_roots  # the render instance was compiled in user (legacy names: crate only)
    vsp = fx.file("target-default/debug/deps/libvsp.so")
    assert rust_exports(vsp) == []
    assert set(elf_facts.crate_ids(vsp)) == {"vsp"}
    every = elf_facts.dynamic_symbols(vsp) + elf_facts.static_symbols(vsp)
    assert "format_long_wrapper" not in {s.name for s in every}
    archives = fx.glob("target-default/debug/build/vsp-*/out/libvspwrap.a")
    assert len(archives) == 1  # where the definition does exist: the build script's static archive


def test_f3_plain_has_the_wrapper_local_only() -> None:
    fx = fixture_or_skip("cwrap")
    vsp = fx.file("target-plain/debug/deps/libvsp.so")
    assert "format_long_wrapper" not in {s.name for s in elf_facts.dynamic_symbols(vsp)}
    (local,) = [s for s in elf_facts.static_symbols(vsp) if s.name == "format_long_wrapper"]
    assert (local.type, local.bind) == ("FUNC", "LOCAL")


def test_f3_fixed_exports_the_wrapper() -> None:
    fx = fixture_or_skip("cwrap")
    vsp = fx.file("target-fixed/debug/deps/libvsp.so")
    (export,) = [s for s in elf_facts.exports(vsp) if s.name == "format_long_wrapper"]
    assert (export.type, export.bind, export.visibility) == ("FUNC", "GLOBAL", "DEFAULT")
    assert "libvsp.so" in elf_facts.dynamic(fx.file("target-fixed/debug/deps/libuser.so")).needed
    # build-script programs sit in the target dir too (an audit of target/debug must skip them)
    assert fx.glob("target-fixed/debug/build/vsp-*/build-script-build")


def test_f3_allow_fails_only_at_start_up() -> None:
    fx = fixture_or_skip("cwrap")
    case = fx.case("f3a_allow_shlib_undefined")
    unbound = loader.unbound_symbols(fx.file("target-allow/debug/app"), fx.ld_library_path(case))
    assert [(name, os.path.basename(path)) for name, path in unbound] == [("format_long_wrapper", "libuser.so")]


# --------------------------------------------------------------------------------------- F4 dup


def test_f4a_hashed_names_two_builds_and_the_cargo_warning() -> None:
    fx = fixture_or_skip("dup")
    log = fx.log("hashed")
    assert COLLISION.format(f"{fx.dir}/target-hashed/debug/libutil.so") in log
    assert "https://github.com/rust-lang/cargo/issues/6313" in log
    utils = fx.glob("target-hashed/debug/deps/libutil-*.so")
    assert len(utils) == 2
    ids = {elf_facts.crate_ids(path)["util"] for path in utils}
    assert len(ids) == 2
    names = [{n for n in rust_exports(path) if n.startswith("_ZN4util")} for path in utils]
    assert len(names[0]) == len(names[1]) == 3 and not names[0] & names[1]  # same items, other hashes
    (left,) = fx.glob("target-hashed/debug/deps/libleft-*.so")
    (right,) = fx.glob("target-hashed/debug/deps/libright-*.so")
    left_util = [n for n in elf_facts.dynamic(left).needed if n.startswith("libutil-")]
    right_util = [n for n in elf_facts.dynamic(right).needed if n.startswith("libutil-")]
    assert sorted(left_util + right_util) == sorted(path.name for path in utils)


def test_f4b_path_names_collide_and_the_last_build_wins() -> None:
    fx = fixture_or_skip("dup")
    log = fx.log("path")
    assert COLLISION.format(f"{fx.dir}/target-path/debug/deps/libutil.so") in log
    util = fx.file("target-path/debug/deps/libutil.so").read_bytes()
    versions = [v for v in ("0.1", "0.2") if f"util-{v}".encode() in util]
    assert len(versions) == 1
    case = fx.case("f4b_path_name_collision")
    run = loader.run(fx.file("target-path/debug/app"), fx.ld_library_path(case))
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"left: util-{versions[0]} registered 1",
        f"right: util-{versions[0]} registered 2",
    ]


def test_f4r_copy_keeps_its_soname_and_content() -> None:
    fx = fixture_or_skip("dup")
    names = dict(fx.names)
    copy, original = fx.file(f"renamed/lib/{names['left_util']}"), fx.file(f"renamed/lib/{names['right_util']}")
    assert copy.read_bytes() == original.read_bytes()
    assert elf_facts.dynamic(copy).soname == names["right_util"] != names["left_util"]


def test_f4_one_version_builds_util_once() -> None:
    fx = fixture_or_skip("dup")
    assert len(fx.glob("target-one/debug/deps/libutil-*.so")) == 1
    assert "collision" not in fx.log("one")


# ---------------------------------------------------------------------------------- F4f features


def test_f4f_second_build_silently_replaces_libutil() -> None:
    fx = fixture_or_skip("features")
    for label in ("leftapp", "rightapp"):
        assert fx.returncode(label) == 0
        assert "collision" not in fx.log(label)  # each invocation has one util: cargo sees nothing
    snapshot, current = fx.file("snapshot/libutil-leftapp.so"), fx.file("target/debug/deps/libutil.so")
    assert elf_facts.crate_ids(snapshot)["util"] != elf_facts.crate_ids(current)["util"]
    wanted = {s.name for s in elf_facts.imports(fx.file("target/debug/deps/libleft.so")) if "4util" in s.name}
    assert wanted and wanted <= {s.name for s in elf_facts.exports(snapshot)}
    assert not wanted & {s.name for s in elf_facts.exports(current)}
    assert elf_facts.dynamic(current).soname == "libutil.so"  # nothing in the file says "replaced"


# ------------------------------------------------------------------------------------ F5 toolchain


def test_f5_nightly_libstd_under_the_stable_name() -> None:
    fx = fixture_or_skip("toolchain")
    assert fx.nightly is not None
    fake = fx.file(f"fake-sysroot/{fx.stable.libstd.name}")
    assert fake.read_bytes() == fx.nightly.libstd.read_bytes()
    assert elf_facts.dynamic(fake).soname == fx.nightly.libstd.name != fx.stable.libstd.name
    assert elf_facts.crate_ids(fake)["std"] == std_id(fx, nightly=True) != std_id(fx)
    assert elf_facts.rustc_version(fake) == fx.nightly.version_line
    assert fx.stable.libstd.name in elf_facts.dynamic(fx.file("app")).needed
    imported = {root for root in elf_facts.roots_by_crate(elf_facts.imports(fx.file("app"))) if root.scid}
    assert CrateRoot("std", std_id(fx)) in imported
    # __rustc[<hash of the rustc version>]: a toolchain fingerprint the nightly's libstd does not answer
    rustc = {s.name for s in elf_facts.imports(fx.file("libbase.so")) if "7___rustc" in s.name}
    assert rustc
    assert not rustc & {s.name for s in elf_facts.exports(fake)}
    assert [s.name for s in elf_facts.exports(fake) if "7___rustc" in s.name]
