"""Turning the bytes of real-world Chinese mail into text.

Citizens write from every kind of client: GB2312 labels on GBK text, Big5 from Taiwan or
Hong Kong relatives, Latin-1 labels on GBK bodies, no label at all, raw 8-bit headers.
The declared charset is a hint, not a fact, so candidates are decoded strictly and, when
more than one succeeds, scored by how much of the result is ordinary Chinese text.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from html.parser import HTMLParser

# GB2312 and GBK are subsets of GB18030: decoding with the superset never loses a character
# that a mislabelled GBK mail (very common: "gb2312" on GBK text) actually contains.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "ms936", "euc_cn", "gb2312_1980", "iso_ir_58", "chinese", "csgb2312"}
# Big5-HKSCS is a superset of Big5 and of cp950's common range.
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950", "ms950", "big5_tw", "csbig5", "big5_hkscs"}
# Labels that decode any byte string without error, so success proves nothing.
_WEAK = {"ascii", "latin_1", "iso8859_1", "cp1252", "iso8859_15", "cp437"}

_CJK_ORDER = ("gb18030", "big5hkscs")


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label:
        return None
    if label in ("x-gbk", "gb_2312-80", "gb-2312", "x-gb2312", "x-euc-cn", "euc-cn", "gb_2312", "gb2312-80"):
        return "gb18030"
    if label in ("x-big5", "big-5", "big5-hkscs", "x-x-big5", "cn-big5"):
        return "big5hkscs"
    if label in ("unknown-8bit", "x-unknown", "unknown", "x-user-defined", "8bit", "default", "charset"):
        return None
    try:
        name = codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return None
    if name in _GB_FAMILY:
        return "gb18030"
    if name in _BIG5_FAMILY:
        return "big5hkscs"
    if name == "utf_8":
        return "utf-8"
    if name in ("us_ascii", "ascii", "646"):
        return "ascii"
    return name


def _is_common_cjk(ch: str) -> bool:
    # Simplified Chinese in daily use is in GB2312; traditional in Big5 level 1 (A440-C67E)
    # plus Big5 punctuation (A1xx).  Text decoded with the wrong table lands in rare or
    # private-use characters instead.
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        pass
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    code = int.from_bytes(b, "big")
    return b[0] == 0xA1 or 0xA440 <= code <= 0xC67E


def cjk_score(text: str, limit: int = 4000) -> tuple[int, int]:
    """(score, non-ASCII chars looked at): +1 per common CJK char, -1 rare, -2 other junk."""
    score = seen = 0
    for ch in text:
        o = ord(ch)
        if o < 0x80:
            continue
        seen += 1
        if seen > limit:
            break
        if 0x3000 <= o <= 0x303F or 0x4E00 <= o <= 0x9FFF or 0xFF00 <= o <= 0xFFEF:
            score += 1 if _is_common_cjk(ch) else -1
        elif 0x2000 <= o <= 0x206F or o in (0xA0, 0xB7, 0xD7):
            continue  # punctuation shared by every table
        else:
            score -= 2
    return score, min(seen, limit)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _best_cjk(data: bytes) -> tuple[str, str] | None:
    """The CJK decoding that reads most like Chinese, if any reads like Chinese at all."""
    best: tuple[int, str, str] | None = None
    for codec in _CJK_ORDER:
        text = _strict(data, codec)
        if text is None:
            continue
        score, seen = cjk_score(text)
        if seen and score >= 0.6 * seen and (best is None or score > best[0]):
            best = (score, codec, text)
    return (best[2], best[1]) if best else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` into text; returns (text, codec actually used).

    Order: the declared charset, UTF-8, GB18030, Big5, and finally Latin-1 with
    replacement — with scoring where a wrong label would still decode without error.
    Never raises.
    """
    if not data:
        return "", normalize_charset(declared) or "ascii"
    if data.isascii():
        return data.decode("ascii"), "ascii"
    codec = normalize_charset(declared)

    if codec in ("gb18030", "big5hkscs"):
        # Both tables accept most of each other's byte pairs; pick the one that reads best.
        results = []
        for c in (codec, *(x for x in _CJK_ORDER if x != codec), "utf-8"):
            text = _strict(data, c)
            if text is not None:
                results.append((cjk_score(text)[0], c, text))
        if results:
            top = max(r[0] for r in results)
            score, c, text = next(r for r in results if r[0] == top)  # ties: declared first
            return text, c
    elif codec is not None and codec not in _WEAK:
        text = _strict(data, codec)
        if text is not None:
            return text, codec

    # Missing, weak or failed label: UTF-8 first (random non-UTF-8 bytes almost never
    # validate), then the Chinese tables if the result reads like Chinese.
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    found = _best_cjk(data)
    if found:
        return found
    if codec is not None:
        try:
            return data.decode(codec, errors="replace"), codec
        except LookupError:
            pass
    # A GBK body with one corrupt byte still reads far better as GB18030 than as Latin-1.
    gb = data.decode("gb18030", errors="replace")
    score, seen = cjk_score(gb)
    if seen and score >= 0.5 * seen:
        return gb, "gb18030"
    return data.decode("latin-1", errors="replace"), "latin-1"


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Text safe for JSON, Redis, PostgreSQL and HTML templates.

    Lone surrogates (from surrogateescape'd 8-bit headers) cannot be encoded as UTF-8 and
    NUL cannot be stored in a PostgreSQL text column, so both go.
    """
    if not value:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", value)


def clean_line(value: str, limit: int) -> str:
    """One-line field (subject, name): control characters and folding whitespace collapsed."""
    value = clean_text(value)
    value = " ".join(value.split())
    value = unicodedata.normalize("NFC", value)
    return value[:limit]


def unescape_surrogates(value: str) -> bytes:
    """Bytes of a header value parsed with surrogateescape (raw 8-bit headers)."""
    return value.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- HTML → text

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "dl", "form",
}
_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "pre":
            self.in_pre += 1
        if tag in _BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("br", "hr", "p", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "pre":
            self.in_pre = max(0, self.in_pre - 1)
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.in_pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient, but a parse bug must not lose the mail
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.parts).replace("\xa0", " ")
    # Tags, not the author, made most blank lines; one line per block reads best.
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def html_declared_charset(data: bytes) -> str | None:
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii", "replace") if m else None
