"""One fix for a whole program: a single LD_LIBRARY_PATH that resolves every missing library at once,
checked by emulating the start again with it before it is suggested.

Built from the copies ``nearby`` found: the first suitable copy of each missing library gives a
directory; the emulation is run again with those directories, which may find libraries that need
more (a prefer-dynamic Rust dylib found in target/debug/deps then needs the toolchain's libstd), so
the search repeats until nothing more resolves. The result says how many missing libraries the
directories resolve and which remain, and whether the program sits in a cargo target directory
(cargo sets this path itself for ``cargo run``/``cargo test``; files there are rebuilt, so no
advice edits them).
"""

from __future__ import annotations

from elfdeps.advice.cargo import cargo_target_dir
from elfdeps.advice.nearby import explain_missing
from elfdeps.elf.cache import FileCache
from elfdeps.facts import Fact
from elfdeps.loader.environment import LoaderEnv, TargetCache
from elfdeps.loader.graph import emulate
from elfdeps.model import LoadResult

__all__ = ["CombinedFix", "combined_fix"]

MAX_ROUNDS = 6  # each round can only add directories; real trees settle in two or three


class CombinedFix(Fact):
    """What one LD_LIBRARY_PATH achieves for a program with missing libraries."""

    directories: tuple[str, ...]  # added to the analysis' LD_LIBRARY_PATH, in search order
    given: str | None  # the LD_LIBRARY_PATH the analysis had (it stays first: what resolved stays put)
    missing: tuple[str, ...]  # names not found without it
    still_missing: tuple[str, ...]  # names still not found with it (no usable copy anywhere we looked)
    secure: bool  # a set-user-ID program ignores LD_LIBRARY_PATH
    cargo_target: str | None  # the cargo target directory the program was built in, if any

    @property
    def complete(self) -> bool:
        return bool(self.directories) and not self.still_missing

    @property
    def ld_library_path(self) -> str:
        return ":".join([self.given, *self.directories] if self.given else self.directories)


def _missing_names(result: LoadResult) -> list[str]:
    names: list[str] = []
    for obj in result.missing:
        if obj.display_name not in names:
            names.append(obj.display_name)
    return names


def _copy_directories(result: LoadResult) -> list[str]:
    directories: list[str] = []
    for obj in result.missing:
        suitable = next((match for match in obj.nearby if match.suitable), None)
        if suitable is not None and suitable.ld_library_path not in directories:
            directories.append(suitable.ld_library_path)
    return directories


def combined_fix(
    result: LoadResult,
    env: LoaderEnv,
    files: FileCache,
    targets: TargetCache,
    toolchains: tuple[str, ...] = (),
) -> CombinedFix | None:
    """The verified LD_LIBRARY_PATH for ``result`` (already explained by ``explain_missing``), or None
    when nothing is missing."""
    missing = _missing_names(result)
    if not missing or result.error is not None:
        return None
    directories: list[str] = []
    current = result
    for _round in range(MAX_ROUNDS):
        added = [directory for directory in _copy_directories(current) if directory not in directories]
        if not added:
            break
        directories += added
        given = [env.ld_library_path] if env.ld_library_path else []
        trial_env = env._replace(ld_library_path=":".join([*given, *directories]))
        trial = emulate(result.main_path, trial_env, files, targets)
        current = explain_missing(trial, files, targets.of(trial, trial_env), toolchains)
        if current.error is not None or not current.missing:
            break
    still = _missing_names(current) if directories else missing
    if current.error is not None:
        still = [*still, current.error.name]
    return CombinedFix(
        directories=tuple(directories),
        given=env.ld_library_path or None,
        missing=tuple(missing),
        still_missing=tuple(still),
        secure=env.secure,
        cargo_target=cargo_target_dir(result.main_path) if result.system is None or not result.system.root else None,
    )
