"""A binding may hand its heaviest requester to a forked helper process (elfdeps.binding.start_binding with
``helper=True``; the audit does so when it runs in one process and may use two CPUs). The helper is a
matter of speed only: the report must be the one a single process writes, to the last binding and in
the same order, and every way the helper can fail (no fork, an exception, a crash, a garbled answer, an
unreadable file) must end in that same report, bound here instead. ForkedWork itself: values come back,
failures come back as None, and no child is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from elfdeps import binding, forked
from elfdeps.audit.runner import AuditOptions, audit
from elfdeps.binding import BindingReport, bind, start_binding
from elfdeps.elf.cache import FileCache
from elfdeps.elf.relocations import symbolic_relocations_at_most
from elfdeps.errors import ElfFormatError
from elfdeps.forked import ForkedWork
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate
from elfdeps.model import LoadResult

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ("/usr/bin/ssh", "/usr/bin/python3.11", "/usr/bin/gio", "/usr/bin/ls")


def _rustc() -> str:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True).stdout
    return os.path.join(sysroot.strip(), "bin", "rustc")


class _Counted(ForkedWork):
    """ForkedWork that counts the helpers started (in this process)."""

    started_helpers = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.started:
            _Counted.started_helpers += 1


def _loaded(path: str) -> tuple[LoadResult, FileCache]:
    files = FileCache()
    return emulate(path, LoaderEnv(), files), files


def _single(path: str, **options: object) -> BindingReport:
    result, files = _loaded(path)
    return bind(result, files, **options)  # type: ignore[arg-type]


def _helped(path: str, monkeypatch: pytest.MonkeyPatch, **options: object) -> tuple[BindingReport, int, int]:
    """The report with a helper forced (any requester heavy enough), how many helpers started, and how
    many of the report's bindings the helper made (0 when its answer was not used)."""
    result, files = _loaded(path)
    with monkeypatch.context() as patch:
        patch.setattr(binding, "HELPER_MIN_REFERENCES", 1)
        patch.setattr(binding, "ForkedWork", _Counted)
        before = _Counted.started_helpers
        pending = start_binding(result, files, helper=True, **options)  # type: ignore[arg-type]
        report = pending.finish()
    return report, _Counted.started_helpers - before, pending.from_helper


