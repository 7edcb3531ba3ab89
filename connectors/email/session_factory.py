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
from types import MethodType
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
        configuration = {name: value for name, value in vars(prototype).items() if name not in own}
        # How each value becomes the session's own, decided once: a walk with type checks per session cost
        # ~36 µs a mail, now ~17 (5,000 sessions, machine busy). Values without a maker are shared as they are.
        self._shared: dict[str, Any] = {}
        self._makers: dict[str, Callable[[HotlineSMTP], Any]] = {}
        for name, value in configuration.items():
            maker = _maker(value, prototype)
            if maker is None:
                self._shared[name] = value
            else:
                self._makers[name] = maker

    def __call__(self) -> HotlineSMTP:
        session = HotlineSMTP.__new__(HotlineSMTP)
        asyncio.StreamReaderProtocol.__init__(
            session,
            asyncio.StreamReader(loop=self._loop, limit=self._prototype.line_length_limit),
            client_connected_cb=session._cb_client_connected,
            loop=self._loop,
        )
        session.__dict__.update(self._shared)
        for name, make in self._makers.items():
            setattr(session, name, make(session))
        return session


def _bare_protocol(loop: asyncio.AbstractEventLoop) -> asyncio.StreamReaderProtocol:
    # With a callback, as a server's protocol is made: it then also holds its reader strongly.
    return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), client_connected_cb=_no_callback, loop=loop)


def _no_callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


def _maker(value: Any, prototype: HotlineSMTP) -> Callable[[HotlineSMTP], Any] | None:
    """How ``value`` becomes a session's own: methods of the prototype re-bound, containers copied; ``None``
    when it is shared as it is."""
    if inspect.ismethod(value) and value.__self__ is prototype:
        function = value.__func__
        return lambda session: MethodType(function, session)
    if isinstance(value, _AuthMechAttr):
        method, is_builtin = _maker(value.method, prototype), value.is_builtin
        if method is None:
            return None
        return lambda session: _AuthMechAttr(method(session), is_builtin)
    if isinstance(value, dict):
        entries = [(key, item, _maker(item, prototype)) for key, item in value.items()]
        return lambda session: {key: item if make is None else make(session) for key, item, make in entries}
    if isinstance(value, (list, set)):
        kind = type(value)
        return lambda session: kind(value)
    return None
