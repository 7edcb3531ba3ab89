"""Checks on everything that arrives at ``/wechat`` and the rendering of what leaves it.

wechatpy 1.8.18 does the AES work, but leaves several gaps that this module closes:
it compares signatures with ``!=`` (we use a constant-time compare), never looks at the
timestamp's age (we enforce a window), lets garbage ciphertext escape as raw
``ValueError``/``struct.error``/``IndexError`` and bad XML as ``ExpatError`` (we turn
them into :class:`CallbackRejected`), and renders reply text into CDATA unescaped, where
``]]>`` ends the section early (we split it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
import time
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from connectors.wechat.const import MAX_ID_CHARS


class CallbackRejected(Exception):
    """The request is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def forbidden(reason: str) -> CallbackRejected:
    return CallbackRejected(403, reason)


def bad_request(reason: str) -> CallbackRejected:
    return CallbackRejected(400, reason)


# ---- signatures and timestamps -----------------------------------------------------


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("ascii", "replace"))


_DIGITS = re.compile(r"^\d{1,12}\Z")
_NONCE = re.compile(r"^[0-9A-Za-z_-]{1,64}\Z")


def check_timestamp(timestamp: str | None, window: int, *, now: float | None = None) -> None:
    """A callback signed too long ago (or in the future) may be a replay: refuse it."""
    if not timestamp or not _DIGITS.match(timestamp):
        raise forbidden("missing or malformed timestamp")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > window:
        raise forbidden("timestamp outside the accepted window")


def check_nonce(nonce: str | None) -> None:
    if not nonce or not _NONCE.match(nonce):
        raise forbidden("missing or malformed nonce")


def check_url_signature(token: str, signature: str | None, timestamp: str, nonce: str) -> None:
    if not signature_matches(sign(token, timestamp, nonce), signature):
        raise forbidden("bad signature")


# ---- XML ---------------------------------------------------------------------------

# WeChat never sends a DTD; refusing one outright keeps entity expansion (billion laughs,
# external entities) out of the parser, whatever the expat version does on its own.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


def parse_xml(data: bytes | str) -> dict[str, str]:
    """Parse one WeChat XML document into a flat dict of text fields.

    Raises :class:`CallbackRejected` (400) for anything that is not a flat ``<xml>`` of
    text elements: DTDs, malformed XML, non-UTF-8 bytes, nested or repeated elements.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _DTD.search(raw):
        raise bad_request("DTD/entity declarations are not accepted")
    try:
        doc = xmltodict.parse(raw, disable_entities=True)
    except ExpatError as exc:
        raise bad_request(f"malformed XML: {exc}") from None
    except (ValueError, UnicodeError) as exc:  # xmltodict's "entities are disabled"
        raise bad_request(f"rejected XML: {exc}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if root is None:
        return {}
    if not isinstance(root, dict):
        raise bad_request("<xml> root without fields")
    fields: dict[str, str] = {}
    for key, value in root.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            # Nested or repeated elements, or attributes: not a WeChat message shape.
            raise bad_request(f"unexpected structure in <{key}>")
        fields[key] = value
    return fields


# XML 1.0 forbids most control characters even inside CDATA; a reply carrying one would
# make WeChat reject the whole reply.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def cdata(text: str) -> str:
    """Wrap text in CDATA so that no content can end the section early."""
    clean = _INVALID_XML_CHARS.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_text_reply(to_user: str, from_user: str, content: str, *, now: int | None = None) -> str:
    created = int(time.time()) if now is None else now
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def check_id(value: str | None, what: str) -> str:
    if not value or len(value) > MAX_ID_CHARS or not value.isprintable():
        raise bad_request(f"missing or malformed {what}")
    return value


# ---- AES (compatible and safe mode) -------------------------------------------------

# Everything wechatpy's decryption may raise on hostile input.
_DECRYPT_FAILURES = (ValueError, TypeError, IndexError, KeyError, struct.error, UnicodeError)


class CallbackCrypto:
    """wechatpy's :class:`WeChatCrypto` with its failure modes translated."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)

    def decrypt(self, encrypt: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        if not encrypt:
            raise forbidden("encrypted mode: body carries no Encrypt")
        if len(encrypt) > 1024 * 1024:
            raise bad_request("Encrypt too long")
        # Checked here in constant time; wechatpy checks again with `!=` inside.
        if not signature_matches(sign(self.token, timestamp, nonce, encrypt), msg_signature):
            raise forbidden("bad msg_signature")
        try:
            # wechatpy wants the msg_signature here (not the URL `signature`).
            return self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise forbidden("bad msg_signature") from None
        except InvalidAppIdException:
            raise forbidden("ciphertext for another app id") from None
        except _DECRYPT_FAILURES as exc:
            raise bad_request(f"undecryptable Encrypt ({type(exc).__name__})") from None

    def encrypt_reply(self, xml: str, *, timestamp: str | None = None) -> str:
        nonce = str(secrets.randbelow(10**10)).zfill(10)
        return self._crypto.encrypt_message(xml, nonce, timestamp or str(int(time.time())))


def field(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) else None
