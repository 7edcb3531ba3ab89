"""MAIL FROM / RCPT TO paths: the mailbox's quick reading of plain ``<local@domain>`` gives what
aiosmtpd's own parser gives, for plain paths and for everything the quick path leaves to it."""

from __future__ import annotations

import random

from aiosmtpd.smtp import SMTP

from connectors.email.inbound import HotlineSMTP

CORPUS = [
    "<citizen@example.com>", "<a@b.com> SIZE=100", "<a@b.com>  BODY=8BITMIME SMTPUTF8", " <a@b.com>",
    "\t<a@b.com>\t", "<a@b.com> (comment) SIZE=1", "<a@b.com>(c)", "<>", "<a.b@c>", '<"q x"@b>',
    "<a@[1.2.3.4]>", "<a..b@c>", "<.a@b>", "<a.@b>", "<@x:a@b>", "<a@b", "a@b.com", "a@b.com SIZE=5",
    "<市民@例子.中国>", "<a@b.com>SIZE=1", "<a+tag@sub.example.org> ", "<A/B=C@d-e.f>", "<a@-b>",
    "<a@b.>", "<a b@c>", "<a@b c>", "<<a@b>>", "<a@b> <c@d>", "", "   ", "<" + "x" * 70 + "@b.com>",
]


class _Handler:
    pass


def _read(server: SMTP, arg: str) -> object:
    try:
        return server._getaddr(arg)
    except Exception as exc:  # the stdlib tokenizer fails on some input; ours must fail alike
        return type(exc)


def _both(limit: int) -> tuple[SMTP, HotlineSMTP]:
    plain = SMTP(_Handler())
    ours = HotlineSMTP(_Handler())  # type: ignore[arg-type]  # _getaddr reads no handler
    plain.local_part_limit = ours.local_part_limit = limit
    return plain, ours


async def test_the_corpus_reads_as_aiosmtpd_reads_it():
    for limit in (0, 64):
        plain, ours = _both(limit)
        for arg in CORPUS:
            assert _read(ours, arg) == _read(plain, arg), arg


async def test_random_paths_read_as_aiosmtpd_reads_them():
    alphabet = "ab.@<>\"() \t+-_[]:,;\\9市"
    rng = random.Random(12345)
    plain, ours = _both(0)
    for _ in range(20_000):
        arg = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert _read(ours, arg) == _read(plain, arg), repr(arg)
        framed = f"<{arg}>" + rng.choice(["", " SIZE=1", "(x)", " (x) A=B"])
        assert _read(ours, framed) == _read(plain, framed), repr(framed)


async def test_random_well_formed_and_near_misses_read_alike():
    rng = random.Random(54321)
    atoms = ["a", "Bc", "x9", "o'n", "t+g", "_", "=", "{}", "市", ""]
    labels = ["ex", "b-c", "9", "-x", "y-", "", "中国"]
    for limit in (0, 8):
        plain, ours = _both(limit)
        for _ in range(5_000):
            local = ".".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
            domain = ".".join(rng.choice(labels) for _ in range(rng.randint(1, 3)))
            arg = (rng.choice(["", " ", "\t"]) + f"<{local}@{domain}>"
                   + rng.choice(["", " ", " SIZE=10", "SIZE=1", " (c) X=Y", "\tBODY=8BITMIME "]))
            assert _read(ours, arg) == _read(plain, arg), repr(arg)
