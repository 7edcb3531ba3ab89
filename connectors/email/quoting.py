"""The citizen's own words: a reply's quoted history and signature cut off, the text trimmed for the NLU."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- quote trimming

_CUT_PATTERNS = [
    re.compile(r"^\s*-{2,}\s*(原始邮件|原始郵件|Original Message|转发的邮件|Forwarded message)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{3,}\s*(原始邮件|原始郵件|Original Message)", re.I),
    re.compile(r"^\s*(在|于|於).{0,200}(写道|寫道)\s*[:：]?\s*$"),
    re.compile(r"^\s*On\s.{0,300}\swrote\s*:\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook puts a rule above the quoted headers
]
_QUOTED_HEADER = re.compile(r"^\s*(发件人|寄件者|From)\s*[:：]", re.I)
_QUOTED_HEADER_NEXT = re.compile(r"^\s*(发送时间|發送時間|日期|时间|Sent|Date|收件人|To)\s*[:：]", re.I)
_SIGNATURE = re.compile(r"^--\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(发自我的|来自我的|發自我的|从我的|發送自我的|Sent from my|Sent from|Get Outlook for|发自|来自)\s*\S.{0,40}$",
    re.I,
)


def _cut_index(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _CUT_PATTERNS):
            return i
        # Gmail wraps "On <date>, <name> wrote:" over two lines.
        if (
            i + 1 < len(lines)
            and re.match(r"^\s*On\s", line, re.I)
            and re.match(r"^(.*\s)?wrote\s*:\s*$", lines[i + 1])
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


def trim_for_nlu(body: str, max_chars: int) -> tuple[str, bool]:
    text, _ = split_own_text(body)
    if not text:
        # Nothing but quotes (e.g. a bare forward): the quoted words are the request.
        text = _collapse_blank_lines(body)
    if len(text) > max_chars:
        return text[:max_chars].rstrip(), True
    return text, False
