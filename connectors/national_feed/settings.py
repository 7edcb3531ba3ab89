"""Settings of the national platform feed, read from the environment and validated up front.

Kept apart from the runtime code (config validation separate from runtime, as in Home
Assistant) so the launcher can refuse a bad value before it starts polling.  A bad value
raises :class:`config.settings.SettingsError` naming the environment variable.

``NATIONAL_FEED_URL`` unset (or blank) means the feed is disabled; the other variables are
then not required.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.settings import SettingsError

DEFAULT_HANDLER_UNIT = "平顶山市12345政务服务便民热线"

_APP_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


class NationalFeedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    url: str | None = Field(default=None, alias="NATIONAL_FEED_URL")
    app_key: str | None = Field(default=None, alias="NATIONAL_FEED_APP_KEY")
    app_secret: SecretStr | None = Field(default=None, alias="NATIONAL_FEED_APP_SECRET")
    poll_seconds: float = Field(default=30.0, ge=1, le=86_400, alias="NATIONAL_FEED_POLL_SECONDS")
    # The protocol caps a page at 100 items (docs/national-feed.md).
    page_size: int = Field(default=50, ge=1, le=100, alias="NATIONAL_FEED_PAGE_SIZE")
    # Name of the handling unit sent with every write-back (回传 办理单位).
    handler_unit: str = Field(default=DEFAULT_HANDLER_UNIT, min_length=1, max_length=100,
                              alias="NATIONAL_FEED_HANDLER_UNIT")
    # Timeout of one HTTP request to the platform, in seconds.
    timeout: float = Field(default=30.0, gt=0, le=300, alias="NATIONAL_FEED_TIMEOUT")

    @field_validator("url", "app_key", "app_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        return v

    @field_validator("url")
    @classmethod
    def _url_shape(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if not v.startswith(("http://", "https://")) or len(v.split("://", 1)[1].strip("/")) == 0:
            raise ValueError("must be an http:// or https:// URL")
        if "?" in v or "#" in v:
            raise ValueError("must not contain a query or fragment")
        # Paths are appended to it ("{base}/api/v1/items"); a trailing slash would double up.
        return v.rstrip("/")

    @field_validator("app_key")
    @classmethod
    def _app_key_shape(cls, v: str | None) -> str | None:
        if v is not None and not _APP_KEY_RE.match(v.strip()):
            raise ValueError("must be 1-64 ASCII letters, digits, '.', '_' or '-'")
        return v.strip() if v is not None else None

    @field_validator("app_secret")
    @classmethod
    def _secret_len(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return v

    @model_validator(mode="after")
    def _credentials_when_enabled(self) -> NationalFeedSettings:
        if self.url is not None:
            # Checked in order so the message names the first missing variable.
            if self.app_key is None:
                raise ValueError("app_key: required when NATIONAL_FEED_URL is set")
            if self.app_secret is None:
                raise ValueError("app_secret: required when NATIONAL_FEED_URL is set")
        return self

    @property
    def enabled(self) -> bool:
        return self.url is not None


def load_national_feed_settings(**overrides: Any) -> NationalFeedSettings:
    """Read the environment (plus explicit overrides by field or variable name)."""
    try:
        return NationalFeedSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        msg = str(err["msg"]).removeprefix("Value error, ")
        name = str(loc[0]) if loc else ""
        if not name and ":" in msg:
            # model-level check: the message starts with the field it is about
            name, msg = (p.strip() for p in msg.split(":", 1))
        info = NationalFeedSettings.model_fields.get(name)
        var = info.alias if info and info.alias else (name or "NATIONAL_FEED_URL")
        raise SettingsError(f"invalid setting {var.upper()}: {msg}") from exc
