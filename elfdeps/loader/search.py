"""The one glibc search order for a library name, recording every place tried.

Mirrors glibc 2.36 elf/dl-load.c:_dl_map_object (search part) and open_path (loader.md §3.3-3.6):
  names with '/': opened as given (relative to the current directory), no search;
  otherwise: the RPATH chain (only when the requester has no RUNPATH), LD_LIBRARY_PATH, the
  requester's own RUNPATH, ld.so.cache, the default directories (the last two filtered by the
  requester's DF_1_NODEFLIB); every directory probed with the hwcaps prefixes first.
"""

from __future__ import annotations

import errno
import os

from elfdeps.elf.cache import FileCache
from elfdeps.facts import Fact
from elfdeps.loader.dst import DstValues, split_path_list
from elfdeps.loader.environment import LoaderEnv, TargetSystem
from elfdeps.loader.linkmap import LinkMap
from elfdeps.loader.verify import Verdict, VerdictKind, is_setuid, open_verify
from elfdeps.model import Attempt, Outcome, Via

__all__ = ["SearchResult", "Searcher"]

_CONTINUE_ERRNOS = (errno.ENOENT, errno.EACCES)
_SKIP_OUTCOME = {
    VerdictKind.WRONG_CLASS: Outcome.WRONG_CLASS,
    VerdictKind.WRONG_MACHINE: Outcome.WRONG_MACHINE,
}


class SearchResult(Fact):
    """Where a name was found (``verdict`` OK), or why not (``verdict`` None, or FATAL)."""

    path: str | None
    via: Via | None
    via_owner: str | None
    verdict: Verdict | None
    attempts: tuple[Attempt, ...]

    @property
    def found(self) -> bool:
        return self.verdict is not None and self.verdict.kind is VerdictKind.OK

    @property
    def fatal(self) -> bool:
        return self.verdict is not None and self.verdict.kind is VerdictKind.FATAL


class _Abort(Exception):
    """The rest of one search list is abandoned (an errno other than ENOENT/EACCES)."""


