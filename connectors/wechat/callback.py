"""aiohttp handlers of the callback URL ``/wechat``.

Checks run cheapest first and before the body is read where they can: timestamp window,
nonce shape, URL signature, then the capped body, the XML, the AES layer.  Every refusal
is an HTTP status with a short body and nothing published; the reason is logged.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.base import IntakeUnavailable
from connectors.wechat.const import SUCCESS
from connectors.wechat.handling import WeChatConnector
from connectors.wechat.security import (
    CallbackRejected,
    check_nonce,
    check_timestamp,
    check_url_signature,
    field,
    forbidden,
    parse_xml,
    render_text_reply,
)

log = logging.getLogger(__name__)

_STATUS_TEXT = {400: "bad request", 403: "forbidden", 413: "request body too large"}


async def _read_capped(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise CallbackRejected(413, f"Content-Length {request.content_length} over {limit}")
    chunks: list[bytes] = []
    size = 0
    # Read the stream ourselves: the app-wide client_max_size is not ours to lower, and a
    # chunked body has no Content-Length to check up front.
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise CallbackRejected(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class WeChatCallback:
    def __init__(self, connector: WeChatConnector) -> None:
        self.connector = connector
        self.settings = connector.settings

    def _refuse(self, request: web.Request, exc: CallbackRejected) -> web.Response:
        log.warning("wechat callback refused (%s) from %s: %s", exc.status, request.remote, exc.reason)
        return web.Response(status=exc.status, text=_STATUS_TEXT.get(exc.status, "refused"))

    async def verify(self, request: web.Request) -> web.Response:
        """URL verification: echo ``echostr`` when the signature is right."""
        q = request.query
        try:
            timestamp, nonce = q.get("timestamp"), q.get("nonce")
            check_timestamp(timestamp, self.settings.timestamp_window, now=self.connector.clock())
            check_nonce(nonce)
            assert timestamp is not None and nonce is not None
            check_url_signature(self.connector.token, q.get("signature"), timestamp, nonce)
            echostr = q.get("echostr", "")
            if not echostr or len(echostr) > 256:
                raise CallbackRejected(400, "missing echostr")
        except CallbackRejected as exc:
            return self._refuse(request, exc)
        # text/plain: the echo can never be rendered as a page.
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        q = request.query
        crypto = self.connector.crypto
        try:
            timestamp, nonce = q.get("timestamp"), q.get("nonce")
            check_timestamp(timestamp, self.settings.timestamp_window, now=self.connector.clock())
            check_nonce(nonce)
            assert timestamp is not None and nonce is not None
            if crypto is not None:
                if q.get("encrypt_type", "").lower() != "aes":
                    # The URL signature does not cover the body: with a key configured, only
                    # the msg_signature over the ciphertext authenticates a message.
                    raise forbidden("unencrypted POST refused (an AES key is configured)")
                if "signature" in q:  # WeChat sends it too; if present it must be right
                    check_url_signature(self.connector.token, q.get("signature"), timestamp, nonce)
                if not q.get("msg_signature"):
                    raise forbidden("encrypted mode without msg_signature")
            else:
                check_url_signature(self.connector.token, q.get("signature"), timestamp, nonce)
            body = await _read_capped(request, self.settings.max_body_bytes)
            outer = parse_xml(body)
            if crypto is not None:
                inner = crypto.decrypt(field(outer, "Encrypt") or "", q.get("msg_signature"), timestamp, nonce)
                fields = parse_xml(inner)
                mode = "compatible" if "MsgType" in outer else "safe"
            else:
                fields = outer
                mode = "plaintext"
            it, answer = await self.connector.handle(fields, mode=mode)
        except CallbackRejected as exc:
            return self._refuse(request, exc)
        except IntakeUnavailable as exc:
            log.warning("wechat callback not accepted, WeChat will retry: %s", exc)
            return web.Response(status=503, text="service unavailable", headers={"Retry-After": "5"})

        if answer is None:
            return web.Response(text=SUCCESS, content_type="text/plain")
        xml = render_text_reply(it.openid, it.account, answer)
        if crypto is not None:
            xml = crypto.encrypt_reply(xml)
        return web.Response(text=xml, content_type="application/xml")
