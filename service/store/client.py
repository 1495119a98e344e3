"""Build the Redis client for the configured topology: embedded, standalone, Sentinel, Cluster."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff

from service.settings import Settings

log = logging.getLogger("service.store")

AnyRedis = Redis | RedisCluster


def make_client(settings: Settings) -> AnyRedis:
    """Return an async client; responses stay bytes so msgspec decodes them directly."""
    # One quick retry hides a dropped pooled connection; more would stall heartbeats that
    # should get a fast 503 while Redis is down.
    common: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        "health_check_interval": 30,
    }
    if settings.redis_mode == "sentinel":
        # The URL, when given, only contributes its scheme (rediss = TLS), user and db:
        # the master's address comes from the sentinels.
        if settings.redis_url:
            url = parse_url(settings.redis_url)
            if "db" in url:
                common["db"] = url["db"]
            if "username" in url:
                common["username"] = url["username"]
            if url.get("connection_class") is SSLConnection:
                common["ssl"] = True
        sentinel = Sentinel(  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis-py 8.2
            list(settings.redis_sentinels),
            sentinel_kwargs={
                "password": settings.redis_sentinel_password,
                "socket_timeout": settings.redis_timeout,
            },
            password=settings.redis_password,
            **common,
        )
        # Sentinel's pool does not block: it fails beyond max_connections. The store's gate
        # (gate.py) keeps the calls in flight within the pool size, so this is never hit.
        master: Redis = sentinel.master_for(
            settings.redis_sentinel_master, max_connections=settings.redis_pool_size
        )
        return master
    if settings.redis_url is None:
        return _embedded()
    if settings.redis_mode == "cluster":
        common.pop("health_check_interval")
        # A master failover makes the client reload its slot map, and while it does it
        # closes connections other calls are using: a few quick retries ride that out.
        # The store's deadline (gate.py) still bounds the whole call.
        common["retry"] = Retry(ExponentialBackoff(cap=0.1, base=0.02), 3)
        # Per node, like Sentinel's pool: bounded, and kept within bounds by the store's gate.
        return RedisCluster.from_url(
            settings.redis_url,
            password=settings.redis_password,
            max_connections=settings.redis_pool_size,
            **common,
        )
    # A blocking pool: at most REGISTRY_REDIS_POOL_SIZE connections, and a call that finds
    # none free waits at most REGISTRY_REDIS_TIMEOUT, then fails (503), instead of opening
    # connection after connection ("Too many connections") while Redis is slow or paused.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        password=settings.redis_password,
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_timeout,
        **common,
    )
    client: Redis = Redis.from_pool(pool)  # owns the pool: closing the client closes it
    return client


class EmbeddedStoreMissing(RuntimeError):
    """No Redis is configured and fakeredis (the ``embedded`` extra) is not installed."""


def _embedded() -> Redis:
    # Imported lazily: production replicas never load fakeredis, and never install it (it
    # is the "embedded" extra, which `make run` installs).
    try:
        import fakeredis
    except ImportError:
        raise EmbeddedStoreMissing(
            "REGISTRY_REDIS_URL is not set and the embedded store is not installed: set "
            "REGISTRY_REDIS_URL, or pip install 'agent-registry[embedded]' for a local replica"
        ) from None

    log.warning(
        "REGISTRY_REDIS_URL is not set: using the embedded in-process store "
        "(single replica only, all state is lost on exit)"
    )
    client: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(version=(7, 0)))
    return client
