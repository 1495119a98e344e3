"""Runtime settings, read once from ``REGISTRY_*`` environment variables and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from service.auth_config import AuthConfig
from service.domain.thresholds import RULE, threshold_problems
from service.domain.thresholds import Thresholds as Thresholds  # re-exported
from service.envreader import EnvReader, SettingsError

__all__ = ["Protection", "RedisMode", "Settings", "SettingsError", "Thresholds"]

RedisMode = Literal["standalone", "sentinel", "cluster"]
_REDIS_MODES: tuple[str, ...] = ("standalone", "sentinel", "cluster")
_LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a replica needs to start. Build with :meth:`from_env` or directly in tests."""

    redis_url: str | None = None
    redis_mode: RedisMode = "standalone"
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_password: str | None = None
    redis_sentinel_password: str | None = None
    redis_timeout: float = 1.0
    redis_pool_size: int = 64
    redis_queue: int = 64
    key_prefix: str = "reg"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    keepalive_timeout: float = 75.0
    body_read_timeout: float = 10.0
    max_connections: int = 1024
    max_wait: float = 60.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    bundle_dir: Path | None = None
    deploy_revision: int = 0
    log_level: str = "info"
    max_body_bytes: int = 1_048_576
    page_size: int = 100
    max_page_size: int = 1000
    events_maxlen: int = 10_000
    sweep_interval: float = 1.0
    # The admin token shorthand (REGISTRY_ADMIN_TOKEN, a mounted Secret): hashed when the
    # authenticator is built, never logged, never shown in a repr.
    admin_token: str | None = field(default=None, repr=False)
    auth: AuthConfig = field(default_factory=AuthConfig)
    config_refresh: float = 1.0
    config_claim_ttl: float = 5.0
    drift_interval: float = 15.0
    drift_after_intervals: float = 3.0
    # Mass-expiry protection (sweep.lua): Eureka's self-preservation starts when renewals
    # fall below 85 % of the expected; the same 15 % here, as the share of a namespace's
    # agents missing heartbeats (degraded, or expired within one heartbeat interval) when
    # one expires. Nacos's protectThreshold guards the same way from the reader's side.
    # Small namespaces are exempt from the share rule (1 of 3 is not a mass expiry).
    # ``protect_window`` None: one default ``expire_after``.
    protect_share: float = 0.15
    protect_min_agents: int = 10
    protect_window: float | None = None

    @property
    def protection(self) -> Protection:
        """The mass-expiry protection policy the sweeper applies."""
        window = (
            self.thresholds.expire_after if self.protect_window is None else self.protect_window
        )
        return Protection(
            share=self.protect_share,
            min_agents=self.protect_min_agents,
            window_ms=int(window * 1000),
            sweep_window_ms=int(
                max(self.thresholds.heartbeat_interval, self.sweep_interval) * 1000
            ),
        )

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured and the in-process store is used."""
        return self.redis_url is None and self.redis_mode != "sentinel"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; raise :class:`SettingsError` naming the bad variable."""
        e = EnvReader(os.environ if env is None else env)
        mode = e.choice("REGISTRY_REDIS_MODE", _REDIS_MODES, _D.redis_mode)
        sentinels = e.hostports("REGISTRY_REDIS_SENTINELS")
        if mode == "sentinel" and not sentinels:
            raise SettingsError(
                "REGISTRY_REDIS_SENTINELS is required when REGISTRY_REDIS_MODE=sentinel"
            )
        url = e.text("REGISTRY_REDIS_URL")
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REGISTRY_REDIS_URL must start with redis://, rediss:// or unix://")
        if mode == "cluster" and url is None:
            raise SettingsError("REGISTRY_REDIS_URL is required when REGISTRY_REDIS_MODE=cluster")
        thresholds = _thresholds(e)
        host = e.text("REGISTRY_HOST") or _D.host
        admin = e.secret("REGISTRY_ADMIN_TOKEN")
        bundle = e.text("REGISTRY_BUNDLE_DIR")
        max_page = e.integer("REGISTRY_MAX_PAGE_SIZE", _D.max_page_size, minimum=1)
        page = e.integer("REGISTRY_PAGE_SIZE", _D.page_size, minimum=1)
        if page > max_page:
            raise SettingsError("REGISTRY_PAGE_SIZE must not exceed REGISTRY_MAX_PAGE_SIZE")
        prefix = e.text("REGISTRY_KEY_PREFIX") or _D.key_prefix
        if not prefix.replace("-", "").replace("_", "").isalnum():
            raise SettingsError("REGISTRY_KEY_PREFIX must be letters, digits, '-' or '_'")
        refresh = e.number("REGISTRY_CONFIG_REFRESH", _D.config_refresh, minimum=0.05)
        claim_ttl = e.number("REGISTRY_CONFIG_CLAIM_TTL", _D.config_claim_ttl, minimum=0.1)
        if claim_ttl <= 2 * refresh:
            # A claim must survive a missed refresh, or the active bundle would flap.
            raise SettingsError(
                "REGISTRY_CONFIG_CLAIM_TTL must be more than twice REGISTRY_CONFIG_REFRESH"
            )
        return cls(
            redis_url=url,
            redis_mode=mode,  # type: ignore[arg-type]
            redis_sentinels=sentinels,
            redis_sentinel_master=e.text("REGISTRY_REDIS_SENTINEL_MASTER")
            or _D.redis_sentinel_master,
            redis_password=e.secret("REGISTRY_REDIS_PASSWORD"),
            redis_sentinel_password=e.secret("REGISTRY_REDIS_SENTINEL_PASSWORD"),
            redis_timeout=e.number("REGISTRY_REDIS_TIMEOUT", _D.redis_timeout, minimum=0.01),
            redis_pool_size=e.integer(
                "REGISTRY_REDIS_POOL_SIZE", _D.redis_pool_size, minimum=1, maximum=10_000
            ),
            redis_queue=e.integer(
                "REGISTRY_REDIS_QUEUE", _D.redis_queue, minimum=0, maximum=100_000
            ),
            key_prefix=prefix,
            host=host,
            port=e.integer("REGISTRY_PORT", _D.port, minimum=0, maximum=65535),
            workers=e.integer("REGISTRY_WORKERS", _D.workers, minimum=1, maximum=256),
            keepalive_timeout=e.number(
                "REGISTRY_KEEPALIVE_TIMEOUT", _D.keepalive_timeout, minimum=1
            ),
            body_read_timeout=e.number(
                "REGISTRY_BODY_READ_TIMEOUT", _D.body_read_timeout, minimum=0.1
            ),
            max_wait=e.number("REGISTRY_MAX_WAIT", _D.max_wait, minimum=0),
            max_connections=e.integer(
                "REGISTRY_MAX_CONNECTIONS", _D.max_connections, minimum=1, maximum=1_000_000
            ),
            thresholds=thresholds,
            bundle_dir=Path(bundle) if bundle else None,
            deploy_revision=e.integer("REGISTRY_DEPLOY_REVISION", _D.deploy_revision, minimum=0),
            log_level=e.choice("REGISTRY_LOG_LEVEL", _LOG_LEVELS, _D.log_level),
            max_body_bytes=e.integer("REGISTRY_MAX_BODY_BYTES", _D.max_body_bytes, minimum=1024),
            page_size=page,
            max_page_size=max_page,
            events_maxlen=e.integer("REGISTRY_EVENTS_MAXLEN", _D.events_maxlen, minimum=10),
            sweep_interval=e.number("REGISTRY_SWEEP_INTERVAL", _D.sweep_interval, minimum=0.05),
            admin_token=admin,
            auth=AuthConfig.from_env(
                e,
                real_store=url is not None or mode == "sentinel",
                host=host,
                admin=admin is not None,
            ),
            config_refresh=refresh,
            config_claim_ttl=claim_ttl,
            drift_interval=e.number("REGISTRY_DRIFT_INTERVAL", _D.drift_interval, minimum=0.1),
            drift_after_intervals=e.number(
                "REGISTRY_DRIFT_AFTER_INTERVALS", _D.drift_after_intervals, minimum=1
            ),
            protect_share=_share(e),
            protect_min_agents=e.integer(
                "REGISTRY_PROTECT_MIN_AGENTS", _D.protect_min_agents, minimum=1
            ),
            protect_window=(
                e.number("REGISTRY_PROTECT_WINDOW", 0.0, minimum=0)
                if e.text("REGISTRY_PROTECT_WINDOW") is not None
                else None
            ),
        )


