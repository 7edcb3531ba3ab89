"""WeChat official-account settings, read from the environment and validated up front.

Kept apart from the runtime code (as in Home Assistant's config validation) so a bad value
stops start-up with one clear message naming the variable, instead of failing on the
first callback.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.wechat.const import DEFAULT_API_BASE_URL


class WeChatSettingsError(ValueError):
    """A WeChat setting is invalid; the message names the environment variable."""


class WeChatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # The callback token configured on the WeChat admin page (3-32 letters/digits there).
    token: SecretStr | None = Field(default=None, alias="WECHAT_TOKEN")
    # 43 characters; unset → plaintext mode, set → only encrypted (compatible/safe) callbacks.
    encoding_aes_key: SecretStr | None = Field(default=None, alias="WECHAT_ENCODING_AES_KEY")
    app_id: str | None = Field(default=None, alias="WECHAT_APP_ID")
    app_secret: SecretStr | None = Field(default=None, alias="WECHAT_APP_SECRET")
    api_base_url: str = Field(default=DEFAULT_API_BASE_URL, alias="WECHAT_API_BASE_URL")
    timestamp_window: int = Field(default=300, ge=1, le=86_400, alias="WECHAT_TIMESTAMP_WINDOW")
    # How long a callback waits for the answer to give it as the passive reply; later answers go
    # out as customer-service messages. Short: WeChat holds a connection per callback, and under
    # a burst a long wait only makes every citizen wait (WeChat gives up after 5 s).
    reply_budget: float = Field(default=0.5, gt=0, le=4.5, alias="WECHAT_REPLY_BUDGET")
    # The answer is due this long after the callback: a message the NLU cannot take by then is
    # stored unclassified (the backfill classifies it later) so the citizen is answered in time.
    answer_within: float = Field(default=3.5, ge=0.5, le=60, alias="WECHAT_ANSWER_WITHIN")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024, alias="WECHAT_MAX_BODY_BYTES")
    # How long a late answer is still worth a customer-service message after `success`.
    deferred_wait: float = Field(default=60.0, ge=0, le=3600, alias="WECHAT_DEFERRED_WAIT")
    # How long a MsgId stays remembered as seen (WeChat retries within ~15 s; the
    # gateway's database dedupes for ever, this only keeps retries off the stream).
    dedupe_ttl: int = Field(default=86_400, ge=60, le=7 * 86_400, alias="WECHAT_DEDUPE_TTL")
    # Timeout of one call to WeChat's API (connect, read), in seconds.
    api_timeout: float = Field(default=10.0, gt=0, le=120, alias="WECHAT_API_TIMEOUT")
    api_threads: int = Field(default=4, ge=1, le=64, alias="WECHAT_API_THREADS")

    @field_validator("token", "encoding_aes_key", "app_secret", "app_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return None
        return v

    @field_validator("token")
    @classmethod
    def _token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            raw = v.get_secret_value()
            if not (3 <= len(raw) <= 32 and raw.isascii() and raw.isalnum()):
                raise ValueError("must be 3-32 ASCII letters or digits (as on the WeChat admin page)")
        return v

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return v
        raw = v.get_secret_value().strip()
        if len(raw) != 43 or not raw.isascii() or not raw.isalnum():
            raise ValueError("must be the 43 letters/digits shown on the WeChat admin page")
        try:
            key = base64.b64decode(raw + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("is not valid base64") from exc
        if len(key) != 32:
            raise ValueError("does not decode to a 32-byte AES key")
        return SecretStr(raw)

    @field_validator("app_id")
    @classmethod
    def _app_id_shape(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith("wx") and len(v) == 18 and v.isascii() and v.isalnum()):
            raise ValueError("must look like wx followed by 16 letters/digits")
        return v

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        v = v.strip()
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        # wechatpy joins base + endpoint by plain concatenation.
        return v if v.endswith("/") else v + "/"

    @model_validator(mode="after")
    def _aes_needs_app_id(self) -> WeChatSettings:
        if self.encoding_aes_key is not None and self.app_id is None:
            # The app id is inside every ciphertext and is checked on decryption.
            raise ValueError("WECHAT_APP_ID is required when WECHAT_ENCODING_AES_KEY is set")
        return self

    # ---- convenience -------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.token is not None

    @property
    def encrypted(self) -> bool:
        return self.encoding_aes_key is not None

    @property
    def outbound_enabled(self) -> bool:
        return self.app_id is not None and self.app_secret is not None


def load_wechat_settings(**overrides: Any) -> WeChatSettings:
    """Read the environment (plus explicit overrides by field name or variable name)."""
    try:
        return WeChatSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        if loc:
            field = str(loc[0])
            info = WeChatSettings.model_fields.get(field)
            name = (info.alias if info and info.alias else field).upper()
        else:  # the only model-level check is about the app id
            name = "WECHAT_APP_ID"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise WeChatSettingsError(f"invalid setting {name}: {msg}") from exc
