"""The attachment store: what it refuses, and that a saved file is whole under its key."""

from __future__ import annotations

import asyncio

import pytest

from connectors.storage import AttachmentRejected, AttachmentStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


async def test_saved_files_are_whole_under_their_keys_and_no_temporary_file_remains(tmp_path):
    store = AttachmentStore(tmp_path)
    refs = await asyncio.gather(*(store.save(PNG + bytes([i]), filename=f"照片{i}.png", content_type="image/png")
                                  for i in range(5)))
    for i, ref in enumerate(refs):
        assert store.path_of(ref.storage_key).read_bytes() == PNG + bytes([i])
        assert ref.size == len(PNG) + 1 and ref.storage_key.endswith(".png")
    assert len({r.storage_key for r in refs}) == 5
    assert list(tmp_path.rglob("*.part")) == []


async def test_refusals_write_nothing(tmp_path):
    store = AttachmentStore(tmp_path, max_bytes=1000)
    with pytest.raises(AttachmentRejected):
        await store.save(b"MZ" + b"\0" * 50, filename="a.png", content_type="image/png")  # not a PNG
    with pytest.raises(AttachmentRejected):
        await store.save(b"x", filename="a.exe", content_type="application/x-msdownload")
    with pytest.raises(AttachmentRejected):
        await store.save(PNG * 20, filename="big.png", content_type="image/png")
    assert not (tmp_path / "attachments").exists() or not any((tmp_path / "attachments").rglob("*.*"))


async def test_a_storage_failure_is_an_oserror_and_leaves_no_file(tmp_path):
    (tmp_path / "attachments").write_bytes(b"a file where the folder should be")
    store = AttachmentStore(tmp_path)
    with pytest.raises(OSError):
        await store.save(PNG, filename="a.png", content_type="image/png")


def test_save_sync_without_an_event_loop(tmp_path):
    store = AttachmentStore(tmp_path)
    ref = store.save_sync(b"%PDF-1.4 x", filename="../../etc/passwd.pdf", content_type="application/pdf")
    assert ref.filename == "passwd.pdf"
    assert store.path_of(ref.storage_key).read_bytes() == b"%PDF-1.4 x"
