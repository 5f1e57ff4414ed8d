"""Typed settings, read from the environment once (``get_settings()``).

One small class per concern. Embedded mode is simply "no DATABASE_URL / REDIS_URL": the factories
in ``app.lib`` and ``app.worker`` pick SQLite, memory stores and in-process workers from these
values; domain code never asks which mode it is in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# The checkout this code runs from (``app/`` sits in it). In a source checkout the default data dir
# is ``.board3`` there, whatever the current directory: `scripts/run`, `board3 sandbox env` run from
# another directory, and the sandbox provider launched by terraform in a working directory of its
# own all find the same database and sandbox store.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """``<checkout>/.board3`` in a source checkout (it holds pyproject.toml), else ``./.board3``
    (an installed package has no checkout to keep data in)."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / ".board3"
    return Path(".board3").resolve()


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(name: str) -> list[str]:
    raw = _env(name)
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else []


# http(s)://host[:port][/path]: a DNS name, IPv4 or [IPv6] host; no credentials, query or fragment.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PUBLIC_URL = re.compile(
    rf"https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
    r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?",
    re.ASCII,
)


def _public_url(name: str) -> str | None:
    """An absolute http(s) base URL, without the trailing slash if one is given; None when unset."""
    raw = _env(name)
    if raw is None:
        return None
    match = _PUBLIC_URL.fullmatch(raw)
    if match is None or int(match["port"] or 1) not in range(1, 65536):
        raise ConfigError(f"{name} must be an http(s)://host[:port][/path] URL, got {raw!r}")
    return raw.rstrip("/")


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 5 * 1024 * 1024
    log_level: str = "INFO"
    trusted_proxies: list[str] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    keepalive_timeout: int = 75
    public_url: str | None = None  # the address clients use (behind proxies); None: the request's


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None
    sqlite_path: Path
    pool_min: int = 1
    pool_max: int = 10
    # LOCK and UNLOCK wait for their commit to reach the disk (PostgreSQL synchronous commit).
    durable_locks: bool = False


@dataclass(frozen=True)
class RedisSettings:
    url: str | None
    prefix: str = "board3"


@dataclass(frozen=True)
class SecuritySettings:
    jwt_secret: str | None
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    password_min_length: int = 10
    rate_limit_auth_per_minute: int = 20  # per account and client address
    rate_limit_auth_address_per_minute: int = 120  # every sign-in attempt from one address
    rate_limit_auth_account_per_minute: int = 100  # failed logins of one account, from anywhere
    rate_limit_api_per_minute: int = 600
    encryption_keys: str | None = None


@dataclass(frozen=True)
class TerraformSettings:
    binary: str = "terraform"


@dataclass(frozen=True)
class WorkerSettings:
    """Pipelines' background work: who runs it, how long a run may take, how a lost worker is found."""

    in_process: bool = True  # embedded mode: the server runs executions itself
    concurrency: int = 2  # executions one worker process runs at once
    lease_seconds: int = 30  # a worker that has not renewed its lease for this long is lost
    run_timeout: int = 3600  # seconds one terraform command may run before it is interrupted
    cancel_cool_off: int = 10  # seconds between a cancel and the force-cancel it allows
    work_dir: Path | None = None  # parent of runs' private working directories (system temp)
    internal_url: str | None = None  # how terraform in a run reaches the state backend
    drift_min_interval: int = 300  # the shortest drift schedule accepted, seconds
    drift_max_jitter: int = 900  # scheduled drift checks spread over up to this many seconds

    def backend_url(self, server: ServerSettings) -> str:
        """The base URL a run's terraform uses for ``/tf``: ``BOARD3_INTERNAL_URL``, else
        ``BOARD3_PUBLIC_URL``, else this server's own address on loopback."""
        if self.internal_url:
            return self.internal_url
        if server.public_url:
            return server.public_url
        host = server.host if server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{server.port}"


@dataclass(frozen=True)
class LimitSettings:
    max_nodes: int = 20_000
    max_edges: int = 60_000
    max_state_bytes: int = 64 * 1024 * 1024
    max_inflight_body_bytes: int = 256 * 1024 * 1024  # every request body this process holds at once


