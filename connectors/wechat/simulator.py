"""Local stand-ins for WeChat, for tests, the benchmark and demos (loopback only).

- :class:`WeChatApiSimulator`: an aiohttp app serving the three API endpoints the
  connector calls (``/cgi-bin/token``, ``/cgi-bin/message/custom/send``,
  ``/cgi-bin/media/get``).  It records what was sent and can be told to answer errors.
  Like WeChat, every token fetch invalidates the previous token.
- :class:`WeChatPlatform`: the other direction — WeChat's servers pushing messages to our
  callback, speaking the real protocol (signature, msg_signature, AES with wechatpy's
  crypto) and reading the replies back the way WeChat does.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from connectors.wechat.security import cdata, sign

# ---- the API servers -----------------------------------------------------------------


@dataclass
class SentMessage:
    touser: str
    msgtype: str
    content: str | None
    raw: dict[str, Any]
    access_token: str


@dataclass
class WeChatApiSimulator:
    app_id: str
    app_secret: str
    token_lifetime: int = 7200
    sent: list[SentMessage] = field(default_factory=list)
    token_fetches: int = 0
    send_attempts: int = 0
    media_requests: int = 0
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # errcodes to answer instead of doing the work, consumed one per call, per endpoint.
    _faults: dict[str, deque[int]] = field(default_factory=dict)
    _valid_token: str | None = None
    _expired: set[str] = field(default_factory=set)
    _counter: Any = field(default_factory=lambda: itertools.count(1))

    ERRMSG = {
        40001: "invalid credential, access_token is invalid or not latest",
        40007: "invalid media_id",
        40013: "invalid appid",
        40125: "invalid appsecret",
        42001: "access_token expired",
        45015: "response out of time limit or subscription is canceled",
        45047: "out of response count limit",
        -1: "system error",
    }

    # -- controls used by tests -------------------------------------------------------

    def fail_next(self, endpoint: str, errcode: int, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``endpoint`` ("send", "media", "token") with errcode."""
        self._faults.setdefault(endpoint, deque()).extend([errcode] * times)

    def expire_token(self) -> None:
        """The current token expires now (calls with it answer 42001)."""
        if self._valid_token:
            self._expired.add(self._valid_token)
            self._valid_token = None

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (data, content_type)

    # -- the app ----------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_get("/cgi-bin/media/get", self._media)
        return app

    @classmethod
    def _error(cls, errcode: int) -> web.Response:
        return web.json_response({"errcode": errcode, "errmsg": cls.ERRMSG.get(errcode, "error")})

    def _fault(self, endpoint: str) -> int | None:
        queue = self._faults.get(endpoint)
        return queue.popleft() if queue else None

    def _check_token(self, request: web.Request) -> int | None:
        token = request.query.get("access_token", "")
        if token and token == self._valid_token:
            return None
        return 42001 if token in self._expired else 40001

    async def _token(self, request: web.Request) -> web.Response:
        self.token_fetches += 1
        q = request.query
        if (fault := self._fault("token")) is not None:
            return self._error(fault)
        if q.get("grant_type") != "client_credential" or q.get("appid") != self.app_id:
            return self._error(40013)
        if q.get("secret") != self.app_secret:
            return self._error(40125)
        # Each fetch invalidates the previous token, as WeChat does.
        self._valid_token = f"SIMTOKEN{next(self._counter)}-{secrets.token_hex(8)}"
        return web.json_response({"access_token": self._valid_token, "expires_in": self.token_lifetime})

    async def _send(self, request: web.Request) -> web.Response:
        self.send_attempts += 1
        if (bad := self._check_token(request)) is not None:
            return self._error(bad)
        if (fault := self._fault("send")) is not None:
            return self._error(fault)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        text = body.get("text") if isinstance(body.get("text"), dict) else {}
        self.sent.append(
            SentMessage(
                touser=str(body.get("touser")),
                msgtype=str(body.get("msgtype")),
                content=text.get("content"),
                raw=body,
                access_token=request.query["access_token"],
            )
        )
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": 1000 + len(self.sent)})

    async def _media(self, request: web.Request) -> web.Response:
        self.media_requests += 1
        if (bad := self._check_token(request)) is not None:
            return self._error(bad)
        if (fault := self._fault("media")) is not None:
            return self._error(fault)
        media_id = request.query.get("media_id", "")
        if media_id not in self.media:
            return self._error(40007)
        data, ctype = self.media[media_id]
        ext = {"image/jpeg": "jpg", "image/png": "png"}.get(ctype, "bin")
        return web.Response(
            body=data,
            content_type=ctype,
            headers={"Content-Disposition": f'attachment; filename="{media_id}.{ext}"'},
        )


# ---- the push side: WeChat's servers calling our callback -------------------------


@dataclass(frozen=True)
class SignedRequest:
    query: str  # the query string, without '?'
    body: bytes


