"""The dashboard's pages: read-only, server-rendered, each with a live part (``live.js``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from service.errors import NotFound
from service.models import EventsPage
from service.registry.follow import ReadPage, sse
from service.ui import queries
from service.ui.queries import RegistryMetrics, StatusFilter
from service.ui.render import Rate, page

EVENTS_SHOWN = 200
EVENTS_SINCE = timedelta(hours=1)
_STATIC = {"live.js": "text/javascript", "ui.css": "text/css"}
_STATUS: dict[str, StatusFilter] = {
    "healthy": "healthy",
    "degraded": "degraded",
    "suspect": "suspect",
    "expired": "expired",
}
_rate = Rate()  # per replica process: the sparkline shows this replica's heartbeats


def _heartbeats(figures: RegistryMetrics) -> float:
    return float(sum(figures.replica.heartbeats.values()))


class DashboardController(Controller):
    """``/ui``: fleet overview, agents, one agent, capabilities, drift, config, events."""

    path = "/ui"
    include_in_schema = False

    @get("/")
    async def overview(self, state: State, fragment: FromQuery[bool] = False) -> Response[str]:
        """Counts by status and namespace, and a heartbeats-per-second sparkline."""
        figures = await queries.figures(state)
        _rate.sample(_heartbeats(figures))
        return page(
            "overview.html",
            title="overview",
            here="/ui",
            fragment=fragment,
            agents=figures.agents,
            agents_protection=figures.protection,
            rate=_rate,
        )

    @get("/agents")
    async def agents(
        self,
        state: State,
        status: FromQuery[str | None] = None,
        capability: FromQuery[str | None] = None,
        namespace: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        fragment: FromQuery[bool] = False,
    ) -> Response[str]:
        """The agents table with the API's filters and its cursor pagination."""
        q = {
            "status": status or None,
            "capability": capability or None,
            "namespace": namespace or None,
            "tag": tag or None,
            "version": version or None,
        }
        result = await queries.agents(
            state,
            capability=q["capability"],
            tags=tuple(t for t in (q["tag"] or "").split(",") if t),
            status=_STATUS.get(q["status"] or ""),
            namespace=q["namespace"],
            version=q["version"],
            cursor=cursor or None,
        )
        next_url = None
        if result.next_cursor:
            next_url = "/ui/agents?" + urlencode(
                {**{k: v for k, v in q.items() if v}, "cursor": result.next_cursor}
            )
        return page(
            "agents.html",
            title="agents",
            here="/ui/agents",
            fragment=fragment,
            page=result,
            q=q,
            next_url=next_url,
        )

    @get("/agents/{agent_id:str}")
    async def agent(
        self, state: State, agent_id: FromPath[str], fragment: FromQuery[bool] = False
    ) -> Response[str]:
        """Tools, dependencies and their wiring, health, versions and the event timeline."""
        detail = await queries.agent(state, agent_id)
        read = queries.events_reader(state, agent_id=agent_id, namespace=detail.view.namespace)
        timeline = (await read(None)).events[-EVENTS_SHOWN:]
        return page(
            "agent.html",
            title=agent_id,
            here="/ui/agents",
            fragment=fragment,
            d=detail,
            timeline=timeline,
        )

    @get("/capabilities")
    async def capabilities(
        self, state: State, namespace: FromQuery[str] = "default", fragment: FromQuery[bool] = False
    ) -> Response[str]:
        """Capabilities with live providers in one namespace."""
        names = await queries.namespaces(state)
        return page(
            "capabilities.html",
            title="capabilities",
            here="/ui/capabilities",
            fragment=fragment,
            caps=await queries.capabilities(state, namespace),
            namespace=namespace,
            namespaces=sorted(set(names) | {namespace}),
        )

    @get("/capabilities/{name:str}")
    async def providers(
        self,
        state: State,
        name: FromPath[str],
        namespace: FromQuery[str] = "default",
        version: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        fragment: FromQuery[bool] = False,
    ) -> Response[str]:
        """The live providers of one capability."""
        tags = tuple(t for t in (tag or "").split(",") if t)
        result = await queries.providers(state, name, namespace, version or None, tags)
        return page(
            "providers.html",
            title=name,
            here="/ui/capabilities",
            fragment=fragment,
            page=result,
            namespace=namespace,
            version=version,
            tag=tag,
        )

    @get("/drift")
    async def drift(self, state: State, fragment: FromQuery[bool] = False) -> Response[str]:
        """Per profile: agents on the active config, on others, unknown; convergence."""
        return page(
            "drift.html",
            title="drift",
            here="/ui/drift",
            fragment=fragment,
            report=await queries.drift(state),
        )

    @get("/config")
    async def config(self, state: State, fragment: FromQuery[bool] = False) -> Response[str]:
        """The rollout (state, step, cohorts), published versions, live claims and the
        activation history."""
        return page(
            "config.html",
            title="config",
            here="/ui/config",
            fragment=fragment,
            refresh=5000,
            versions=await queries.config_versions(state),
            rollout=await queries.config_rollout(state),
        )

    @get("/events")
    async def events(
        self,
        state: State,
        type_: Annotated[str | None, QueryParameter(name="type")] = None,
        agent_id: FromQuery[str | None] = None,
        namespace: FromQuery[str | None] = None,
    ) -> Response[str]:
        """The last hour's events, then new ones as they happen (Server-Sent Events)."""
        q = {"type": type_ or None, "agent_id": agent_id or None, "namespace": namespace or None}
        since = (datetime.now(UTC) - EVENTS_SINCE).isoformat()
        read = _reader(state, q, since)
        shown = []
        cursor = None
        while True:  # the last hour, page by page (the stream is capped)
            result = await read(cursor)
            shown.extend(result.events)
            if not result.events or not result.next_cursor:
                break
            cursor = result.next_cursor
        stream = "/ui/events/stream?" + urlencode(
            {**{k: v for k, v in q.items() if v}, **({"cursor": cursor} if cursor else {})}
        )
        last = EventsPage(events=shown[-EVENTS_SHOWN:], count=len(shown), next_cursor=cursor)
        return page(
            "events.html",
            title="events",
            here="/ui/events",
            fragment=False,
            refresh=None,
            page=last,
            q=q,
            stream_url=stream,
        )

    @get("/events/stream")
    async def event_stream(
        self,
        request: Request[Any, Any, Any],
        state: State,
        type_: Annotated[str | None, QueryParameter(name="type")] = None,
        agent_id: FromQuery[str | None] = None,
        namespace: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Stream:
        """Server-Sent Events after ``cursor`` (or ``Last-Event-ID`` on a reconnect)."""
        q = {"type": type_ or None, "agent_id": agent_id or None, "namespace": namespace or None}
        read = _reader(state, q, None)
        resume = request.headers.get("last-event-id") or cursor or None
        if resume is None:
            # No cursor: start from now, not from the start of the capped history.
            since = datetime.now(UTC).isoformat()
            read = _reader(state, q, since)
        return Stream(
            sse(read, resume, queries.event_cursor),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @get("/static/{name:str}")
    async def static(self, name: FromPath[str]) -> Response[bytes]:
        """The vendored script and stylesheet (no build step, served from the package)."""
        media = _STATIC.get(name)
        if media is None:
            raise NotFound(f"no static file {name!r}", field="name")
        body = files("service.ui").joinpath("static", name).read_bytes()
        return Response(body, media_type=media, headers={"Cache-Control": "max-age=300"})


def _reader(state: State, q: dict[str, str | None], since: str | None) -> ReadPage:
    types = [t for t in (q["type"] or "").split(",") if t]
    return queries.events_reader(
        state, types=types or None, agent_id=q["agent_id"], namespace=q["namespace"], since=since
    )