@pytest.mark.parametrize("path", PROGRAMS)
@pytest.mark.parametrize("collect", [True, False])
def test_a_helper_changes_nothing_in_the_report(path: str, collect: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    single = _single(path, collect_interposition=collect)
    helped, helpers, from_helper = _helped(path, monkeypatch, collect_interposition=collect)
    assert helpers == 1 and from_helper > 0, "the helper's answer is in the report"
    assert len(single.bindings) > 50
    assert helped == single


def test_rustc_hands_librustc_driver_to_a_helper_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any threshold lowered: librustc_driver's 1.8k symbolic relocations pass it."""
    path = _rustc()
    result, files = _loaded(path)
    monkeypatch.setattr(binding, "ForkedWork", _Counted)
    before = _Counted.started_helpers
    pending = start_binding(result, files, collect_interposition=True, helper=True)
    assert pending._delegated is not None and "librustc_driver" in pending._delegated[1].path
    report = pending.finish()
    assert _Counted.started_helpers - before == 1 and pending.from_helper > 0
    assert report == _single(path, collect_interposition=True)


def test_requesters_subset_and_helper_bind_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _files = _loaded("/usr/bin/ssh")
    requesters = frozenset(obj.index for obj in result.objects if obj.found and obj.index % 2 == 0)
    single = _single("/usr/bin/ssh", requesters=requesters)
    helped, helpers, from_helper = _helped("/usr/bin/ssh", monkeypatch, requesters=requesters)
    assert helpers == 1 and from_helper > 0 and helped == single
    assert {item.requester for item in single.bindings} <= requesters


def _failing_fork() -> int:
    raise OSError(11, "Resource temporarily unavailable")


def _raising_helper(_self: object, _member: object) -> object:
    raise RuntimeError("the helper fails")


def _crashing_helper(_self: object, _member: object) -> object:
    os._exit(3)


_BOUND_BY_HELPER = binding.PendingBinding._bound_by_helper


def _garbled_class(self: binding.PendingBinding, member: object) -> object:
    answer = _BOUND_BY_HELPER(self, member)  # type: ignore[arg-type]
    assert isinstance(answer, list) and isinstance(answer[1], list)
    first = answer[1][0]
    answer[1][0] = (*first[:3], 99, *first[4:])  # no such relocation class
    return answer


def _garbled_stop(self: binding.PendingBinding, member: object) -> object:
    answer = _BOUND_BY_HELPER(self, member)  # type: ignore[arg-type]
    assert isinstance(answer, list) and isinstance(answer[0], int)
    return [answer[0] + 10_000, answer[1]]  # past every key: not where it could have stopped


@pytest.mark.parametrize(
    ("what", "target", "replacement"),
    [
        ("fork", os, _failing_fork),
        ("exception", binding.PendingBinding, _raising_helper),
        ("crash", binding.PendingBinding, _crashing_helper),
        ("garbled class", binding.PendingBinding, _garbled_class),
        ("garbled stop", binding.PendingBinding, _garbled_stop),
    ],
)
def test_a_failing_helper_ends_in_the_report_of_one_process(
    what: str, target: object, replacement: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = _single("/usr/bin/ssh", collect_interposition=True)
    name = "fork" if what == "fork" else "_bound_by_helper"
    monkeypatch.setattr(target, name, replacement)
    helped, helpers, from_helper = _helped("/usr/bin/ssh", monkeypatch, collect_interposition=True)
    assert helpers == (0 if what == "fork" else 1) and from_helper == 0
    assert helped == single


@pytest.mark.parametrize("side", ["helper", "here"])
def test_an_unreadable_library_on_either_side_gives_the_report_of_one_process(
    side: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libcrypto's hash table fails when first read: in the helper (the heaviest requester is bound
    there, and it asks libcrypto) or here; either way the report is the single process's, libcrypto
    reported once."""
    reason = "libcrypto: DT_GNU_HASH chains lie outside the file"

    def out_of_bounds(*_args: object) -> bool:
        raise ElfFormatError(reason)

    def damaged(result: LoadResult, files: FileCache) -> None:
        library = next(obj for obj in result.objects if obj.path and "libcrypto" in obj.path)
        assert library.host_path is not None
        table = files.elf(library.host_path).symbol_table
        monkeypatch.setattr(table, "admits", out_of_bounds)
        monkeypatch.setattr(table, "definition_names", out_of_bounds)

    result, files = _loaded("/usr/bin/ssh")
    damaged(result, files)
    single = bind(result, files, collect_interposition=True)
    assert len(single.unreadable) == 1

    result, files = _loaded("/usr/bin/ssh")
    monkeypatch.setattr(binding, "HELPER_MIN_REFERENCES", 1)
    if side == "helper":
        damaged(result, files)  # before the fork: the helper meets it
    pending = start_binding(result, files, collect_interposition=True, helper=True)
    if side == "here":
        damaged(result, files)  # after the fork: only this process meets it
    report = pending.finish()
    assert pending._helper is not None and pending.from_helper == 0, "a helper ran, its answer was not used"
    assert report == single


def test_forked_work_brings_a_value_back() -> None:
    value = [(1, b"name", None, 2, True, False, None, (3, 4)), "text", 10**30]
    work = ForkedWork(lambda: value)
    assert work.started and work.result() == value
    assert work.result() is None  # asked twice: the child is gone


def test_forked_work_reports_failures_as_none() -> None:
    def boom() -> object:
        raise KeyboardInterrupt

    assert ForkedWork(boom).result() is None
    assert ForkedWork(object).result() is None  # marshal cannot write it
    assert ForkedWork(lambda: os._exit(0)).result() is None  # ended without a word


def test_a_large_answer_is_read_whole() -> None:
    """More than a pipe holds (64 KiB): the child waits for the reader, the reader reads to the end."""
    value = [b"x" * 1000] * 1000
    assert ForkedWork(lambda: value).result() == value


def test_cancel_stops_the_child_and_leaves_no_zombie() -> None:
    work = ForkedWork(lambda: time.sleep(30))
    pid = work._pid
    assert pid is not None
    started = time.monotonic()
    work.cancel()
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert work.result() is None


def test_the_child_leaves_without_flushing_the_parents_output(capfd: pytest.CaptureFixture[str]) -> None:
    """What the parent had buffered is written once, by the parent (os._exit in the child)."""
    sys.stdout.write("buffered once")
    assert ForkedWork(lambda: 1).result() == 1
    sys.stdout.flush()
    assert capfd.readouterr().out == "buffered once"


def test_forked_is_on_the_lean_import_path() -> None:
    """ForkedWork costs the start-up nothing but marshal and os (both loaded by the interpreter)."""
    assert set(forked.__dict__) >= {"marshal", "os"}
    assert not {"contextlib", "signal", "pickle"} & set(forked.__dict__)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_audit_uses_a_helper_only_when_it_may_use_two_processes(jobs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """One file, audited in this process: with -j 2 librustc_driver goes to a helper, with -j 1 nothing
    forks; the findings are the same."""
    monkeypatch.setattr(binding, "ForkedWork", _Counted)
    before = _Counted.started_helpers
    report = audit([_rustc()], AuditOptions(LoaderEnv()), jobs=jobs)
    assert _Counted.started_helpers - before == (1 if jobs > 1 else 0)
    alone = audit([_rustc()], AuditOptions(LoaderEnv()), jobs=1)
    assert report.findings == alone.findings and len(alone.entries) == 1


def test_the_command_line_report_is_the_same_with_and_without_the_helper() -> None:
    def audited(jobs: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "elfdeps", "audit", "--all", "--json", "--no-progress", "-j", jobs, _rustc()],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            env={**os.environ, "PYTHONPATH": REPO},
        )
        return done.returncode, done.stdout

    helped, alone = audited("2"), audited("1")
    assert helped == alone
    assert json.loads(alone[1])["findings"]  # rustc's own files hold findings (--all shows them)


def _slow_in_the_helper(monkeypatch: pytest.MonkeyPatch, *, ignore_limit: bool = False) -> list[tuple[int, int]]:
    """Make the helper bind one small chunk every 2 ms (so that this process takes over its back half),
    optionally never looking at the limit (a helper that read the old limit: it binds everything);
    returns the list the take-overs are recorded in: (first key taken, keys in all)."""
    parent = os.getpid()
    bind_keys = binding.PendingBinding._bind_keys
    take_over = binding.PendingBinding._take_over
    taken: list[tuple[int, int]] = []

    def slow(self: binding.PendingBinding, *args: object) -> list[bool]:
        if os.getpid() != parent:
            time.sleep(0.002)
            if ignore_limit:
                self._board[binding._LIMIT] = binding._NO_LIMIT
        return bind_keys(self, *args)  # type: ignore[arg-type]

    def recorded(self: binding.PendingBinding, member: object) -> tuple[int, list[binding.Binding], list[bool]]:
        time.sleep(0.05)  # let the helper start
        start, tail, made = take_over(self, member)  # type: ignore[arg-type]
        taken.append((start, len(binding._reference_keys(member[1]))))  # type: ignore[index]
        return start, tail, made

    monkeypatch.setattr(binding, "HELPER_CHUNK", 8)
    monkeypatch.setattr(binding.PendingBinding, "_bind_keys", slow)
    monkeypatch.setattr(binding.PendingBinding, "_take_over", recorded)
    return taken


@pytest.mark.parametrize("ignore_limit", [False, True])
def test_taking_over_the_helpers_back_half_changes_nothing(ignore_limit: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process binds the back half of what the helper has not reached; where the helper stopped (at
    the limit, or past it: our copies are dropped), the report is the single process's."""
    single = _single("/usr/bin/ssh", collect_interposition=True)
    taken = _slow_in_the_helper(monkeypatch, ignore_limit=ignore_limit)
    helped, helpers, from_helper = _helped("/usr/bin/ssh", monkeypatch, collect_interposition=True)
    assert helpers == 1 and len(taken) == 1 and from_helper > 0
    start, total = taken[0]
    assert 0 < start < total, "the helper was slow enough for a take-over"
    assert helped == single


def test_a_child_reaped_by_someone_else_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """With SIGCHLD ignored (inherited from a parent shell or CI runner) the kernel reaps the child and
    waitpid fails: the value read whole is still the answer; a child that wrote nothing still is not."""
    real_waitpid = os.waitpid

    def reaped_elsewhere(pid: int, options: int) -> tuple[int, int]:
        real_waitpid(pid, options)
        raise ChildProcessError(10, "No child processes")

    monkeypatch.setattr(os, "waitpid", reaped_elsewhere)
    assert ForkedWork(lambda: [1, b"two"]).result() == [1, b"two"]
    assert ForkedWork(lambda: os._exit(1)).result() is None


@pytest.mark.parametrize("path", [*PROGRAMS, "rustc"])
def test_the_reference_estimate_bounds_the_relocations_read(path: str) -> None:
    """symbolic_relocations_at_most (table sizes only) is never below what the relocation reader finds,
    and not far above it (DT_RELACOUNT's relative entries are left out), on every object loaded."""
    result, files = _loaded(_rustc() if path == "rustc" else path)
    checked = 0
    for obj in result.objects:
        if obj.found and obj.host_path is not None:
            elf = files.elf(obj.host_path)
            read = len(elf.symbol_references)
            assert read <= symbolic_relocations_at_most(elf) <= 2 * read + 16, obj.path
            checked += 1
    assert checked >= 3
