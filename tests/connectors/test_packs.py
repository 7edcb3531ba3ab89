"""Pack files: blobs appended together, each whole under its key, one sync per batch."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import pytest

from connectors.group_commit import INLINE_AFTER_QUICK, GroupCommit
from connectors.packs import INLINE_BYTES, PackLog, parse_pack_key, read_blob
from connectors.storage import AttachmentRejected, AttachmentStore


async def test_blobs_of_one_tick_share_a_batch_and_read_back_whole(tmp_path):
    log = PackLog(tmp_path)
    blobs = [bytes([i]) * (100 + i) for i in range(20)]
    placed = await asyncio.gather(*(log.append((b,)) for b in blobs))
    assert log.batches == 1
    assert len({p.path for [p] in placed}) == 1  # one pack
    for data, [blob] in zip(blobs, placed):
        assert read_blob(tmp_path, blob) == data
        assert parse_pack_key(blob.key) == blob
    ranges = sorted((b.offset, b.offset + b.length) for [b] in placed)
    assert all(end <= nxt for (_, end), (nxt, _) in zip(ranges, ranges[1:]))  # no overlap


async def test_batches_on_the_disk_at_once_never_overlap(tmp_path):
    log = PackLog(tmp_path)

    async def one(i: int):
        await asyncio.sleep(0.001 * (i % 7))
        return i, await log.append((f"邮件{i}".encode() * 50, f"附件{i}".encode()))

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert log.batches > 1
    for i, (mail, photo) in results:
        assert read_blob(tmp_path, mail) == f"邮件{i}".encode() * 50
        assert read_blob(tmp_path, photo) == f"附件{i}".encode()
        assert photo.offset == mail.offset + mail.length  # a job's blobs sit side by side
    [pack] = list(tmp_path.rglob("*.pack"))
    assert pack.stat().st_size == sum(m.length + p.length for _, (m, p) in results)


async def test_a_full_pack_is_closed_and_a_new_one_started(tmp_path):
    log = PackLog(tmp_path, max_pack_bytes=1000)
    placed = [await log.append((b"x" * 300,)) for _ in range(7)]
    assert len({p.path for [p] in placed}) == 3  # 3 + 3 + 1 blobs
    big = await log.append((b"y" * 5000,))  # bigger than a pack: a pack of its own
    assert read_blob(tmp_path, big[0]) == b"y" * 5000


async def test_a_new_process_never_appends_to_an_earlier_pack(tmp_path):
    [first] = await PackLog(tmp_path).append((b"before the crash",))
    [second] = await PackLog(tmp_path).append((b"after the restart",))
    assert first.path != second.path and second.offset == 0


async def test_a_failed_write_is_the_callers_error_and_the_next_batch_starts_a_new_pack(tmp_path):
    log = PackLog(tmp_path)
    [ok] = await log.append((b"ok",))
    log._current.file = io.FileIO(tmp_path / ok.path, "r")  # as if the disk refused writes
    with pytest.raises(OSError):
        await log.append((b"lost",))
    [later] = await log.append((b"later",))
    assert later.path != ok.path and read_blob(tmp_path, later) == b"later"
    assert read_blob(tmp_path, ok) == b"ok"


def test_only_well_formed_pack_keys_are_pack_keys():
    assert parse_pack_key("packs/2026/12/03/" + "a" * 32 + ".pack#0+12").length == 12
    for key in ("2026/12/03/abc.png", "packs/../../etc/passwd#0+1", "packs/2026/12/03/" + "a" * 32 + ".pack#-1+2",
                "packs/2026/12/03/" + "a" * 32 + ".pack#0+1\n", "packs/2026/12/03/" + "A" * 32 + ".pack#0+1"):
        assert parse_pack_key(key) is None


async def test_the_store_reads_and_locates_both_kinds_of_key(tmp_path):
    store = AttachmentStore(tmp_path)
    packed = await store.save(b"Subject: hi\r\n\r\nbody", filename="original.eml", content_type="message/rfc822",
                              check_type=False, packed=True)
    plain = await store.save(b"%PDF-1.4 x", filename="a.pdf", content_type="application/pdf")
    assert parse_pack_key(packed.storage_key) is not None and packed.size == 19
    assert store.read_bytes(packed.storage_key) == b"Subject: hi\r\n\r\nbody"
    assert store.read_bytes(packed.storage_key, start=13, size=100) == b"\r\nbody"
    assert store.read_bytes(plain.storage_key, start=5, size=3) == b"1.4"
    assert store.exists(packed.storage_key) and store.exists(plain.storage_key)
    assert store.locate(plain.storage_key).offset is None
    with pytest.raises(AttachmentRejected):
        store.path_of(packed.storage_key)
    store.discard(packed.storage_key)  # a packed blob stays: packs are append-only
    assert store.read_bytes(packed.storage_key).endswith(b"body")
    store.discard(plain.storage_key)
    assert not store.exists(plain.storage_key)


async def test_a_key_past_the_end_of_its_pack_does_not_exist(tmp_path):
    store = AttachmentStore(tmp_path)
    ref = await store.save(b"abc", filename="x.eml", content_type="message/rfc822", check_type=False, packed=True)
    blob = parse_pack_key(ref.storage_key)
    forged = blob._replace(offset=blob.offset + 10).key
    assert not store.exists(forged)
    with pytest.raises(OSError):
        store.read_bytes(forged)


# Generous: every real append of these tests counts as quick, even on a loaded machine; a "slow" one
# sleeps past it.
QUICK = 0.25


class _WatchedPackLog(PackLog):
    """Records which thread committed each batch; the next ``slow`` batches take longer than QUICK."""

    def __init__(self, root, **kwargs) -> None:
        super().__init__(root, inline_seconds=QUICK, **kwargs)
        self.on_loop: list[bool] = []
        self.slow = 0
        self.loop_thread = threading.get_ident()

    def _commit(self, jobs) -> None:
        self.on_loop.append(threading.get_ident() == self.loop_thread)
        if self.slow:
            self.slow -= 1
            time.sleep(QUICK * 1.5)
        super()._commit(jobs)


async def _appends(log: PackLog, n: int, size: int = 100) -> list:
    return [await log.append((bytes([i % 256]) * size,)) for i in range(n)]


async def test_small_batches_to_an_open_pack_are_committed_on_the_loop_once_the_disk_was_quick(tmp_path):
    log = _WatchedPackLog(tmp_path)
    placed = await _appends(log, INLINE_AFTER_QUICK + 5)
    # The first batch creates the pack, in the thread, as do the next until INLINE_AFTER_QUICK were quick.
    assert log.on_loop == [False] * INLINE_AFTER_QUICK + [True] * 5
    assert log.inline_batches == 5 and log.batches == INLINE_AFTER_QUICK + 5
    for i, [blob] in enumerate(placed):
        assert read_blob(tmp_path, blob) == bytes([i % 256]) * 100


async def test_after_a_slow_sync_batches_go_to_the_thread_until_the_disk_is_quick_again(tmp_path):
    log = _WatchedPackLog(tmp_path)
    await _appends(log, INLINE_AFTER_QUICK + 1)
    log.slow = 1
    await _appends(log, INLINE_AFTER_QUICK + 2)
    # The slow one was on the loop (nobody can tell beforehand); the next INLINE_AFTER_QUICK in the thread.
    assert log.on_loop[INLINE_AFTER_QUICK:] == [True, True] + [False] * INLINE_AFTER_QUICK + [True]


async def test_a_big_batch_and_the_first_batch_of_a_new_pack_go_to_the_thread(tmp_path):
    log = _WatchedPackLog(tmp_path, max_pack_bytes=INLINE_BYTES * 4)
    await _appends(log, INLINE_AFTER_QUICK + 1)
    [big] = await log.append((b"p" * (INLINE_BYTES + 1),))
    assert log.on_loop[-2:] == [True, False] and read_blob(tmp_path, big) == b"p" * (INLINE_BYTES + 1)
    # Still quick; three more of INLINE_BYTES fill the pack, so the third opens a new one: in the thread.
    placed = [await log.append((b"q" * INLINE_BYTES,)) for _ in range(3)]
    assert [p.path == big.path for [p] in placed] == [True, True, False]
    assert log.on_loop[-3:] == [True, True, False]
    assert all(read_blob(tmp_path, p) == b"q" * INLINE_BYTES for [p] in placed)


async def test_a_failed_write_on_the_loop_is_the_callers_error_and_the_next_batch_starts_a_new_pack(tmp_path):
    log = _WatchedPackLog(tmp_path)
    [[ok], *_] = await _appends(log, INLINE_AFTER_QUICK)
    log._current.file = io.FileIO(tmp_path / ok.path, "r")  # as if the disk refused writes
    with pytest.raises(OSError):
        await log.append((b"lost",))
    assert log.on_loop[-1]
    [later] = await log.append((b"later",))
    assert later.path != ok.path and read_blob(tmp_path, later) == b"later" and not log.on_loop[-1]


async def test_new_files_are_never_committed_on_the_loop(tmp_path):
    commit = GroupCommit()
    commit.inline_seconds = 60  # every commit counts as quick
    for i in range(INLINE_AFTER_QUICK + 3):
        await commit.write([(tmp_path / f"{i}.bin", b"x")])
    assert commit.inline_batches == 0 and commit.batches == INLINE_AFTER_QUICK + 3
