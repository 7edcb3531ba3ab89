"""Group commit of new files: each caller's files are complete under their names when its await
returns, concurrent callers share a batch, and one caller's failure stays its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.group_commit import MAX_OPEN_FILES, GroupCommit


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.part")]


async def test_concurrent_writers_share_one_batch_and_find_their_files_complete(tmp_path):
    commit = GroupCommit()
    files = [(tmp_path / "a" / f"{i}.bin", bytes([i]) * (1000 + i)) for i in range(20)]

    async def write(target: Path, data: bytes) -> bytes:
        await commit.write([(target, data)])
        return target.read_bytes()  # read at the moment the caller is told "done"

    seen = await asyncio.gather(*(write(t, d) for t, d in files))
    assert seen == [d for _, d in files]
    assert commit.batches == 1
    assert _leftovers(tmp_path) == []


async def test_one_callers_failure_does_not_fail_the_others_in_its_batch(tmp_path):
    commit = GroupCommit()
    (tmp_path / "blocked").write_bytes(b"a file where a folder should be")
    good = tmp_path / "ok" / "good.bin"
    bad = [(tmp_path / "ok" / "first.bin", b"x" * 10), (tmp_path / "blocked" / "sub" / "bad.bin", b"y")]

    results = await asyncio.gather(commit.write([(good, b"z" * 10)]), commit.write(bad), return_exceptions=True)

    assert results[0] is None
    assert isinstance(results[1], OSError)
    assert commit.batches == 1
    assert good.read_bytes() == b"z" * 10
    # The failed caller's other file is gone too: nothing may refer to half of its files.
    assert not (tmp_path / "ok" / "first.bin").exists()
    assert _leftovers(tmp_path) == []


async def test_an_existing_name_is_never_overwritten(tmp_path):
    commit = GroupCommit()
    target = tmp_path / "d" / "taken.bin"
    target.parent.mkdir()
    (tmp_path / "d" / "taken.bin.part").write_bytes(b"another writer's")
    with pytest.raises(FileExistsError):
        await commit.write([(target, b"mine")])
    assert (tmp_path / "d" / "taken.bin.part").read_bytes() == b"another writer's"
    assert not target.exists()


async def test_more_files_than_open_descriptors_held_at_once(tmp_path):
    commit = GroupCommit()
    files = [(tmp_path / "many" / f"{i}.bin", str(i).encode()) for i in range(MAX_OPEN_FILES * 2 + 3)]
    await commit.write(files)
    assert all(t.read_bytes() == d for t, d in files)
    assert _leftovers(tmp_path) == []


async def test_writers_queued_while_a_batch_is_on_disk_all_complete(tmp_path):
    commit = GroupCommit(max_in_flight=1)
    big = (tmp_path / "q" / "big.bin", b"b" * (8 * 1024 * 1024))
    first = asyncio.ensure_future(commit.write([big]))
    await asyncio.sleep(0)  # the first batch is flushed; the others queue behind it
    rest = [(tmp_path / "q" / f"{i}.bin", b"s" * i) for i in range(1, 30)]
    await asyncio.gather(first, *(commit.write([f]) for f in rest))
    assert big[0].stat().st_size == len(big[1])
    assert all(t.read_bytes() == d for t, d in rest)
    assert 2 <= commit.batches <= 1 + len(rest)


def test_one_instance_serves_successive_event_loops_and_plain_threads(tmp_path):
    commit = GroupCommit()
    for i in range(2):  # tests and CLI commands run a fresh loop each time
        asyncio.run(commit.write([(tmp_path / "loops" / f"{i}.bin", b"loop")]))
    commit.commit_now([(tmp_path / "loops" / "sync.bin", b"sync")])
    assert sorted(p.name for p in (tmp_path / "loops").iterdir()) == ["0.bin", "1.bin", "sync.bin"]
