"""An attachment's bytes as a download, for every audience that may see them.

Staff open what citizens sent: a file of its own is served by ``FileResponse`` (sendfile), a blob
packed with other mails' files (:mod:`connectors.packs`) is streamed from its range in chunks, so a
20 MB mail is never held in memory whole.  Only types a browser cannot run are shown inline, and
the page is sandboxed either way.
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import quote

from aiohttp import web

from connectors.storage import AttachmentRejected, AttachmentStore

SAFE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain")
CHUNK_BYTES = 256 * 1024


class StoredAttachment(Protocol):
    filename: str
    content_type: str
    storage_key: str


async def attachment_response(request: web.Request, store: AttachmentStore,
                              att: StoredAttachment) -> web.StreamResponse:
    try:
        blob = store.locate(att.storage_key)
    except AttachmentRejected:
        raise web.HTTPNotFound(text="附件文件已不存在") from None
    if not await asyncio.to_thread(blob.present):
        raise web.HTTPNotFound(text="附件文件已不存在")
    safe = att.content_type in SAFE_TYPES
    headers = {
        "Content-Type": att.content_type if safe else "application/octet-stream",
        "Content-Disposition": f"{'inline' if safe else 'attachment'}; filename*=UTF-8''{quote(att.filename)}",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    }
    if blob.offset is None:
        return web.FileResponse(blob.path, headers=headers)
    length = blob.length or 0
    response = web.StreamResponse(headers=headers)
    response.content_length = length
    await response.prepare(request)
    sent = 0
    while sent < length:
        chunk = await asyncio.to_thread(store.read_bytes, att.storage_key, start=sent, size=CHUNK_BYTES)
        await response.write(chunk)
        sent += len(chunk)
    await response.write_eof()
    return response
