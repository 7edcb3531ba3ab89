"""Group commit of new files: the files that concurrent requests want durable, written together.

Each file must be on disk before its request is answered (an SMTP 250, an HTTP 202), so each
one costs an fdatasync; the rest can be shared.  Files queued while a batch is on the disk go
out together in the next one: one thread hop instead of one per file, a rename each, and one
fsync per directory for all of that batch's new names — without that directory fsync a crash
could forget a rename whose file the stream already refers to.

Within a batch, every file is written to ``<name>.part``, fdatasync'ed, renamed into place,
and only then are the directories synced; a caller is told "done" only after all of it, or
gets its own error (another caller's failure is not its failure).  A half-written file is
never visible under its final name.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

# Two batches on the disk at once: a batch that fills while the other syncs starts at once, yet
# concurrent requests still share their syncs.
MAX_IN_FLIGHT = 2
# Open descriptors held between the writes and their syncs (a batch may hold thousands of files).
MAX_OPEN_FILES = 64
# A batch a subclass allows on the event loop (``_inline_allowed``) is committed there, without the
# thread, once this many batches in a row took at most INLINE_SECONDS each.  The hand-off to the thread
# and back wakes a thread on the other core and hands the GIL to and fro: 0.25 ms of CPU a mail in
# bench/smtp.py (four clients, about one mail a batch), more than the pwrite and fdatasync of an
# already open pack (0.15-0.25 ms of wall time here).  A disk that turns slow stalls the loop once, for
# that sync; from then on batches go to the thread until it is quick again.
INLINE_SECONDS = 0.001
INLINE_AFTER_QUICK = 8
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


@dataclass
class BatchJob:
    """One caller's share of a batch; ``error`` is its own failure, set in the thread."""

    future: asyncio.Future[None] | None
    error: BaseException | None = field(default=None, init=False)


JobT = TypeVar("JobT", bound=BatchJob)


@dataclass
class _Queue(Generic[JobT]):
    """One event loop's waiting jobs and batches on the disk (tests run a loop per test)."""

    loop: asyncio.AbstractEventLoop
    jobs: list[JobT] = field(default_factory=list)
    in_flight: int = 0
    flush_scheduled: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class DiskBatcher(ABC, Generic[JobT]):
    """The callers of one event loop, gathered into batches that a thread takes to the disk.

    Subclasses say what a batch does (``_commit``, in the thread) and may prepare it on the
    loop first (``_before_thread``), where the batch's order is still the callers' order.  A
    subclass may also let the loop commit small batches itself while the disk is quick
    (``_inline_allowed``; see INLINE_SECONDS).
    """

    def __init__(self, *, max_in_flight: int = MAX_IN_FLIGHT, inline_seconds: float = INLINE_SECONDS) -> None:
        self.max_in_flight = max_in_flight
        self.inline_seconds = inline_seconds
        self._queue: _Queue[JobT] | None = None
        self.batches = 0  # how many batches went to the disk (tests read it)
        self.inline_batches = 0  # of which on the event loop
        self._quick_in_a_row = 0  # batches in a row that took at most inline_seconds

    async def _submit(self, job: JobT) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        if queue is None or queue.loop is not loop:
            queue = self._queue = _Queue(loop)
        job.future = loop.create_future()
        queue.jobs.append(job)
        self._schedule(queue)
        await job.future

    def _run_now(self, job: JobT) -> None:
        """The same commit for a caller without an event loop, in its own thread."""
        self._before_thread([job])
        self._commit([job])
        if job.error is not None:
            raise job.error

    def _before_thread(self, jobs: list[JobT]) -> None:
        """On the event loop, before the batch goes to the thread."""

    def _inline_allowed(self, jobs: list[JobT]) -> bool:
        """Whether this batch (after ``_before_thread``) is one the event loop may commit itself
        while the disk is quick: a few appends and syncs, no file or directory to create."""
        return False

    @abstractmethod
    def _commit(self, jobs: list[JobT]) -> None:
        """In the thread: make the batch durable, setting each failed job's ``error``."""

    def _schedule(self, queue: _Queue[JobT]) -> None:
        if queue.jobs and not queue.flush_scheduled and queue.in_flight < self.max_in_flight:
            queue.flush_scheduled = True
            # call_soon: the requests whose data is ready in this tick all join the batch.
            queue.loop.call_soon(self._flush, queue)

    def _flush(self, queue: _Queue[JobT]) -> None:
        queue.flush_scheduled = False
        jobs, queue.jobs = queue.jobs, []
        if not jobs:
            return
        self.batches += 1
        self._before_thread(jobs)
        if self._quick_in_a_row >= INLINE_AFTER_QUICK and self._inline_allowed(jobs):
            self.inline_batches += 1
            try:
                self._note(self._timed_commit(jobs))
            except Exception as exc:  # _commit sets each job's error; anything else is every job's
                self._quick_in_a_row = 0
                for job in jobs:
                    job.error = job.error or OSError(f"disk commit failed: {exc!r}")
            self._answer(jobs)
            self._schedule(queue)
            return
        queue.in_flight += 1
        task = queue.loop.create_task(self._run(jobs, queue))
        queue.tasks.add(task)
        task.add_done_callback(queue.tasks.discard)

    async def _run(self, jobs: list[JobT], queue: _Queue[JobT]) -> None:
        try:
            self._note(await asyncio.to_thread(self._timed_commit, jobs))
        except BaseException as exc:  # cancelled (loop shutting down): nobody may wait forever
            for job in jobs:
                job.error = job.error or OSError(f"disk commit interrupted: {exc!r}")
        finally:
            queue.in_flight -= 1
            self._answer(jobs)
            self._schedule(queue)

    def _timed_commit(self, jobs: list[JobT]) -> float:
        start = time.perf_counter()
        self._commit(jobs)
        return time.perf_counter() - start

    def _note(self, seconds: float) -> None:
        self._quick_in_a_row = self._quick_in_a_row + 1 if seconds <= self.inline_seconds else 0

    @staticmethod
    def _answer(jobs: list[JobT]) -> None:
        for job in jobs:
            if job.future is None or job.future.done():
                continue  # its caller was cancelled; what it wrote stays, referenced by nothing
            if job.error is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(job.error)


