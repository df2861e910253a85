"""Emulates one program start: preloads, the breadth-first DT_NEEDED walk and the load order.

Mirrors glibc 2.36 elf/rtld.c:dl_main (namespace set-up, preloads, ld.so's place in the list) and
elf/dl-deps.c:_dl_map_object_deps (breadth-first walk, filters), in trace mode as ldd runs it: a name
not found becomes a "not found" entry and the walk goes on; a fatal error stops it (loader.md §2, §9).
"""

from __future__ import annotations

import os

from elfdeps.elf import constants as C
from elfdeps.elf.cache import FileCache, OpenFailure
from elfdeps.elf.reader import ElfFile
from elfdeps.errors import ElfFormatError, InputError
from elfdeps.loader.dst import contains_dst, expand
from elfdeps.loader.environment import LoaderEnv, TargetCache, TargetSystem
from elfdeps.loader.fs import RootFS
from elfdeps.loader.linkmap import LinkMap, origin_of
from elfdeps.loader.search import Searcher, SearchResult
from elfdeps.loader.verify import post_map_error
from elfdeps.model import Attempt, DependencyKind, Edge, LoadedObject, LoadError, LoadResult, ObjectFacts, Via

__all__ = ["Emulation", "emulate", "object_facts", "open_main"]

_KIND = {
    C.DT_NEEDED: DependencyKind.NEEDED,
    C.DT_FILTER: DependencyKind.FILTER,
    C.DT_AUXILIARY: DependencyKind.AUXILIARY,
}


class _Stop(Exception):
    def __init__(self, error: LoadError) -> None:
        super().__init__(error.message)
        self.error = error


def open_main(files: FileCache, host_path: str, shown_as: str) -> ElfFile:
    """Open the file the user named; anything but a readable ELF executable or library is an InputError."""
    opened = files.open(host_path)
    if isinstance(opened, OpenFailure):
        raise InputError(f"{shown_as}: {opened.reason}")
    try:
        elf = opened.elf()
    except ElfFormatError as error:
        message = str(error)
        if message.startswith(host_path):
            message = shown_as + message[len(host_path) :]
        raise InputError(message) from error
    if elf.e_type not in (C.ET_EXEC, C.ET_DYN):
        kinds = {C.ET_REL: "a relocatable object (.o)", C.ET_CORE: "a core dump"}
        raise InputError(f"{shown_as}: {kinds.get(elf.e_type, 'not an executable or shared library')}")
    return elf


def object_facts(elf: ElfFile) -> ObjectFacts:
    """The facts of a loaded file that reports show (read once, while the file is at hand)."""
    dynamic = elf.dynamic
    return ObjectFacts(
        elf_class=elf.elf_class_bits,
        e_machine=elf.e_machine,
        machine=elf.machine_name,
        byte_order=elf.byte_order,
        e_type=elf.e_type,
        interpreter=elf.interpreter,
        dynamic=dynamic is not None,
        soname=dynamic.soname if dynamic is not None else None,
        needed=dynamic.needed if dynamic is not None else (),
        rpath=dynamic.rpath if dynamic is not None else None,
        runpath=dynamic.runpath if dynamic is not None else None,
        flags=dynamic.flag_names() if dynamic is not None else (),
    )


