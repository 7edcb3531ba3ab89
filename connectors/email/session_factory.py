"""One SMTP session object per connection, without aiosmtpd's reflection on every connection.

aiosmtpd's ``SMTP.__init__`` finds the AUTH mechanisms, the handler's hooks and its own ``smtp_*``
commands with ``inspect.getmembers`` and ``dir`` each time a client connects.  Most servers deliver one
mail per connection, so the mailbox paid that for every mail: an eighth of its event loop's time in
``bench.smtp`` (py-spy, session 13), more than parsing the headers.  What it finds depends only on the
class, the handler and the settings, none of which change while the server listens.

So the first session is built the full way (the prototype) and every later one copies the prototype's
configuration: containers are copied, and what the prototype bound to itself (its ``smtp_*`` commands,
the built-in AUTH mechanisms) is bound again to the new session.  The asyncio protocol underneath is
initialised afresh for each.  ``tests/connectors/email/test_session_factory.py`` holds every attribute
to what aiosmtpd's own ``__init__`` gives, so an aiosmtpd upgrade that adds state is caught there.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

from aiosmtpd.smtp import _AuthMechAttr

from connectors.email.inbound import HotlineSMTP, MailboxHandler


class SessionFactory:
    """``loop.create_server``'s protocol factory for the mailbox."""

    def __init__(self, handler: MailboxHandler, *, loop: asyncio.AbstractEventLoop, **smtp_options: Any) -> None:
        self._loop = loop
        prototype = HotlineSMTP(handler, loop=loop, **smtp_options)
        own = set(vars(_bare_protocol(loop)))  # what StreamReaderProtocol.__init__ sets: fresh per session
        self._prototype = prototype
        self._configuration = {name: value for name, value in vars(prototype).items() if name not in own}

    def __call__(self) -> HotlineSMTP:
        session = HotlineSMTP.__new__(HotlineSMTP)
        asyncio.StreamReaderProtocol.__init__(
            session,
            asyncio.StreamReader(loop=self._loop, limit=self._prototype.line_length_limit),
            client_connected_cb=session._cb_client_connected,
            loop=self._loop,
        )
        prototype = self._prototype
        for name, value in self._configuration.items():
            setattr(session, name, _rebound(value, prototype, session))
        return session


def _bare_protocol(loop: asyncio.AbstractEventLoop) -> asyncio.StreamReaderProtocol:
    # With a callback, as a server's protocol is made: it then also holds its reader strongly.
    return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), client_connected_cb=_no_callback, loop=loop)


def _no_callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


def _rebound(value: Any, prototype: HotlineSMTP, session: HotlineSMTP) -> Any:
    """``value`` as the session's own: methods of the prototype re-bound, containers copied."""
    if inspect.ismethod(value) and value.__self__ is prototype:
        bound: Callable[..., Any] = value.__func__.__get__(session, type(session))
        return bound
    if isinstance(value, _AuthMechAttr):
        return _AuthMechAttr(_rebound(value.method, prototype, session), value.is_builtin)
    if isinstance(value, dict):
        return {key: _rebound(item, prototype, session) for key, item in value.items()}
    if isinstance(value, (list, set)):
        return type(value)(value)
    return value