@dataclass
class _FilesJob(BatchJob):
    files: Sequence[tuple[Path, bytes]] = ()
    fds: list[int] = field(default_factory=list)  # open, written, not synced yet
    written: list[Path] = field(default_factory=list)  # .part files of this job


class GroupCommit(DiskBatcher[_FilesJob]):
    """Durable creation of new files, batched across the callers of one event loop."""

    def __init__(self, *, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        super().__init__(max_in_flight=max_in_flight)
        self._known_dirs: set[Path] = set()  # created and synced into their parent already
        self._dir_lock = threading.Lock()

    async def write(self, files: Sequence[tuple[Path, bytes]]) -> None:
        """Create these files (none may exist yet) durably; returns once all are on disk."""
        await self._submit(_FilesJob(None, files=files))

    def commit_now(self, files: Sequence[tuple[Path, bytes]]) -> None:
        """The same commit for a caller without an event loop, in its own thread."""
        self._run_now(_FilesJob(None, files=files))

    # ------------------------------------------------------------------ in the thread

    def _commit(self, jobs: list[_FilesJob]) -> None:
        # Write everything first and sync afterwards: the first fdatasync's journal commit then
        # carries the others' new inodes too (ext4), so the later ones have less left to do.
        unsynced: list[_FilesJob] = []
        for job in jobs:
            self._open(job)
            unsynced.append(job)
            if sum(len(j.fds) for j in unsynced) >= MAX_OPEN_FILES:
                for j in unsynced:
                    _sync_and_close(j)
                unsynced.clear()
        for job in unsynced:
            _sync_and_close(job)
        dirs: set[Path] = set()
        for job in jobs:
            if job.error is None:
                try:
                    for part, (target, _) in zip(job.written, job.files):
                        os.replace(part, target)
                        dirs.add(target.parent)
                except OSError as exc:
                    job.error = exc
            if job.error is not None:
                # Nothing refers to these files yet (the caller publishes only after success).
                _discard(job.written + [t for t, _ in job.files[: len(job.written)]])
        failed: dict[Path, OSError] = {}
        for directory in dirs:
            try:
                fsync_dir(directory)
            except OSError as exc:
                failed[directory] = exc
        for job in jobs:
            hit = next((failed[t.parent] for t, _ in job.files if t.parent in failed), None)
            if job.error is None and hit is not None:
                # Renamed but maybe not durable, so not done: the caller answers 4xx/5xx, the
                # client retries, and these files stay unreferenced.
                job.error = hit

    def _open(self, job: _FilesJob) -> None:
        """Create and fill the job's .part files (not synced yet).  Never from the event loop: a
        create waits while the journal commits another caller's sync."""
        try:
            for target, data in job.files:
                self._ensure_dir(target.parent)
                part = target.with_name(target.name + ".part")
                fd = os.open(part, _OPEN_FLAGS, 0o666)
                job.fds.append(fd)
                job.written.append(part)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
        except OSError as exc:
            job.error = exc

    def _ensure_dir(self, directory: Path) -> None:
        ensure_dir(directory, self._known_dirs, self._dir_lock)


def ensure_dir(directory: Path, known: set[Path], lock: threading.Lock) -> None:
    """Create ``directory`` durably (its new entries synced into their parents) unless known."""
    if directory in known:
        return
    with lock:  # two batches on the disk must not both think the other synced it
        if directory in known:
            return
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        directory.mkdir(parents=True, exist_ok=True)
        # A new directory is durable once its parent's entry is: sync the parents, top down.
        for new in reversed(missing):
            fsync_dir(new.parent)
        known.add(directory)


def _sync_and_close(job: _FilesJob) -> None:
    for fd in job.fds:
        try:
            if job.error is None:
                os.fdatasync(fd)  # the data and the size; timestamps need no sync
        except OSError as exc:
            job.error = exc
        finally:
            os.close(fd)
    job.fds.clear()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
