"""The web chat's settings: limits it shares with the rest of the gateway (``HOTLINE_*``).

They are read once by :mod:`config.settings` with every other gateway setting (the leave-a-
message page uses the same text limit), so this only picks what the chat needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings

# A chat message is a few KB of JSON; anything bigger is refused before it is parsed.
MAX_JSON_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebChatSettings:
    max_text_chars: int  # HOTLINE_MAX_TEXT_CHARS
    rate_limit_per_minute: int  # HOTLINE_RATE_LIMIT_PER_MINUTE, messages per client address
    max_json_bytes: int = MAX_JSON_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> WebChatSettings:
        return cls(max_text_chars=settings.max_text_chars, rate_limit_per_minute=settings.rate_limit_per_minute)
