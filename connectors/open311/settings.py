"""The Open311 channel's limits, taken from the gateway's settings (``HOTLINE_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings

# GeoReport v2 allows a description of up to 4,000 characters; a form of that is a few KB.
MAX_DESCRIPTION_CHARS = 4000
MAX_FORM_BYTES = 32 * 1024


@dataclass(frozen=True)
class Open311Settings:
    posts_per_minute: int  # HOTLINE_OPEN311_POSTS_PER_MINUTE, per API key
    reads_per_minute: int  # HOTLINE_OPEN311_READS_PER_MINUTE, per client address
    max_description_chars: int = MAX_DESCRIPTION_CHARS
    max_form_bytes: int = MAX_FORM_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> Open311Settings:
        return cls(posts_per_minute=settings.open311_posts_per_minute,
                   reads_per_minute=settings.open311_reads_per_minute,
                   max_description_chars=min(MAX_DESCRIPTION_CHARS, settings.max_text_chars))
