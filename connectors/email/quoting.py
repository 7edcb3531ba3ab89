"""The citizen's own words: a reply's quoted history and signature cut off, the text trimmed for the NLU."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- quote trimming

# One alternation instead of a pattern at a time: every line of every mail is tried against it.
_CUT = re.compile(
    "|".join((
        r"^\s*-{2,}\s*(?:原始邮件|原始郵件|Original Message|转发的邮件|Forwarded message)\s*-{2,}\s*$",
        r"^\s*-{3,}\s*(?:原始邮件|原始郵件|Original Message)",
        r"^\s*(?:在|于|於).{0,200}(?:写道|寫道)\s*[:：]?\s*$",
        r"^\s*On\s.{0,300}\swrote\s*:\s*$",
        r"^\s*_{10,}\s*$",  # Outlook puts a rule above the quoted headers
    )),
    re.I,
)
_GMAIL_ON = re.compile(r"^\s*On\s", re.I)
_GMAIL_WROTE = re.compile(r"^(.*\s)?wrote\s*:\s*$")
_QUOTED_HEADER = re.compile(r"^\s*(发件人|寄件者|From)\s*[:：]", re.I)
_QUOTED_HEADER_NEXT = re.compile(r"^\s*(发送时间|發送時間|日期|时间|Sent|Date|收件人|To)\s*[:：]", re.I)
_SIGNATURE = re.compile(r"^--\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(发自我的|来自我的|發自我的|从我的|發送自我的|Sent from my|Sent from|Get Outlook for|发自|来自)\s*\S.{0,40}$",
    re.I,
)


def _cut_index(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _CUT.match(line):
            return i
        # Gmail wraps "On <date>, <name> wrote:" over two lines.
        if (
            i + 1 < len(lines)
            and _GMAIL_ON.match(line)
            and _GMAIL_WROTE.match(lines[i + 1])
        ):
            return i
        if _QUOTED_HEADER.match(line) and any(_QUOTED_HEADER_NEXT.match(n) for n in lines[i + 1:i + 4]):
            return i
    return None


def split_own_text(body: str) -> tuple[str, str]:
    """(text for the NLU, the citizen's own text including the signature).

    The second keeps phone numbers that citizens put in signatures; both drop quoted
    history, which is the mayor's office's own earlier reply or someone else's words.
    """
    lines = body.split("\n")
    cut = _cut_index(lines)
    own = lines if cut is None else lines[:cut]
    own = [line for line in own if not line.lstrip().startswith(">")]
    with_signature = "\n".join(own).strip()
    for i, line in enumerate(own):
        if _SIGNATURE.match(line):
            own = own[:i]
            break
    own = [line for line in own if not _MOBILE_SIGNATURE.match(line)]
    text = _collapse_blank_lines("\n".join(own))
    return text, with_signature


def _collapse_blank_lines(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def trim_for_nlu(body: str, max_chars: int, *, own_text: str | None = None) -> tuple[str, bool]:
    """The text for the NLU, at most ``max_chars``; ``own_text``: ``split_own_text(body)[0]`` if known."""
    text = split_own_text(body)[0] if own_text is None else own_text
    if not text:
        # Nothing but quotes (e.g. a bare forward): the quoted words are the request.
        text = _collapse_blank_lines(body)
    if len(text) > max_chars:
        return text[:max_chars].rstrip(), True
    return text, False