class WeChatPlatform:
    """Builds callback requests exactly as WeChat does, and reads the answers back.

    ``mode``: "plaintext", "compatible" (plain fields plus Encrypt) or "safe" (Encrypt only).
    """

    def __init__(
        self,
        token: str,
        *,
        mode: str = "plaintext",
        encoding_aes_key: str | None = None,
        app_id: str | None = None,
        account: str = "gh_10f6c3c3ac5a",
    ) -> None:
        if mode not in ("plaintext", "compatible", "safe"):
            raise ValueError(mode)
        self.token = token
        self.mode = mode
        self.account = account
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if mode != "plaintext" else None
        self._msg_ids = itertools.count(int(time.time()) * 1000)

    def next_msg_id(self) -> str:
        return str(next(self._msg_ids))

    # message bodies ---------------------------------------------------------------------

    def message_xml(self, openid: str, msg_type: str, fields: dict[str, str], *, create_time: int | None = None) -> str:
        parts = [
            f"<ToUserName>{cdata(self.account)}</ToUserName>",
            f"<FromUserName>{cdata(openid)}</FromUserName>",
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
            f"<MsgType>{cdata(msg_type)}</MsgType>",
        ]
        numeric = ("MsgId", "Location_X", "Location_Y", "Scale")  # WeChat sends these without CDATA
        for key, value in fields.items():
            parts.append(f"<{key}>{value if key in numeric else cdata(value)}</{key}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str, msg_id: str | None = None) -> str:
        return self.message_xml(openid, "text", {"Content": content, "MsgId": msg_id or self.next_msg_id()})

    def voice(self, openid: str, recognition: str | None, msg_id: str | None = None) -> str:
        fields = {"MediaId": "voice-media-1", "Format": "amr", "MsgId": msg_id or self.next_msg_id()}
        if recognition is not None:
            fields["Recognition"] = recognition
        return self.message_xml(openid, "voice", fields)

    def image(self, openid: str, media_id: str, pic_url: str, msg_id: str | None = None) -> str:
        return self.message_xml(
            openid, "image", {"PicUrl": pic_url, "MediaId": media_id, "MsgId": msg_id or self.next_msg_id()}
        )

    def location(self, openid: str, lat: str, lng: str, label: str, msg_id: str | None = None) -> str:
        return self.message_xml(
            openid,
            "location",
            {
                "Location_X": lat,
                "Location_Y": lng,
                "Scale": "15",
                "Label": label,
                "MsgId": msg_id or self.next_msg_id(),
            },
        )

    def event(self, openid: str, event: str, *, create_time: int | None = None, event_key: str = "") -> str:
        return self.message_xml(openid, "event", {"Event": event, "EventKey": event_key}, create_time=create_time)

    # signing ---------------------------------------------------------------------------

    def sign_request(self, xml: str, *, timestamp: int | None = None, nonce: str | None = None) -> SignedRequest:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**9))
        params = {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}
        try:  # tests also sign deliberately broken XML
            params["openid"] = str(xmltodict.parse(xml)["xml"].get("FromUserName", ""))
        except Exception:
            params["openid"] = ""
        if self.crypto is None:
            return SignedRequest(urlencode(params), xml.encode("utf-8"))
        encrypted = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        encrypt = encrypted["Encrypt"]
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sign(self.token, ts, nonce, encrypt)
        if self.mode == "safe":
            body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        else:  # compatible: the plain fields stay, the ciphertext rides along
            body = xml[: -len("</xml>")] + f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        return SignedRequest(urlencode(params), body.encode("utf-8"))

    def verification_query(self, echostr: str, *, timestamp: int | None = None) -> str:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = str(secrets.randbelow(10**9))
        signature = sign(self.token, ts, nonce)
        return urlencode({"signature": signature, "timestamp": ts, "nonce": nonce, "echostr": echostr})

    # answers ---------------------------------------------------------------------------

    def read_reply(self, body: str) -> dict[str, str] | None:
        """The reply as WeChat sees it: None for `success`/empty, else the message fields.

        An encrypted reply is checked (signature, app id) and decrypted as WeChat would.
        """
        if body.strip() in ("", "success"):
            return None
        doc = xmltodict.parse(body)["xml"]
        if "Encrypt" in doc:
            if self.crypto is None:
                raise AssertionError("encrypted reply in plaintext mode")
            inner = self.crypto.decrypt_message(body, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])
            return dict(xmltodict.parse(inner)["xml"])
        if self.crypto is not None and self.mode == "safe":
            raise AssertionError("plain reply in safe mode")
        return dict(doc)


def main(argv: list[str] | None = None) -> None:
    """Serve the API simulator: ``python -m connectors.wechat.simulator --port 8099``.

    Point the gateway at it with ``WECHAT_API_BASE_URL=http://127.0.0.1:8099/cgi-bin/``.
    """
    import argparse
    import logging

    parser = argparse.ArgumentParser(description="Local simulator of WeChat's API servers (loopback only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--app-id", default="wx0000000000000000")
    parser.add_argument("--app-secret", default="simulator-secret")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sim = WeChatApiSimulator(app_id=args.app_id, app_secret=args.app_secret)
    web.run_app(sim.make_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
