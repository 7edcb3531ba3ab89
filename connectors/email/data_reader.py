"""The DATA phase of an SMTP session, read in blocks instead of one line at a time.

aiosmtpd reads a mail's content with one ``readuntil(b"\\r\\n")`` per line, a debug log call and a
few joins each: 15–70 lines for a typical citizen's mail, a tenth of the event loop's time spent in
``smtp_DATA`` itself (py-spy of ``bench.smtp``, session 14).  The end of the content is a line of a
single dot, so :func:`read_content` asks the stream for everything up to the next ``.\\r\\n`` at
once: nearly always the end mark itself, sometimes a line that ends with a full stop (then it asks
again).  Dot-stuffing (RFC 5321 4.5.2) is undone on the whole block.

What the client sees is aiosmtpd's behaviour, byte for byte: the same content, the same 500 for a
line longer than the session's ``line_length_limit``, the same 552 past ``data_size_limit`` (both
only after the end mark, as RFC 5321 4.2.5 implies, and without keeping the excess in memory).
Blocks that could change that state (a block longer than a line may be, or one that crosses the
size limit) go through :class:`_Collector` line by line, as aiosmtpd's loop does; a mail with no end
mark within the stream's buffer limit (a big attachment) is read line by line from there on.
``tests/connectors/email/test_data_reader.py`` holds both paths to aiosmtpd's own ``smtp_DATA``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

END_MARK = b".\r\n"
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"


@dataclass
class _Collector:
    """aiosmtpd's DATA state machine: lines in, the content or the error out."""

    line_limit: int  # also the stream's buffer limit, as aiosmtpd makes its reader
    size_limit: int | None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    error: str | None = None
    fragments: list[bytes] = field(default_factory=list)  # a line longer than the stream's buffer

    def block(self, data: bytes) -> None:
        """Whole lines (``data`` ends with CRLF, no line of it is a fragment's tail)."""
        if self.error is not None:  # refused already: only counted from here on
            self.size += len(data)
            return
        size = self.size + len(data)
        if len(data) <= self.line_limit and not (self.size_limit and size > self.size_limit):
            self.size = size
            self.chunks.append(data)
            return
        start = 0
        while start < len(data):
            end = data.index(b"\r\n", start) + 2
            if end - 2 - start > self.line_limit:
                # aiosmtpd's readuntil(b"\r\n") would have overrun the buffer on this line.
                self.overrun()
            self.line(data[start:end])
            start = end

    def line(self, line: bytes) -> None:
        """One read of aiosmtpd's loop: a line, or a fragment of an over-long one."""
        self.size += len(line)
        if self.error is None and self.size_limit and self.size > self.size_limit:
            self.error = TOO_MUCH
            self.chunks.clear()  # the excess is read but never kept
        self.fragments.append(line)
        if line.endswith(b"\r\n"):
            if self.error is None:
                whole = b"".join(self.fragments)
                if len(whole) > self.line_limit:
                    self.error = TOO_LONG
                    self.chunks.clear()
                else:
                    self.chunks.append(whole)
            self.fragments.clear()

    def overrun(self) -> None:
        """A line longer than the stream's buffer limit: refused once the content has ended."""
        if self.error is None:
            self.error = TOO_LONG
        self.chunks.clear()

    def content(self) -> bytes:
        data = b"".join(self.chunks)
        # Dot-stuffing undone: a line's leading dot goes (lines end with CRLF, so every b"\r\n."
        # is a line that starts with a dot).
        if data.startswith(b"."):
            data = data[1:]
        return data.replace(b"\r\n.", b"\r\n")


async def read_content(reader: asyncio.StreamReader, *, line_limit: int, size_limit: int | None) -> tuple[bytes, str | None]:
    """The content after a 354, up to and without the end mark: ``(content, None)``, or
    ``(b"", reply)`` with the 500/552 reply that refuses it."""
    collector = _Collector(line_limit, size_limit)
    while True:
        try:
            block = await reader.readuntil(END_MARK)
        except asyncio.LimitOverrunError:
            break  # no end mark within the buffer's limit: line by line from here
        if block == END_MARK or block.endswith(b"\r\n" + END_MARK):
            if block != END_MARK:
                collector.block(block[: -len(END_MARK)])
            return _result(collector)
        collector.block(block)  # a line ending in a full stop, not the end mark
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as exc:
            # aiosmtpd: drain what the buffer holds and refuse the mail once its end has come.
            collector.overrun()
            line = await reader.read(exc.consumed)
        if not collector.fragments and line == END_MARK:
            return _result(collector)
        collector.line(line)


def _result(collector: _Collector) -> tuple[bytes, str | None]:
    if collector.error is not None:
        return b"", collector.error
    assert not collector.fragments
    return collector.content(), None
