"""The standard library's MIME parser, without compiling a regular expression for every multipart mail.

``email.feedparser`` compiles ``(?P<sep>--<boundary>)(?P<end>--)?...$`` for each multipart part it
meets.  Boundaries are unique per mail, so ``re``'s cache never helps: 146 µs of CPU per multipart
mail on this machine, three times what the parser spends on everything else in a short mail, and
nearly every webmail message is multipart/alternative.

This module runs the standard library's own ``feedparser`` source as a private module whose ``re`` is
:class:`_BoundaryRe`: for the boundary pattern it returns :class:`_Boundary`, which matches with one
pattern per boundary *length* (compiled once, cached) and then compares the boundary itself; every
other pattern goes to ``re.compile`` unchanged.  The match objects are the real ones of an equivalent
expression (same groups, same spans), so the parser behaves exactly as the standard one does;
``tests/connectors/email/test_mime_parser.py`` holds it to ``email.parser.BytesParser`` on a corpus.
The standard ``email.feedparser`` module itself is not touched.
"""

from __future__ import annotations

import email.feedparser
import functools
import importlib.util
import re
from email import policy
from email.message import Message
from types import ModuleType
from typing import Any

# feedparser.py: re.compile('(?P<sep>' + re.escape(separator) + _TAIL)
_HEAD = "(?P<sep>"
_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)  # re.escape puts one backslash before a character


@functools.lru_cache(maxsize=256)
def _pattern_of_length(length: int) -> re.Pattern[str]:
    # Any `length` characters where the boundary stands: the tail then matches from the same place
    # as after the literal boundary, so "this matches and its sep group is the boundary" is exactly
    # "the original expression matches", with the same groups.
    return re.compile("(?s:(?P<sep>.{%d}))" % length + _TAIL[1:])


class _Boundary:
    """The compiled boundary expression, as far as the parser uses it (``match``)."""

    __slots__ = ("separator", "_pattern")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._pattern = _pattern_of_length(len(separator))

    def match(self, line: str) -> re.Match[str] | None:
        found = self._pattern.match(line)
        return found if found is not None and found.group("sep") == self.separator else None


class _BoundaryRe:
    """``re`` as the private parser sees it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: Any, flags: int = 0) -> Any:
        if (flags == 0 and isinstance(pattern, str) and pattern.startswith(_HEAD) and pattern.endswith(_TAIL)):
            return _Boundary(_UNESCAPE.sub(r"\1", pattern[len(_HEAD):-len(_TAIL)]))
        return re.compile(pattern, flags)


def _private_feedparser() -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{__name__}._feedparser", email.feedparser.__file__)
    if spec is None or spec.loader is None:  # pragma: no cover - a stdlib without source files
        return email.feedparser
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.re = _BoundaryRe()  # type: ignore[attr-defined]  # read at parse time, not at import
    return module


_feedparser = _private_feedparser()


def parse_bytes(raw: bytes) -> Message:
    """``email.parser.BytesParser(policy=policy.compat32).parsebytes(raw)``, faster on multipart mail."""
    parser = _feedparser.FeedParser(policy=policy.compat32)
    # As BytesParser does: non-ASCII bytes survive as surrogates, for the charset chain to decode.
    parser.feed(raw.decode("ascii", errors="surrogateescape"))
    return parser.close()
