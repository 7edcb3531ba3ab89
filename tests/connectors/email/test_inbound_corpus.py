"""Robustness: CPython's own email test corpus plus generated hostile mails, each sent over a
real SMTP session.  Each gets 250 or a clean 5xx, the server never goes down, and every 250
corresponds to exactly one stream entry."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors.base import InboundMessage

from . import mails
from .conftest import make_mail


def corpus_dir() -> Path | None:
    try:
        import test.test_email as pkg  # the installed Python's own test suite
    except ImportError:
        return None
    path = Path(pkg.__file__).parent / "data"
    return path if any(path.glob("msg_*.txt")) else None


def generated() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for label in ("gb2312", "gbk", "GB18030", "iso-8859-1", "utf-8"):
        out.append((f"gbk-{label}", mails.gbk_mail(label)))
        out.append((f"gbk-8bit-{label}", mails.gbk_mail(label, transfer="8bit")))
    for label in ("big5", None, "gb2312", "big5-hkscs"):
        out.append((f"big5-{label}", mails.big5_mail(label)))
    out.append(("raw-8bit-headers", mails.raw_8bit_header_mail()))
    out.append(("html-only", mails.html_only_mail()))
    out.append(("split-encoded-word", mails.split_encoded_word_mail()))
    out.extend((f"broken-{i}", raw) for i, raw in enumerate(mails.broken_mime_mails()))
    rnd = random.Random(12345)
    for i in range(15):
        # Random bytes, and random bytes behind plausible headers.
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 3000)))
        out.append((f"random-{i}", body))
        head = b"From: r@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
        out.append((f"random-headed-{i}", head + body))
    return out


async def test_corpus_and_generated_mails_over_smtp(start_mailbox, intake):
    directory = corpus_dir()
    if directory is None:
        pytest.skip("CPython's email test corpus (Lib/test/test_email/data) is not installed with this Python")
    corpus = [(p.name, p.read_bytes()) for p in sorted(directory.glob("msg_*.txt"))]
    assert len(corpus) >= 40
    box = await start_mailbox()

    accepted_ids: list[str] = []
    results: dict[str, int] = {}
    for name, raw in corpus + generated():
        code, reply = await box.send(raw, mail_from="corpus@example.com")
        results[name] = code
        assert code == 250 or 500 <= code < 600, (name, code, reply)
        if code == 250:
            accepted_ids.append(reply.split()[-1])
        assert box.server.is_serving()

    rows = await intake.redis.xrange(intake.stream)
    assert [entry_id.decode() for entry_id, _ in rows] == accepted_ids  # one entry per 250, none without
    for _id, fields in rows:
        msg = InboundMessage.from_json(fields[b"msg"])
        assert msg.channel == "email" and msg.native_id and msg.sender_id
        assert any(a.kind == "original_email" for a in msg.attachments)
    # The corpus is well-formed enough that all of it is taken.
    assert all(results[name] == 250 for name, _ in corpus), {n: c for n, c in results.items() if c != 250}

    # Still alive and well afterwards.
    code, _ = await box.send(make_mail())
    assert code == 250
