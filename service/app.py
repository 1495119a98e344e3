"""The Litestar application factory: the composition root of one replica."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar, Router
from litestar.exceptions import ValidationException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins import PluginProtocol
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ControllerRouterHandler, Guard

from service import __version__
from service.api import admin, agents, capabilities, config, drift, events, health, heartbeat
from service.api import metrics as metrics_api
from service.api.allow import AllowHeader
from service.api.body_timeout import body_timeout
from service.api.fast_304 import fast_not_modified
from service.api.fast_head import fast_head
from service.api.fast_post import fast_post
from service.api.problems import internal_error, parameter_error, registry_error
from service.api.wiring import (
    DEPENDENCIES,
    ExactBodiesConfig,
    admin_guard,
    agent_guard,
    read_guard,
)
from service.bundle import load_bundle
from service.errors import RegistryError, Unauthorized
from service.mcp import McpEndpoint
from service.registry.lifecycle import running
from service.settings import Settings
from service.store.store import Store
from service.ui import DashboardController
from service.ui.session import LoginController, to_login, ui_guard

log = logging.getLogger("service")

OPENAPI = ExactBodiesConfig(
    title="Agent registry",
    version=__version__,
    description=(
        "Stateless, Redis-backed agent registry, wire-compatible with MCP Mesh. Every 4xx and"
        " 5xx body is RFC 9457 application/problem+json; `field` names the offending input."
    ),
    path="/schema",
    render_plugins=[SwaggerRenderPlugin()],
)


class Replica(Litestar):
    """Litestar with only the msgspec plugin by default.

    Litestar adds its pydantic and attrs plugins whenever those packages are importable
    (the MCP SDK brings pydantic), and importing them was a third of a cold start. Every
    model here is a msgspec Struct, and the MCP endpoint validates its own pydantic models.
    """

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        from litestar.plugins.core import MsgspecDIPlugin

        return [*plugins, MsgspecDIPlugin()]


def create_app(settings: Settings, *, store: Store | None = None) -> Litestar:
    """Build a replica from explicit ``settings``; ``store`` defaults to their Redis."""
    _configure_logging(settings.log_level)
    # Verified before the server starts: a tampered or incomplete bundle stops the replica.
    bundle = load_bundle(settings.bundle_dir) if settings.bundle_dir else None
    if bundle is not None:
        log.info("serving config bundle %s (%s)", bundle.version, bundle.environment)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, bundle, store) as reg:
            app.state.registry = reg
            yield

    mcp = McpEndpoint(settings)  # tools and config resources at /mcp
    prometheus = PrometheusConfig(
        app_name="agent_registry",
        prefix="litestar",
        group_path=True,
        # Heartbeats have their own metrics; excluding them keeps the hot path lean.
        exclude=["/heartbeat", "/metrics"],
    )
    open_groups = settings.auth.open_endpoints
    app = Replica(
        route_handlers=[
            # One guard per route group: who may call is declared here, once.
            Router(
                "/",
                guards=[agent_guard],
                route_handlers=[
                    heartbeat.post_heartbeat,
                    heartbeat.head_heartbeat,
                ],
            ),
            Router(
                "/",
                guards=[read_guard],
                route_handlers=[
                    agents.AgentsController,
                    capabilities.CapabilitiesController,
                    events.list_events,
                    metrics_api.registry_metrics,
                    config.ConfigController,
                    drift.drift,
                ],
            ),
            # The dashboard: the read scope, from a header, a certificate or its sign-in cookie;
            # a page refused for want of credentials sends the person to the sign-in form.
            Router(
                "/",
                guards=[ui_guard],
                route_handlers=[DashboardController],
                exception_handlers={Unauthorized: to_login},
            ),
            Router("/", route_handlers=[LoginController]),
            Router(
                "/",
                guards=[admin_guard],
                route_handlers=[
                    admin.AdminController,
                    admin.RolloutController,
                    admin.OwnershipController,
                ],
            ),
            _group([health.health, health.live, health.ready], "health" in open_groups),
            _group([metrics_api.MetricsController], "metrics" in open_groups),
            mcp.route(),  # each tool checks the same scopes itself
        ],
        dependencies=DEPENDENCIES,
        lifespan=[lifespan, mcp.lifespan],
        middleware=[AllowHeader, body_timeout(settings.body_read_timeout), prometheus.middleware],
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        exception_handlers={
            RegistryError: registry_error,
            ValidationException: parameter_error,
            HTTP_500_INTERNAL_SERVER_ERROR: internal_error,
        },
        openapi_config=OPENAPI,
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    # Heartbeats (HEAD and POST) and discovery revalidations (304s) skip the router, with
    # the same guards, answers and metrics (see fast_head, fast_post and fast_304).
    routed = fast_not_modified(app.asgi_handler, prometheus)
    app.asgi_handler = fast_head(fast_post(routed, settings))
    return app


def _group(handlers: list[ControllerRouterHandler], is_open: bool) -> Router:
    """Probes and metrics: open, or for ``read`` callers (``REGISTRY_OPEN_ENDPOINTS``)."""
    guards: list[Guard] = [] if is_open else [read_guard]
    return Router("/", guards=guards, route_handlers=handlers)


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


__all__ = ["create_app", "create_app_from_env"]