@dataclass(frozen=True)
class NotifySettings:
    """Webhook deliveries, invitations and the mail that carries them."""

    webhook_allow_private: bool = False  # deliver to loopback/private/link-local addresses
    webhook_timeout: int = 10  # seconds one delivery attempt may take, connection included
    webhook_retry_base: int = 30  # seconds before the first retry; doubled each time, with jitter
    webhook_retry_window: int = 24 * 3600  # a delivery is retried for this long, then given up
    webhook_disable_after: int = 10  # consecutive failed deliveries that disable a webhook
    webhook_concurrency: int = 4  # deliveries one worker process sends at once
    webhook_secret_grace: int = 24 * 3600  # how long a rotated secret still signs, by default
    invitation_ttl: int = 7 * 24 * 3600
    smtp_url: str | None = None  # smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]
    mail_from: str = "Board3 <board3@localhost>"
    outbox_dir: Path | None = None  # without SMTP: where messages are written (<data dir>/outbox)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    server: ServerSettings
    database: DatabaseSettings
    redis: RedisSettings
    security: SecuritySettings
    terraform: TerraformSettings
    limits: LimitSettings
    worker: WorkerSettings
    sandbox_enabled: bool
    seed_on_start: bool = True
    notify: NotifySettings = field(default_factory=NotifySettings)