@dataclass(frozen=True, slots=True)
class Protection:
    """Mass-expiry protection: when ``share`` of a namespace's agents (at least
    ``min_agents``) expire within ``sweep_window_ms``, or right after the sweeper lost the
    store, expiries are held for ``window_ms`` (0: never); then it cannot start again for as
    long."""

    share: float
    min_agents: int
    window_ms: int
    sweep_window_ms: int


def _share(e: EnvReader) -> float:
    share = e.number("REGISTRY_PROTECT_SHARE", _D.protect_share, minimum=0)
    if not 0 < share <= 1:
        raise SettingsError(
            f"REGISTRY_PROTECT_SHARE must be more than 0 and at most 1 (got {share})"
        )
    return share


#: The defaults, written once (the dataclass fields above): ``from_env`` reads them here.
_D = Settings()

_THRESHOLD_VARS = {
    "heartbeat_interval": "REGISTRY_HEARTBEAT_INTERVAL",
    "degraded_after": "REGISTRY_DEGRADED_AFTER",
    "expire_after": "REGISTRY_EXPIRE_AFTER",
    "retention": "REGISTRY_RETENTION",
}


def _thresholds(e: EnvReader) -> Thresholds:
    """The default thresholds; an error names every variable of each broken part of the rule."""
    defaults = _D.thresholds.to_dict()
    values = {f: e.number(var, defaults[f]) for f, var in _THRESHOLD_VARS.items()}
    problems = threshold_problems(values, _THRESHOLD_VARS)
    if problems:
        raise SettingsError(
            "; ".join(p.message for p in problems)
            + f" (the rule is {RULE.format(**_THRESHOLD_VARS)})"
        )
    return Thresholds(**values)
