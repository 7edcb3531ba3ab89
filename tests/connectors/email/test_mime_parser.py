"""``mime_parser.parse_bytes`` gives what the standard library's BytesParser gives, part for part."""

from __future__ import annotations

import random
import re
from email import policy
from email.message import Message
from email.parser import BytesParser

from connectors.email import mime_parser

from . import mails
from .test_inbound_corpus import corpus_dir, generated

# Boundaries with every character re.escape escapes, and near-misses of each other.
BOUNDARIES = ["simple", "=_Part_0_12345.1700000000000", "a+b.c*d?e(f)g[h]i{j}k|l^m$n\\o", "with space",
              "----=_NextPart_000_0001_01DA1234.56789ABC", "x", "xx", "'()+_,-./:=?", "#&~\t"]


def _multipart(boundary: str, *, close: bool = True, trailing: str = "", nested: str | None = None,
               linesep: str = "\r\n") -> bytes:
    inner = ""
    if nested is not None:
        inner = (f'--{boundary}{linesep}Content-Type: multipart/alternative; boundary="{nested}"{linesep}{linesep}'
                 f"--{nested}{linesep}Content-Type: text/plain{linesep}{linesep}里层{linesep}"
                 f"--{nested}--{linesep}")
    text = (f'From: a@example.com{linesep}Content-Type: multipart/mixed; boundary="{boundary}"{linesep}{linesep}'
            f"preamble{linesep}--{boundary}{trailing}{linesep}Content-Type: text/plain; charset=utf-8{linesep}{linesep}"
            f"第一部分{linesep}--{boundary}x{linesep}not a boundary line{linesep}"
            f"--{boundary}{trailing}{linesep}Content-Type: text/html{linesep}{linesep}<p>二</p>{linesep}"
            + inner + (f"--{boundary}--{trailing}{linesep}epilogue{linesep}" if close else ""))
    return text.encode("utf-8")


def _shape(message: Message) -> list[tuple]:
    """Everything a reader of the parsed message can see, part by part."""
    shape = []
    for part in message.walk():
        payload = None if part.is_multipart() else part.get_payload()
        shape.append((list(part.raw_items()), part.is_multipart(), payload, part.preamble, part.epilogue,
                       [type(defect).__name__ for defect in part.defects], part.get_unixfrom()))
    return shape


def _assert_same(raw: bytes, label: str) -> None:
    ours = mime_parser.parse_bytes(raw)
    theirs = BytesParser(policy=policy.compat32).parsebytes(raw)
    assert _shape(ours) == _shape(theirs), label
    assert _rendered(ours) == _rendered(theirs), label


def _rendered(message: Message) -> bytes | str:
    try:
        return message.as_bytes()
    except Exception as exc:  # some hostile mails cannot be written back by either
        return type(exc).__name__


def test_corpus_and_generated_mails_parse_alike():
    samples = list(generated())
    directory = corpus_dir()
    if directory is not None:  # CPython's own email test corpus, where this Python installed it
        samples += [(path.name, path.read_bytes()) for path in sorted(directory.glob("msg_*.txt"))]
    samples += [("gbk", mails.gbk_mail()), ("attachment", mails.attachment_mail([("照片.png", "image/png", mails.PNG)]))]
    for label, raw in samples:
        _assert_same(raw, label)


def test_boundaries_of_every_shape_parse_alike():
    for boundary in BOUNDARIES:
        for linesep in ("\r\n", "\n"):
            for close in (True, False):
                for trailing in ("", "  ", "\t", "--"):
                    _assert_same(_multipart(boundary, close=close, trailing=trailing, linesep=linesep), boundary)
            _assert_same(_multipart(boundary, nested=boundary + "-inner", linesep=linesep), boundary)
            _assert_same(_multipart(boundary, nested=boundary[:-1] or "y", linesep=linesep), boundary)


def test_mutated_multipart_mails_parse_alike():
    rng = random.Random(20261203)
    seeds = [_multipart(boundary, nested="in") for boundary in BOUNDARIES[:4]]
    alphabet = b"-\r\n \t=x\"a"
    for _ in range(600):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.5:
                raw[at:at + rng.randint(0, 3)] = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
            else:
                del raw[at:at + rng.randint(1, 8)]
        _assert_same(bytes(raw), repr(bytes(raw)[:80]))


def test_other_patterns_are_compiled_as_usual():
    shim = mime_parser._BoundaryRe()
    assert shim.compile(r"a+b") == re.compile(r"a+b")
    assert shim.compile("(?P<sep>x)(?P<end>--)?", re.I) == re.compile("(?P<sep>x)(?P<end>--)?", re.I)
    assert shim.escape("a.b") == re.escape("a.b")


def test_a_new_boundary_compiles_no_expression(monkeypatch):
    # The point of the module: a mail's unique boundary costs no compilation; one expression per
    # boundary length is compiled once.
    compiled: list[str] = []
    real = re.compile
    monkeypatch.setattr(re, "compile", lambda pattern, flags=0: compiled.append(str(pattern)) or real(pattern, flags))
    message = mime_parser.parse_bytes(_multipart("=_never_seen_before_boundary", nested="=_nor_this_one"))
    assert len(message.get_payload()) == 3
    assert not [pattern for pattern in compiled if "never_seen" in pattern or "nor_this" in pattern]
    compiled.clear()
    # The same lengths as the first mail's boundaries, different characters.
    message = mime_parser.parse_bytes(_multipart("=_other_seen_before_boundary", nested="=_nor_that_one"))
    assert len(message.get_payload()) == 3
    assert compiled == []