def load_settings() -> Settings:
    """Build settings from the current environment (raises ConfigError naming the variable)."""
    configured_dir = _env("BOARD3_DATA_DIR")
    data_dir = Path(configured_dir).expanduser().resolve() if configured_dir else default_data_dir()
    database_url = _env("DATABASE_URL")
    if database_url is not None and not database_url.startswith(("postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    redis_url = _env("REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must be a redis:// URL")
    production = database_url is not None
    max_body_bytes = _int("BOARD3_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)
    max_state_bytes = _int("BOARD3_MAX_STATE_BYTES", 64 * 1024 * 1024, minimum=1024)
    max_inflight = _int("BOARD3_MAX_INFLIGHT_BODY_BYTES", 256 * 1024 * 1024, minimum=1024)
    if max_inflight < max(max_body_bytes, max_state_bytes):
        raise ConfigError(
            "BOARD3_MAX_INFLIGHT_BODY_BYTES must be at least BOARD3_MAX_STATE_BYTES and "
            f"BOARD3_MAX_BODY_BYTES ({max(max_body_bytes, max_state_bytes)}), got {max_inflight}: "
            "a body of the largest allowed size could never be received"
        )
    return Settings(
        data_dir=data_dir,
        server=ServerSettings(
            host=_env("BOARD3_HOST", "127.0.0.1") or "127.0.0.1",
            port=_int("BOARD3_PORT", 8000, minimum=0),
            max_body_bytes=max_body_bytes,
            log_level=(_env("BOARD3_LOG_LEVEL", "INFO") or "INFO").upper(),
            trusted_proxies=_list("BOARD3_TRUSTED_PROXIES"),
            cors_origins=_list("BOARD3_CORS_ORIGINS"),
            keepalive_timeout=_int("BOARD3_KEEPALIVE_TIMEOUT", 75, minimum=1),
            public_url=_public_url("BOARD3_PUBLIC_URL"),
        ),
        database=DatabaseSettings(
            url=database_url,
            sqlite_path=data_dir / "board3.sqlite3",
            pool_min=_int("BOARD3_DB_POOL_MIN", 1, minimum=1),
            pool_max=_int("BOARD3_DB_POOL_MAX", 10, minimum=1),
            durable_locks=_bool("BOARD3_DURABLE_LOCKS", False),
        ),
        redis=RedisSettings(url=redis_url, prefix=_env("BOARD3_REDIS_PREFIX", "board3") or "board3"),
        security=SecuritySettings(
            jwt_secret=_env("BOARD3_JWT_SECRET"),
            access_token_ttl=_int("BOARD3_ACCESS_TOKEN_TTL", 900, minimum=10),
            refresh_token_ttl=_int("BOARD3_REFRESH_TOKEN_TTL", 30 * 24 * 3600, minimum=60),
            password_min_length=_int("BOARD3_PASSWORD_MIN_LENGTH", 10, minimum=8),
            rate_limit_auth_per_minute=_int("BOARD3_RATE_LIMIT_AUTH", 20, minimum=1),
            rate_limit_auth_address_per_minute=_int("BOARD3_RATE_LIMIT_AUTH_ADDRESS", 120, minimum=1),
            rate_limit_auth_account_per_minute=_int("BOARD3_RATE_LIMIT_AUTH_ACCOUNT", 100, minimum=1),
            rate_limit_api_per_minute=_int("BOARD3_RATE_LIMIT_API", 600, minimum=1),
            encryption_keys=_env("BOARD3_ENCRYPTION_KEYS"),
        ),
        terraform=TerraformSettings(binary=_env("TERRAFORM_BIN", "terraform") or "terraform"),
        worker=WorkerSettings(
            in_process=_bool("BOARD3_WORKERS_IN_PROCESS", redis_url is None),
            concurrency=_int("BOARD3_WORKER_CONCURRENCY", 2, minimum=1),
            lease_seconds=_int("BOARD3_WORKER_LEASE_SECONDS", 30, minimum=2),
            run_timeout=_int("BOARD3_RUN_TIMEOUT", 3600, minimum=10),
            cancel_cool_off=_int("BOARD3_CANCEL_COOL_OFF", 10, minimum=0),
            work_dir=Path(w).expanduser().resolve() if (w := _env("BOARD3_WORK_DIR")) else None,
            internal_url=_public_url("BOARD3_INTERNAL_URL"),
            drift_min_interval=_int("BOARD3_DRIFT_MIN_INTERVAL", 300, minimum=1),
            drift_max_jitter=_int("BOARD3_DRIFT_MAX_JITTER", 900, minimum=0),
        ),
        limits=LimitSettings(
            max_nodes=_int("BOARD3_MAX_NODES", 20_000, minimum=1),
            max_edges=_int("BOARD3_MAX_EDGES", 60_000, minimum=1),
            max_state_bytes=max_state_bytes,
            max_inflight_body_bytes=max_inflight,
        ),
        sandbox_enabled=_bool("BOARD3_SANDBOX", not production),
        seed_on_start=_bool("BOARD3_SEED_ON_START", True),
        notify=_notify_settings(data_dir),
    )


def _smtp_url(name: str) -> str | None:
    raw = _env(name)
    if raw is not None and not re.match(r"^(smtp|smtp\+starttls|smtps)://[^/?#]+$", raw):
        raise ConfigError(f"{name} must be smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]")
    return raw


def _notify_settings(data_dir: Path) -> NotifySettings:
    outbox = _env("BOARD3_MAIL_OUTBOX")
    return NotifySettings(
        webhook_allow_private=_bool("BOARD3_WEBHOOK_ALLOW_PRIVATE", False),
        webhook_timeout=_int("BOARD3_WEBHOOK_TIMEOUT", 10, minimum=1),
        webhook_retry_base=_int("BOARD3_WEBHOOK_RETRY_BASE", 30, minimum=1),
        webhook_retry_window=_int("BOARD3_WEBHOOK_RETRY_WINDOW", 24 * 3600, minimum=1),
        webhook_disable_after=_int("BOARD3_WEBHOOK_DISABLE_AFTER", 10, minimum=1),
        webhook_concurrency=_int("BOARD3_WEBHOOK_CONCURRENCY", 4, minimum=1),
        webhook_secret_grace=_int("BOARD3_WEBHOOK_SECRET_GRACE", 24 * 3600, minimum=0),
        invitation_ttl=_int("BOARD3_INVITATION_TTL", 7 * 24 * 3600, minimum=60),
        smtp_url=_smtp_url("BOARD3_SMTP_URL"),
        mail_from=_env("BOARD3_MAIL_FROM", "Board3 <board3@localhost>") or "Board3 <board3@localhost>",
        outbox_dir=Path(outbox).expanduser().resolve() if outbox else data_dir / "outbox",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests that change the environment call this)."""
    get_settings.cache_clear()
