"""Pack files: many small stored blobs appended to one file, one write and one fdatasync per batch.

A mail arrives with its .eml and often a photo, and the 250 may only go out once both are on
disk.  As files of their own each costs a create, an fdatasync, a rename and its share of a
directory fsync; measured here, a batch of eight new files took 1.6–2.9 ms to be durable, the
same bytes appended to one open file 0.25–0.5 ms, whatever the batch's size.  So the mailbox
appends its blobs to the day's pack (``packs/YYYY/MM/DD/<uuid>.pack``) and keys each by its
place in it (``<pack>#<offset>+<length>``).

Durability and crashes: a blob's offset is reserved on the event loop (callers' order), its
bytes are written with ``pwrite`` in the thread (or, a small batch to a pack that exists while
the disk is quick, on the loop: ``group_commit.INLINE_SECONDS`` says why), and its caller is
answered only after the pack's ``fdatasync``, which covers the data and the file's new size.  A new pack is created
and its directory synced before anything is written into it.  A process never appends to a
pack it did not create, so a crash's torn tail is never followed by blobs of a later run; the
bytes of a blob whose caller never published are simply referenced by nothing.  After a failed
write the pack is retired and the next batch starts a new one.
"""

from __future__ import annotations

import io
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from connectors.group_commit import INLINE_SECONDS, MAX_IN_FLIGHT, BatchJob, DiskBatcher, ensure_dir, fsync_dir

# A pack is closed for appends past this size (or at the day's end): files stay easy to back up.
MAX_PACK_BYTES = 256 * 1024 * 1024
# The most bytes a batch may have for the event loop to append them itself (group_commit.INLINE_SECONDS):
# copying them into the page cache takes tens of microseconds; a big attachment's batch goes to the thread.
INLINE_BYTES = 256 * 1024
_KEY = re.compile(r"(packs/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.pack)#(\d{1,12})\+(\d{1,12})")


class PackedBlob(NamedTuple):
    """Where a blob lives: ``path`` relative to the store's root, and its bytes' range."""

    path: str
    offset: int
    length: int

    @property
    def key(self) -> str:
        return f"{self.path}#{self.offset}+{self.length}"


def parse_pack_key(key: str) -> PackedBlob | None:
    """The blob a pack key names, or None when ``key`` is not a pack key (a file's key)."""
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    return PackedBlob(match.group(1), int(match.group(2)), int(match.group(3)))


@dataclass(eq=False)
class _Pack:
    path: str  # relative to the root
    day: str
    size: int = 0  # bytes reserved so far (the loop's view)
    file: io.FileIO | None = None  # created in the thread
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _AppendJob(BatchJob):
    blobs: tuple[bytes, ...] = ()
    pack: _Pack | None = None
    placed: list[PackedBlob] = field(default_factory=list)


class PackLog(DiskBatcher[_AppendJob]):
    """Appends blobs durably to pack files under ``root`` (``<root>/packs/...``)."""

    def __init__(self, root: Path, *, max_pack_bytes: int = MAX_PACK_BYTES,
                 max_in_flight: int = MAX_IN_FLIGHT, inline_seconds: float = INLINE_SECONDS) -> None:
        super().__init__(max_in_flight=max_in_flight, inline_seconds=inline_seconds)
        self.root = root
        self.max_pack_bytes = max_pack_bytes
        self._current: _Pack | None = None
        self._known_dirs: set[Path] = set()
        self._dir_lock = threading.Lock()

    async def append(self, blobs: tuple[bytes, ...]) -> list[PackedBlob]:
        """Store these blobs in one pack; returns their places once they are on disk."""
        if not blobs:
            raise ValueError("nothing to append")
        job = _AppendJob(None, blobs=blobs)
        await self._submit(job)
        return job.placed

    def _before_thread(self, jobs: list[_AppendJob]) -> None:
        # Offsets are handed out here, on the loop, so two batches on the disk at once never
        # overlap, and a job's blobs sit side by side in one pack.
        for job in jobs:
            need = sum(len(b) for b in job.blobs)
            pack = self._pack_for(need)
            offset = pack.size
            for blob in job.blobs:
                job.placed.append(PackedBlob(pack.path, offset, len(blob)))
                offset += len(blob)
            pack.size = offset
            job.pack = pack

    def _inline_allowed(self, jobs: list[_AppendJob]) -> bool:
        # Only appends to packs that exist: creating one syncs its directory too.
        return (sum(len(blob) for job in jobs for blob in job.blobs) <= INLINE_BYTES
                and all(job.pack is not None and job.pack.file is not None and not job.pack.failed for job in jobs))

    def _pack_for(self, need: int) -> _Pack:
        day = f"{datetime.now(timezone.utc):%Y/%m/%d}"
        pack = self._current
        if (pack is None or pack.failed or pack.day != day
                or (pack.size and pack.size + need > self.max_pack_bytes)):
            pack = self._current = _Pack(f"packs/{day}/{uuid.uuid4().hex}.pack", day)
        return pack

    # ------------------------------------------------------------------ in the thread

    def _commit(self, jobs: list[_AppendJob]) -> None:
        by_pack: dict[_Pack, list[_AppendJob]] = {}
        for job in jobs:
            assert job.pack is not None
            by_pack.setdefault(job.pack, []).append(job)
        for pack, members in by_pack.items():
            try:
                self._write(pack, members)
            except Exception as exc:
                pack.failed = True  # its tail is unknown now: the next batch opens a new pack
                error = exc if isinstance(exc, OSError) else OSError(f"pack write failed: {exc!r}")
                for job in members:
                    job.error = error

    def _write(self, pack: _Pack, jobs: list[_AppendJob]) -> None:
        handle = self._open(pack)
        fd = handle.fileno()
        start = jobs[0].placed[0].offset  # the batch's jobs of one pack sit side by side
        data = memoryview(b"".join(blob for job in jobs for blob in job.blobs))
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], start + written)
        os.fdatasync(fd)  # the bytes and the new size: each blob is readable after a crash

    def _open(self, pack: _Pack) -> io.FileIO:
        with pack.lock:  # two batches may reach a new pack at once; one creates it
            if pack.failed:
                raise OSError(f"pack {pack.path} failed earlier")
            if pack.file is None:
                target = self.root / pack.path
                ensure_dir(target.parent, self._known_dirs, self._dir_lock)
                # FileIO, not a bare descriptor: a retired pack's file closes when its last
                # batch lets go of it.
                pack.file = io.FileIO(target, "xb")
                fsync_dir(target.parent)  # the name is durable before any key points into it
            return pack.file


def read_blob(root: Path, blob: PackedBlob, *, start: int = 0, size: int | None = None) -> bytes:
    """Read ``size`` bytes (default: the rest) of a packed blob from ``start`` within it."""
    end = blob.length if size is None else min(blob.length, start + size)
    with open(root / blob.path, "rb", buffering=0) as handle:
        out = bytearray()
        while start + len(out) < end:
            chunk = os.pread(handle.fileno(), end - start - len(out), blob.offset + start + len(out))
            if not chunk:
                raise OSError(f"pack {blob.path} is shorter than its key says")
            out += chunk
        return bytes(out)
