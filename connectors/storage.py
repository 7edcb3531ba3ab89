"""Attachment files written by connectors before they publish a message.

Files land under ``<data_dir>/attachments/YYYY/MM/DD/<uuid><ext>``; the stream entry and
the database keep only the relative ``storage_key``.  Writes go to a temporary name and
are renamed into place, so a crash never leaves a half-written file behind a reference;
``save`` returns only once the file and its name are on disk.  Concurrent saves share one
thread hop and one directory sync (:mod:`connectors.group_commit`).

``save(..., packed=True)`` appends the bytes to a pack file instead (:mod:`connectors.packs`):
the mailbox's path, where every mail brings at least one file and the 250 waits for it.
Readers go through ``locate``/``read_bytes``/``discard``, which understand both kinds of key.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from connectors.base import AttachmentRef
from connectors.group_commit import GroupCommit
from connectors.packs import PackLog, parse_pack_key, read_blob

# Types citizens may send; anything else is refused by the connectors.
ALLOWED_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/silk": ".silk",
    "text/plain": ".txt",
    "message/rfc822": ".eml",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/json": ".json",
}

# Magic numbers of the image types, so a renamed executable is not stored as a photo.
_SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class AttachmentRejected(ValueError):
    """The file's type or size is not accepted."""


class StoredBlob(NamedTuple):
    """Where a key's bytes are: a whole file (``offset`` None) or a range of a pack file."""

    path: Path
    offset: int | None
    length: int | None

    def present(self) -> bool:
        """The bytes are there (a pack's range wholly inside it); blocking, call it off the loop."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        return self.offset is None or size >= self.offset + (self.length or 0)


def sniff_matches(content_type: str, data: bytes) -> bool:
    sigs = _SIGNATURES.get(content_type)
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return sigs is None or any(data.startswith(s) for s in sigs)


class AttachmentStore:
    def __init__(self, data_dir: str | Path, *, max_bytes: int = 10 * 1024 * 1024) -> None:
        self._files = GroupCommit()
        self._packs = PackLog(Path(data_dir) / "attachments")
        self.max_bytes = max_bytes

    @property
    def root(self) -> Path:
        return self._packs.root

    @root.setter
    def root(self, root: Path) -> None:  # one folder for files and packs alike
        self._packs.root = root

    def path_of(self, storage_key: str) -> Path:
        """The file of a file key (a pack key names a range: see ``locate``)."""
        if parse_pack_key(storage_key) is not None:
            raise AttachmentRejected("a packed blob is not a file of its own")
        path = (self.root / storage_key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise AttachmentRejected("storage key escapes the attachment folder")
        return path

    def locate(self, storage_key: str) -> StoredBlob:
        packed = parse_pack_key(storage_key)
        if packed is None:
            return StoredBlob(self.path_of(storage_key), None, None)
        return StoredBlob(self.root / packed.path, packed.offset, packed.length)

    def exists(self, storage_key: str) -> bool:
        return self.locate(storage_key).present()

    def read_bytes(self, storage_key: str, *, start: int = 0, size: int | None = None) -> bytes:
        """The stored bytes (or ``size`` of them from ``start``); blocking, call it off the loop."""
        packed = parse_pack_key(storage_key)
        if packed is not None:
            return read_blob(self.root, packed, start=start, size=size)
        with open(self.path_of(storage_key), "rb") as handle:
            handle.seek(start)
            return handle.read(-1 if size is None else size)

    def discard(self, storage_key: str) -> None:
        """Remove what nothing will refer to (a failed upload).  A packed blob's bytes stay in
        their pack, referenced by nothing: packs are append-only."""
        if parse_pack_key(storage_key) is None:
            self.path_of(storage_key).unlink(missing_ok=True)

    def _target(self, suffix: str) -> tuple[Path, str]:
        key = f"{datetime.now(timezone.utc):%Y/%m/%d}/{uuid.uuid4().hex}{suffix}"
        return self.root / key, key

    def _checked(
        self,
        data: bytes,
        *,
        filename: str | None,
        content_type: str | None,
        kind: str = "file",
        check_type: bool = True,
        max_bytes: int | None = None,
    ) -> tuple[str, AttachmentRef]:
        """The stored file's suffix and the reference, whose key the caller gives: a new file's
        path or the pack's range."""
        limit = max_bytes or self.max_bytes
        if len(data) > limit:
            raise AttachmentRejected(f"文件过大（上限 {limit // (1024 * 1024)} MB）")
        content_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
        if check_type:
            if content_type not in ALLOWED_TYPES:
                raise AttachmentRejected(f"不支持的文件类型：{content_type}")
            if not sniff_matches(content_type, data):
                raise AttachmentRejected("文件内容与声明的类型不符")
        suffix = ALLOWED_TYPES.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"
        safe_name = os.path.basename(filename or "")[:200] or f"attachment{suffix}"
        return suffix, AttachmentRef(
            filename=safe_name, content_type=content_type, size=len(data), storage_key="", kind=kind
        )

    def save_sync(self, data: bytes, *, filename: str | None, content_type: str | None, kind: str = "file",
                  check_type: bool = True, max_bytes: int | None = None) -> AttachmentRef:
        """``save`` for code without an event loop (blocks until the file is on disk)."""
        suffix, ref = self._checked(data, filename=filename, content_type=content_type, kind=kind,
                                    check_type=check_type, max_bytes=max_bytes)
        target, key = self._target(suffix)
        self._files.commit_now([(target, data)])
        return dataclasses.replace(ref, storage_key=key)

    async def save(self, data: bytes, *, filename: str | None, content_type: str | None, kind: str = "file",
                   check_type: bool = True, max_bytes: int | None = None, packed: bool = False) -> AttachmentRef:
        """Validate and store one file; raises AttachmentRejected (refused) or OSError (not stored).

        ``packed``: appended to a pack file rather than a file of its own (one sync per batch)."""
        suffix, ref = self._checked(data, filename=filename, content_type=content_type, kind=kind,
                                    check_type=check_type, max_bytes=max_bytes)
        if packed:
            [blob] = await self._packs.append((data,))
            return dataclasses.replace(ref, storage_key=blob.key)
        target, key = self._target(suffix)
        await self._files.write([(target, data)])
        return dataclasses.replace(ref, storage_key=key)