class Emulation:
    """One emulated start of ``main_path`` (a path inside ``env.root`` when a root is given).

    ``files`` and ``targets`` are the run's caches (each file parsed once, each target described
    once); a fresh one is made when they are not given.
    """

    def __init__(
        self,
        main_path: str,
        env: LoaderEnv,
        files: FileCache | None = None,
        targets: TargetCache | None = None,
        *,
        check_shadowing: bool = False,
    ) -> None:
        self.env = env
        self.files = files if files is not None else FileCache()
        self.check_shadowing = check_shadowing
        self.main_path = main_path
        fs = RootFS(env.root)
        try:
            host = fs.host_path(main_path)
        except OSError as error:
            raise InputError(f"{main_path}: {error.strerror}") from error
        self.main_elf = open_main(self.files, host, main_path)
        interpreter = os.fsdecode(self.main_elf.interpreter) if self.main_elf.interpreter else None
        self.target: TargetSystem = (targets if targets is not None else TargetCache()).describe(
            env, self.main_elf.elf_class_bits, self.main_elf.e_machine, self.main_elf.byte_order, interpreter
        )
        real = fs.realpath(main_path)
        self.main = LinkMap(
            name=os.fsencode(main_path),
            l_name="",  # a normally executed program's l_name is empty (rtld.c)
            display_path=main_path,
            elf=self.main_elf,
            identity=None,  # the main program's file id is not recorded (loader.md §3.8)
            loader=None,
            origin=os.fsencode(os.path.dirname(real) or "/"),  # /proc/self/exe: the real path
            via=Via.MAIN,
            host_path=host,
        )
        self.searcher = Searcher(env, self.target, self.files, self.main)
        self.rtld = self._make_rtld()
        vdso_name = b"linux-gate.so.1" if self.main_elf.e_machine == C.EM_386 else b"linux-vdso.so.1"
        self.vdso = LinkMap(vdso_name, vdso_name.decode(), vdso_name.decode(), None, None, None, None, None)
        self.mapped: list[LinkMap] = []  # namespace list after main, in mapping order, fakes included
        self.searchlist: list[LinkMap] = [self.main]  # first-reference order: the global scope
        self._on_searchlist: set[int] = {id(self.main)}
        # The first object in namespace order that answers to each name (what _dl_map_object's scan
        # of the namespace finds), and loaded objects by file identity: both O(1) instead of a scan.
        self._by_name: dict[bytes, LinkMap] = {}
        self._by_identity: dict[tuple[int, int], LinkMap] = {}
        for known in (self.main, self.vdso, self.rtld):
            self._register(known)
        self.edges: list[tuple[LinkMap, DependencyKind, bytes, bytes, LinkMap | None, bool, str | None]] = []
        self.warnings: list[str] = []

    def _make_rtld(self) -> LinkMap:
        interpreter = self.main_elf.interpreter
        path = os.fsdecode(interpreter) if interpreter else self.target.default_interpreter
        rtld = LinkMap(os.fsencode(path), path, path, None, None, None, None, Via.INTERPRETER)
        verdict = self.searcher.verify(path) if path else None
        if verdict is not None and verdict.opened is not None:
            # Its DT_SONAME becomes a name it answers to through names(). Its file id is not recorded,
            # so it is never matched by identity, only by name.
            rtld.elf = verdict.elf
            rtld.host_path = verdict.opened.path
        if rtld.soname is None:  # without a readable DT_SONAME, glibc takes the file name as the soname
            rtld.aliases.add(os.fsencode(os.path.basename(path)))
        return rtld

    # -- the walk ----------------------------------------------------------------------------------

    def run(self) -> LoadResult:
        error: LoadError | None = None
        try:
            self._load_preloads()
            position = 0
            while position < len(self.searchlist):
                current = self.searchlist[position]
                position += 1
                if current.elf is not None and current.elf.dynamic is not None and current is not self.rtld:
                    self._load_dependencies(current)
        except _Stop as stop:
            error = stop.error
        return self._result(error)

    def _register(self, obj: LinkMap) -> None:
        """Make an object findable by every name it answers to, unless an earlier object answers first."""
        for name in obj.names():
            self._by_name.setdefault(name, obj)
        if obj.identity is not None:
            self._by_identity.setdefault(obj.identity, obj)

    def _find_loaded(self, name: bytes) -> LinkMap | None:
        """_dl_map_object's scan: an object whose l_name, alias or DT_SONAME is ``name`` (loader.md §3.2)."""
        return self._by_name.get(name)

    def _reference(self, obj: LinkMap, depth: int) -> None:
        """Put an object on the search list the first time anything refers to it."""
        if obj.fake or obj is self.vdso or id(obj) in self._on_searchlist:
            return
        obj.depth = depth
        self.searchlist.append(obj)
        self._on_searchlist.add(id(obj))

    def _load_preloads(self) -> None:
        names: list[tuple[bytes, str]] = []
        if self.env.preload:
            for item in self.env.preload.replace(":", " ").split():
                if self.env.secure and "/" in item:
                    continue  # ignored in secure mode (dso_name_valid_for_suid)
                names.append((os.fsencode(item), "LD_PRELOAD"))
        if self.env.read_preload_file:
            data = self.target.fs.read_bytes("/etc/ld.so.preload")
            if data:
                for line in data.splitlines():
                    for entry in line.split(b"#", 1)[0].replace(b":", b" ").split():
                        names.append((entry, "/etc/ld.so.preload"))
        for raw, source in names:
            name = raw
            if b"/" in raw:
                expanded = expand(raw, self.searcher.dst_values(self.main))
                if not expanded:
                    continue
                name = expanded
            target = self._find_loaded(name)
            if target is None:
                result = self.searcher.search(name, self.main, preload=True)
                if not result.found:
                    reason = (
                        result.verdict.message if result.fatal and result.verdict else "cannot open shared object file"
                    )
                    shown = os.fsdecode(raw)
                    message = f"object '{shown}' from {source} cannot be preloaded ({reason}): ignored."
                    self.warnings.append(f"ERROR: ld.so: {message}")
                    continue
                # The link map keeps the name as given ($ORIGIN unexpanded), as do_preload passes it.
                target = self._map(raw, self.main, result, Via.PRELOAD)
            self._reference(target, 1)
            self.edges.append((self.main, DependencyKind.PRELOAD, raw, name, target, False, None))

    def _load_dependencies(self, requester: LinkMap) -> None:
        assert requester.elf is not None and requester.elf.dynamic is not None
        for tag, raw in requester.elf.dynamic.dependencies:
            kind = _KIND[tag]
            name = raw
            if contains_dst(raw):
                if self.env.secure:
                    raise _Stop(LoadError(os.fsdecode(raw), None, "DST not allowed in SUID/SGID programs"))
                expanded = expand(raw, self.searcher.dst_values(requester))
                if not expanded:
                    if kind is DependencyKind.AUXILIARY:
                        continue
                    raise _Stop(LoadError(os.fsdecode(raw), None, "empty dynamic string token substitution"))
                name = expanded
            target = self._find_loaded(name)
            reused = target is not None
            shadowed = None
            if target is None:
                result = self.searcher.search(name, requester)
                if result.fatal:
                    assert result.verdict is not None
                    raise _Stop(LoadError(os.fsdecode(name), result.path, result.verdict.message or "error"))
                if result.found:
                    target = self._map(name, requester, result, result.via)
                else:
                    target = self._fake(name, requester, result.attempts, kind)
            elif self.check_shadowing and b"/" not in name and target is not self.main and target is not self.vdso:
                shadowed = self._shadowed_path(name, requester, target)
            self._reference(target, requester.depth + 1)
            if kind is not DependencyKind.NEEDED:
                self._place_filtee(target, requester)
            self.edges.append((requester, kind, raw, name, target, reused, shadowed))

    def _map(self, name: bytes, requester: LinkMap, result: SearchResult, via: Via | None) -> LinkMap:
        """A found file becomes a new link map, unless the same file (dev, ino) is already loaded."""
        verdict, path = result.verdict, result.path
        assert verdict is not None and verdict.opened is not None and path is not None, "only found files are mapped"
        opened = verdict.opened
        loaded = self._by_identity.get(opened.identity)
        if loaded is not None:  # the same file under another name (loader.md §3.8)
            loaded.aliases.add(name)
            self._by_name.setdefault(name, loaded)
            return loaded
        elf = verdict.elf
        problem = post_map_error(elf)
        if problem is not None:
            pie = elf.dynamic is not None and elf.dynamic.is_pie
            raise _Stop(LoadError(os.fsdecode(name), path, problem, None, names_path=not pie))
        obj = LinkMap(
            name=name,
            l_name=path,
            display_path=path,
            elf=elf,
            identity=opened.identity,
            loader=requester,
            origin=origin_of(path, self.env.cwd),
            via=via,
            via_owner=result.via_owner,
            attempts=result.attempts,
            host_path=opened.path,
        )
        self.mapped.append(obj)
        self._register(obj)
        return obj

    def _fake(self, name: bytes, requester: LinkMap, attempts: tuple[Attempt, ...], kind: DependencyKind) -> LinkMap:
        fake = LinkMap(name, "", os.fsdecode(name), None, None, requester, None, None, attempts=attempts, fake=True)
        fake.required = kind is not DependencyKind.AUXILIARY
        fake.depth = requester.depth + 1
        self.mapped.append(fake)
        return fake

    def _place_filtee(self, filtee: LinkMap, filter_object: LinkMap) -> None:
        """A filtee goes just before its filter in the scope and the list (dl-deps.c, loader.md §12)."""
        for order in (self.searchlist, self.mapped):
            if filtee in order and filter_object in order and order.index(filtee) > order.index(filter_object):
                order.remove(filtee)
                order.insert(order.index(filter_object), filtee)

    def _shadowed_path(self, name: bytes, requester: LinkMap, target: LinkMap) -> str | None:
        """The different file this requester's own search would have found, if any (loader.md §3.2)."""
        result = self.searcher.search(name, requester)
        if not result.found or result.verdict is None or result.verdict.opened is None:
            return None
        identity = target.identity
        if identity is None and target.host_path is not None:
            try:
                st = os.stat(target.host_path)
                identity = (st.st_dev, st.st_ino)
            except OSError:
                identity = None
        return None if result.verdict.opened.identity == identity else result.path

    # -- the result --------------------------------------------------------------------------------

    def _load_order(self) -> list[LinkMap]:
        order = [self.main, *self.mapped]
        if id(self.rtld) in self._on_searchlist:
            # ld.so is re-linked right after its predecessor in the search list (rtld.c, loader.md §9).
            predecessor = self.searchlist[self.searchlist.index(self.rtld) - 1]
            order.insert(order.index(predecessor) + 1, self.rtld)
        return order

    def _result(self, error: LoadError | None) -> LoadResult:
        order = self._load_order()
        index_of = {id(obj): index for index, obj in enumerate(order)}
        first_requester: dict[int, int] = {}  # id(object) -> index of the first object that needed it
        for req, _kind, _raw, _name, target, _reused, _shadowed in self.edges:
            if target is not None and id(req) in index_of:
                first_requester.setdefault(id(target), index_of[id(req)])
        objects = []
        for index, obj in enumerate(order):
            needed_by = index_of.get(id(obj.loader)) if obj.loader is not None else None
            if obj is not self.main and needed_by is None:
                needed_by = first_requester.get(id(obj))
            objects.append(
                LoadedObject(
                    index=index,
                    name=obj.name,
                    path=None if obj.fake else obj.display_path,
                    found=not obj.fake,
                    via=obj.via,
                    via_owner=obj.via_owner,
                    needed_by=needed_by,
                    depth=obj.depth,
                    attempts=obj.attempts,
                    required=obj.required,
                    facts=object_facts(obj.elf) if obj.elf is not None else None,
                    host_path=obj.host_path,
                )
            )
        edges = tuple(
            Edge(
                index_of[id(req)],
                kind,
                raw,
                name,
                index_of.get(id(target)) if target is not None else None,
                reused,
                shadowed,
            )
            for req, kind, raw, name, target, reused, shadowed in self.edges
            if id(req) in index_of
        )
        return LoadResult(self.main_path, tuple(objects), edges, error, tuple(self.warnings), self.target.facts())


def emulate(
    main_path: str,
    env: LoaderEnv,
    files: FileCache | None = None,
    targets: TargetCache | None = None,
    *,
    check_shadowing: bool = False,
) -> LoadResult:
    """What the loader would load for ``main_path``, in order, with provenance."""
    return Emulation(main_path, env, files, targets, check_shadowing=check_shadowing).run()
