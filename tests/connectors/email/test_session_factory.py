"""Sessions built by ``SessionFactory`` are what aiosmtpd's own ``__init__`` builds, and each is its own."""

from __future__ import annotations

import asyncio
import inspect
import ssl
import types
from typing import Any

from aiosmtpd.smtp import _AuthMechAttr

from connectors.email.inbound import HotlineSMTP, MailboxHandler
from connectors.email.session_factory import SessionFactory
from connectors.email.settings import load_email_settings
from connectors.storage import AttachmentStore

MAILBOX = "mayor@12345.pds.gov.cn"


def _handler(tmp_path) -> MailboxHandler:
    settings = load_email_settings(smtp_port=0, smtp_host="127.0.0.1", mailbox_addresses=MAILBOX,
                                   hostname="12345.pds.gov.cn")

    async def publish(message: Any) -> str:
        raise AssertionError("no mail is sent in these tests")

    return MailboxHandler(settings, publish=publish, attachments=AttachmentStore(tmp_path / "var"),
                          connector=None)  # type: ignore[arg-type]  # only SMTP construction is exercised


def _shape(value: Any, session: HotlineSMTP) -> Any:
    """A value with what differs between equal sessions (their own objects) reduced to how it is made."""
    if inspect.ismethod(value):
        return ("method", value.__func__, "self" if value.__self__ is session else value.__self__)
    if isinstance(value, _AuthMechAttr):
        return ("auth", _shape(value.method, session), value.is_builtin)
    if isinstance(value, dict):
        return {key: _shape(item, session) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return (type(value), [_shape(item, session) for item in value])
    if isinstance(value, (str, int, float, bool, type(None), asyncio.AbstractEventLoop, ssl.SSLContext,
                          MailboxHandler, types.FunctionType)):
        return value
    return ("object", type(value))  # the stream reader, futures, weak references: fresh per session


def _state(session: HotlineSMTP) -> dict[str, Any]:
    return {name: _shape(value, session) for name, value in vars(session).items()}


def _options(loop: asyncio.AbstractEventLoop, tls: ssl.SSLContext | None) -> dict[str, Any]:
    return dict(data_size_limit=1024 * 1024, enable_SMTPUTF8=True, hostname="12345.pds.gov.cn",
                ident="12345 mailbox ESMTP", tls_context=tls, require_starttls=False, timeout=60, loop=loop)


async def test_a_copied_session_equals_one_built_by_aiosmtpd(tmp_path):
    loop = asyncio.get_running_loop()
    handler = _handler(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    for tls in (None, server_tls):
        factory = SessionFactory(handler, **_options(loop, tls))
        factory()  # the copies, not only the first, must match
        copied = factory()
        built = HotlineSMTP(handler, **_options(loop, tls))
        assert _state(copied) == _state(built)
        # Every command and built-in AUTH mechanism runs on the session that received it.
        assert all(method.__self__ is copied for method in copied._smtp_methods.values())
        assert all(auth.method.__self__ is copied for auth in copied._auth_methods.values() if auth.is_builtin)
        # The protocol's own objects (reader, futures) are the session's, never the prototype's.
        prototype = factory._prototype
        for name, value in vars(copied).items():
            if _shape(value, copied) == ("object", type(value)):
                assert value is not getattr(prototype, name), name
        assert copied._stream_reader is not None and copied._stream_reader is not prototype._stream_reader


async def test_sessions_share_no_mutable_state(tmp_path):
    loop = asyncio.get_running_loop()
    factory = SessionFactory(_handler(tmp_path), **_options(loop, None))
    first, second = factory(), factory()
    for name, value in vars(first).items():
        if isinstance(value, (list, dict, set)):
            assert value is not getattr(second, name), name
    first._pending_lines.append(b"250-PIPELINING\r\n")
    assert second._pending_lines == []
    assert first._stream_reader is not second._stream_reader
