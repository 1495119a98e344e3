"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from service import __version__, drift, sweeper
from service.api import admin as admin_api
from service.api import agents, capabilities, config, events, health, heartbeat, metrics
from service.api import drift as drift_api
from service.api.deps import Registry
from service.bundle import Bundle, load_bundle
from service.errors import RegistryError, StoreUnavailable
from service.fleet_config import FleetConfig
from service.mcp import McpEndpoint
from service.metrics import STORE_ERRORS
from service.profiles import Profiles
from service.settings import Settings
from service.store.config_store import ConfigStore
from service.store.store import Store
from service.ui import DashboardController

log = logging.getLogger("service")


def problem(request: Request[Any, Any, Any], exc: RegistryError) -> Response[dict[str, Any]]:
    """RFC 9457 body for our errors; ``field`` names the offending input."""
    if isinstance(exc, StoreUnavailable):
        STORE_ERRORS.inc()
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": exc.title,
        "status": exc.status_code,
        "detail": exc.detail,
        "instance": request.url.path,
    }
    if exc.field:
        body["field"] = exc.field
    headers = {"Retry-After": "1"} if isinstance(exc, StoreUnavailable) else None
    return Response(
        body, status_code=exc.status_code, media_type="application/problem+json", headers=headers
    )


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Litestar:
    """Build a replica. ``settings`` default to the environment; ``store`` to its Redis."""
    settings = settings or Settings.from_env()
    _configure_logging(settings.log_level)
    # Verified before the server starts: a tampered or incomplete bundle stops the replica.
    bundle = load_bundle(settings.bundle_dir) if settings.bundle_dir else None
    if bundle is not None:
        log.info("serving config bundle %s (%s)", bundle.version, bundle.environment)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        st = store or Store.from_settings(settings)
        reg = app.state.registry = Registry(
            settings=settings,
            store=st,
            profiles=Profiles.build(settings.thresholds, bundle),
            started=time.monotonic(),
            bundle=bundle,
        )
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sweeper.run(st, settings.sweep_interval, stop))]
        if bundle is not None:
            reg.fleet = await start_fleet(reg, bundle)
            tasks.append(asyncio.create_task(reg.fleet.run(settings.config_refresh, stop)))
            if not settings.embedded:  # one embedded replica is the only one activating
                block = settings.redis_timeout / 2
                tasks.append(asyncio.create_task(reg.fleet.watch(block, stop)))
            tasks.append(asyncio.create_task(drift.run(reg, settings.drift_interval, stop)))
        log.info("replica ready (revision %s)", settings.deploy_revision)
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, timeout=max(5.0, settings.redis_timeout * 3))
                except TimeoutError:
                    log.warning("background task did not stop in time; abandoning it")
            if store is None:
                await st.close()

    mcp = McpEndpoint(settings)  # tools and config resources at /mcp
    prometheus = PrometheusConfig(
        app_name="agent_registry",
        prefix="litestar",
        group_path=True,
        # Heartbeats have their own metrics; excluding them keeps the hot path lean.
        exclude=["/heartbeat", "/metrics"],
    )
    return Litestar(
        route_handlers=[
            heartbeat.post_heartbeat,
            heartbeat.head_heartbeat,
            agents.AgentsController,
            capabilities.CapabilitiesController,
            events.list_events,
            health.health,
            health.live,
            health.ready,
            metrics.registry_metrics,
            config.ConfigController,
            drift_api.drift_report,
            admin_api.AdminController,
            PrometheusController,
            DashboardController,
            mcp.route(),
        ],
        lifespan=[lifespan, mcp.lifespan],
        middleware=[prometheus.middleware],
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        exception_handlers={RegistryError: problem},
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )


async def start_fleet(reg: Registry, baked: Bundle) -> FleetConfig:
    """Publish the baked bundle, claim active, and serve whatever the fleet has active."""
    settings = reg.settings

    def switch(active: Bundle) -> None:
        # The epoch is the active version: touch.lua answers 202 to agents told another one.
        profiles = Profiles.build(settings.thresholds, active)
        reg.profiles = dataclasses.replace(profiles, epoch=active.version)
        reg.bundle = active

    fleet = FleetConfig(
        ConfigStore(reg.store),
        baked,
        revision=settings.deploy_revision,
        claim_ttl=settings.config_claim_ttl,
        on_change=switch,
    )
    switch(baked)
    await fleet.start()
    return fleet


def _configure_logging(level: str) -> None:
    # Only our own logger: the host application (or test runner) owns the root logger.
    logger = logging.getLogger("service")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False  # Litestar's root handler would print every line twice


def create_app_from_env() -> Litestar:
    """Factory for ASGI servers (``uvicorn --factory service.app:create_app_from_env``)."""
    return create_app(Settings.from_env())


__all__ = ["HTTPException", "__version__", "create_app", "create_app_from_env"]