class Searcher:
    """Searches names for one emulated program start; keeps the loader's directory-existence cache."""

    def __init__(self, env: LoaderEnv, target: TargetSystem, files: FileCache, main: LinkMap) -> None:
        self.env = env
        self.target = target
        self.files = files
        self.main = main
        self._dir_exists: dict[str, bool] = {}
        self._hwcaps_names = tuple(prefix.split("/")[1] for prefix in target.hwcaps_subdirs)
        self._llp_dirs: tuple[str, ...] = ()
        if env.ld_library_path and not env.secure:
            # LD_LIBRARY_PATH accepts ':' and ';' and expands DSTs with the main program's values.
            self._llp_dirs = split_path_list(os.fsencode(env.ld_library_path), b":;", self.dst_values(main))

    def dst_values(self, owner: LinkMap) -> DstValues:
        target = self.target
        return DstValues(
            origin=owner.origin,
            lib=os.fsencode(target.dst_lib),
            platform=os.fsencode(target.platform),
            secure=self.env.secure,
            origin_is_executable=owner is self.main,
            trusted_dirs=tuple(os.fsencode(d) for d in target.default_dirs),
        )

    def _rpath_dirs(self, owner: LinkMap) -> tuple[str, ...]:
        if owner.rpath_dirs is None:
            rpath = owner.rpath
            owner.rpath_dirs = split_path_list(rpath, b":", self.dst_values(owner)) if rpath else ()
        return owner.rpath_dirs

    def _runpath_dirs(self, owner: LinkMap) -> tuple[str, ...]:
        if owner.runpath_dirs is None:
            runpath = owner.elf.dynamic.runpath if owner.elf and owner.elf.dynamic else None
            owner.runpath_dirs = split_path_list(runpath, b":", self.dst_values(owner)) if runpath else ()
        return owner.runpath_dirs

    def verify(self, path: str) -> Verdict:
        t = self.target
        return open_verify(self.files, t.fs, path, t.elf_class, t.machine, t.byte_order)

    def _candidate(self, path: str, preload: bool) -> Verdict:
        """open_verify, plus the secure-mode rule that a preload must carry the set-user-ID bit."""
        verdict = self.verify(path)
        secure_preload = preload and self.env.secure
        if verdict.kind is VerdictKind.OK and secure_preload and not (verdict.opened and is_setuid(verdict.opened)):
            return Verdict(VerdictKind.ABSENT, errno.ENOENT)
        return verdict

    # -- the search ------------------------------------------------------------------------------

    def search(self, name: bytes, requester: LinkMap, preload: bool = False) -> SearchResult:
        text = os.fsdecode(name)
        attempts: list[Attempt] = []

        def finish(path: str | None, via: Via | None, owner: str | None, verdict: Verdict | None) -> SearchResult:
            return SearchResult(path, via, owner, verdict, tuple(attempts))

        if b"/" in name:
            verdict = self._candidate(text, preload)
            attempts.append(self._attempt(text, os.path.dirname(text), Via.DIRECT, None, verdict))
            if verdict.kind in (VerdictKind.OK, VerdictKind.FATAL):
                return finish(text, Via.DIRECT, None, verdict)
            return finish(None, None, None, None)

        sources: list[tuple[tuple[str, ...], Via, LinkMap | None]] = []
        if not requester.has_runpath:
            chain: LinkMap | None = requester
            while chain is not None:
                if chain.rpath:
                    sources.append((self._rpath_dirs(chain), Via.RPATH, chain))
                chain = chain.loader
        if self._llp_dirs:
            sources.append((self._llp_dirs, Via.LD_LIBRARY_PATH, None))
        if requester.has_runpath:
            sources.append((self._runpath_dirs(requester), Via.RUNPATH, requester))

        for directories, via, owner in sources:
            owner_name = owner.display_path if owner is not None else None
            try:
                for directory in directories:
                    hit = self._probe_directory(directory, text, via, owner_name, attempts, preload)
                    if hit is not None:
                        return finish(hit[0], via, owner_name, hit[1])
            except _Abort:
                continue

        nodeflib = requester.nodeflib
        cache = self.target.cache
        if cache is not None and not self.env.inhibit_cache and not (preload and self.env.secure):
            entry = cache.lookup(
                name, self.target.cache_flags, self._hwcaps_names, legacy=bool(self.target.legacy_subdirs)
            )
            if entry is not None:
                path = os.fsdecode(entry.path)
                directory = os.path.dirname(path)
                if nodeflib and any(path.startswith(d) for d in self.target.default_dirs):
                    attempts.append(
                        Attempt(
                            path,
                            directory,
                            Via.LD_SO_CACHE,
                            None,
                            Outcome.REJECTED_NODEFLIB,
                            "the requester has DF_1_NODEFLIB",
                        )
                    )
                else:
                    verdict = self.verify(path)
                    attempts.append(self._attempt(path, directory, Via.LD_SO_CACHE, None, verdict))
                    if verdict.kind in (VerdictKind.OK, VerdictKind.FATAL):
                        return finish(path, Via.LD_SO_CACHE, None, verdict)

        if not nodeflib:
            try:
                for directory in self.target.default_dirs:
                    hit = self._probe_directory(directory, text, Via.DEFAULT, None, attempts, preload)
                    if hit is not None:
                        return finish(hit[0], Via.DEFAULT, None, hit[1])
            except _Abort:
                pass
        return finish(None, None, None, None)

    def _probe_directory(
        self, directory: str, name: str, via: Via, owner: str | None, attempts: list[Attempt], preload: bool
    ) -> tuple[str, Verdict] | None:
        """open_path for one directory: every hwcaps prefix, then the directory itself.

        Returns the path and verdict of a file that ends the search (OK or FATAL), None to go on;
        raises _Abort when the rest of this list is abandoned.
        """
        relative = not directory.startswith("/")
        last_errno = errno.ENOENT
        tried_any = False
        for prefix in self.target.probe_prefixes:
            subdir = directory + prefix
            if not relative and self._dir_exists.get(subdir) is False:
                continue
            path = subdir + name
            verdict = self._candidate(path, preload)
            tried_any = True
            if not relative and subdir not in self._dir_exists:
                exists = verdict.kind is VerdictKind.OK or self.target.fs.is_directory(subdir.rstrip("/") or "/")
                self._dir_exists[subdir] = exists
            if verdict.kind in (VerdictKind.OK, VerdictKind.FATAL):
                attempts.append(self._attempt(path, subdir, via, owner, verdict))
                return path, verdict
            if verdict.kind in _SKIP_OUTCOME or prefix == "":
                attempts.append(self._attempt(path, subdir, via, owner, verdict))
            last_errno = verdict.errno
        if not tried_any:
            attempts.append(Attempt(directory + name, directory, via, owner, Outcome.NO_DIRECTORY, "no such directory"))
            return None
        if last_errno not in _CONTINUE_ERRNOS:
            directory_exists = self._dir_exists.get(directory, False)
            # glibc < 2.39 also abandons the list for a relative element naming a non-directory (BZ 31035).
            version = self.target.glibc_version
            if directory_exists or (relative and (version is None or version < (2, 39))):
                if attempts and attempts[-1].directory == directory:
                    attempts.pop()  # the same candidate, now known to end the list
                attempts.append(
                    Attempt(
                        directory + name,
                        directory,
                        via,
                        owner,
                        Outcome.ERROR,
                        f"{os.strerror(last_errno)}: the loader abandons the rest of this list",
                    )
                )
                raise _Abort
        return None

    def _attempt(self, path: str, directory: str, via: Via, owner: str | None, verdict: Verdict) -> Attempt:
        if verdict.kind is VerdictKind.OK:
            return Attempt(path, directory, via, owner, Outcome.FOUND)
        if verdict.kind is VerdictKind.FATAL:
            return Attempt(path, directory, via, owner, Outcome.ERROR, verdict.message)
        if verdict.kind in _SKIP_OUTCOME:
            return Attempt(path, directory, via, owner, _SKIP_OUTCOME[verdict.kind], verdict.message)
        exists = self._dir_exists.get(directory)
        if exists is None:
            exists = self.target.fs.is_directory(directory or ".")
        if verdict.errno == errno.ENOENT and not exists:
            return Attempt(path, directory, via, owner, Outcome.NO_DIRECTORY, "no such directory")
        detail = None if verdict.errno == errno.ENOENT else os.strerror(verdict.errno)
        return Attempt(path, directory, via, owner, Outcome.ABSENT, detail)
