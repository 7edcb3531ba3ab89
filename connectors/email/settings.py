"""Settings of the mayor's mailbox (SMTP intake and outbound relay), read from the environment.

Kept apart from the runtime code (as Home Assistant keeps config validation apart) so the
launcher can validate everything before it binds a port.  A bad value raises
:class:`config.settings.SettingsError` naming the environment variable.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.settings import SettingsError

DEFAULT_MAILBOX = "mayor@12345.pds.gov.cn"

_RELAY_SCHEMES = {
    # scheme: (default port, how the connection is secured)
    "smtp": (25, "plain"),
    "smtp+starttls": (587, "starttls"),
    "smtps": (465, "ssl"),
}


@dataclass(frozen=True)
class RelayConfig:
    """Where outbound mail goes, parsed from ``SMTP_RELAY_URL``."""

    host: str
    port: int
    security: str  # plain | starttls | ssl
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    # Below the gateway's 20 s wait for send_reply, so the operator sees the relay's own
    # reason rather than a bare timeout.
    timeout: float = 15.0

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.verify_tls:
            # Intranet relays often carry self-signed certificates; opting out is explicit
            # in the URL (?verify=no), never a default.
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


def parse_relay_url(url: str) -> RelayConfig:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _RELAY_SCHEMES:
        raise ValueError("must be smtp://, smtp+starttls:// or smtps://host[:port]")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        port = parts.port or _RELAY_SCHEMES[scheme][0]
    except ValueError as exc:  # port out of range / not a number
        raise ValueError(f"has an invalid port ({exc})") from None
    query = parse_qs(parts.query)
    verify = query.get("verify", ["yes"])[-1].lower() not in ("no", "0", "false", "off")
    try:
        timeout = float(query.get("timeout", ["15"])[-1])
    except ValueError:
        raise ValueError("has an invalid ?timeout= (seconds)") from None
    if not 0 < timeout <= 300:
        raise ValueError("has an invalid ?timeout= (seconds)")
    return RelayConfig(
        host=parts.hostname,
        port=port,
        security=_RELAY_SCHEMES[scheme][1],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        verify_tls=verify,
        timeout=timeout,
    )


def looks_like_address(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    return bool(at and local and domain and "." in domain and " " not in addr and "<" not in addr)


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    smtp_host: str = Field(default="127.0.0.1", alias="HOTLINE_SMTP_HOST")
    # 0 asks the OS for a free port (tests, benchmarks).
    smtp_port: int = Field(default=2525, ge=0, le=65535, alias="HOTLINE_SMTP_PORT")
    mailbox_addresses: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(DEFAULT_MAILBOX,), alias="MAILBOX_ADDRESSES"
    )
    relay_url: str | None = Field(default=None, alias="SMTP_RELAY_URL")
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024, alias="HOTLINE_SMTP_MAX_BYTES")
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, alias="SMTP_ATTACHMENT_MAX_BYTES")
    max_attachments: int = Field(default=20, ge=0, le=500, alias="SMTP_MAX_ATTACHMENTS")
    tls_cert: Path | None = Field(default=None, alias="SMTP_TLS_CERT")
    tls_key: Path | None = Field(default=None, alias="SMTP_TLS_KEY")
    # Auto-replies per sender address per hour; 0 turns auto-replies off.
    autoreply_per_hour: int = Field(default=5, ge=0, le=1000, alias="SMTP_AUTOREPLY_PER_HOUR")
    # How long the auto-reply waits for the pipeline's answer (ticket number).
    autoreply_wait_seconds: float = Field(default=60.0, gt=0, le=3600, alias="SMTP_AUTOREPLY_WAIT")
    # Name in the SMTP greeting, in Message-IDs and X-Loop; defaults to the first mailbox's domain.
    hostname: str | None = Field(default=None, alias="HOTLINE_SMTP_HOSTNAME")
    sender_name: str = Field(default="平顶山市12345市长信箱", alias="SMTP_SENDER_NAME")
    max_text_chars: int = Field(default=5000, ge=100, le=100_000, alias="HOTLINE_MAX_TEXT_CHARS")
    # Concurrent SMTP sessions; more get "421 try again later".
    max_sessions: int = Field(default=100, ge=1, le=10_000, alias="HOTLINE_SMTP_MAX_SESSIONS")
    # Of those, from one client address: one client holding idle connections must not lock every
    # other sender out.  A provider's outbound servers each have their own address.
    max_sessions_per_client: int = Field(default=20, ge=1, le=10_000, alias="HOTLINE_SMTP_MAX_SESSIONS_PER_CLIENT")
    # Idle time allowed between commands before DATA: sending servers answer in seconds, an idle
    # connection is only holding a slot.
    command_timeout: float = Field(default=30.0, gt=0, le=3600, alias="HOTLINE_SMTP_COMMAND_TIMEOUT")
    # The whole DATA transfer (a 20 MB mail on a slow line), and the idle limit after it.
    session_timeout: float = Field(default=300.0, gt=0, le=3600, alias="HOTLINE_SMTP_TIMEOUT")

    @field_validator("mailbox_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [p for p in (s.strip() for s in v.split(",")) if p]
        if isinstance(v, (list, tuple)):
            out: list[str] = []
            for addr in v:
                addr = str(addr).strip().lower()
                if not looks_like_address(addr):
                    raise ValueError(f"{addr!r} is not an e-mail address")
                if addr not in out:
                    out.append(addr)
            if not out:
                raise ValueError("needs at least one address")
            return tuple(out)
        return v

    @field_validator("relay_url")
    @classmethod
    def _relay(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parse_relay_url(v.strip())  # raises ValueError with the reason
        return v.strip()

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().lower()
        if any(c.isspace() or c in "<>@" for c in v):
            raise ValueError("is not a host name")
        return v

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is None or str(v) == "":
            return None
        if not v.is_file():
            raise ValueError(f"file {v} does not exist")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> EmailSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            missing = "tls_key" if self.tls_key is None else "tls_cert"
            raise ValueError(f"{missing}: SMTP_TLS_CERT and SMTP_TLS_KEY must be set together")
        return self

    @property
    def relay(self) -> RelayConfig | None:
        return parse_relay_url(self.relay_url) if self.relay_url else None

    @property
    def server_hostname(self) -> str:
        return self.hostname or self.mailbox_addresses[0].rpartition("@")[2]

    @property
    def primary_address(self) -> str:
        return self.mailbox_addresses[0]

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(f"invalid setting SMTP_TLS_CERT/SMTP_TLS_KEY: {exc}") from exc
        return ctx


def load_email_settings(**overrides: Any) -> EmailSettings:
    """Read the environment (plus explicit overrides by field name, for tests and the CLI)."""
    try:
        return EmailSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        name = str(loc[0]) if loc else ""
        msg = err["msg"]
        if not name and ":" in msg:
            # model-level check: the message starts with the field it is about
            name = msg.split(":", 1)[0].rsplit(" ", 1)[-1]
            msg = msg.split(":", 1)[1].strip()
        info = EmailSettings.model_fields.get(name)
        var = info.alias if info and info.alias else (name or "?")
        raise SettingsError(f"invalid setting {var.upper()}: {msg}") from exc
