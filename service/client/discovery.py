"""Discovery reads of the agent-side client, decoded into the registry's msgspec models."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from service.models import AgentsPage, AgentView, HealthView, ProvidersPage

T = TypeVar("T")


class DiscoveryError(Exception):
    """A registry answered a discovery read with an error (``status`` and RFC 9457 ``detail``)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"registry answered {status}: {detail}")
        self.status = status
        self.detail = detail


class Discovery:
    """``agents``, ``agent``, ``health`` and ``providers``: one GET each, with failover.

    Mixed into :class:`service.client.RegistryClient`, which provides the attributes below.
    """

    urls: list[str]
    current: int
    agent_id: str
    _http: httpx.AsyncClient

    async def providers(
        self,
        capability: str,
        *,
        version: str | None = None,
        tags: list[str] | None = None,
        namespace: str = "default",
        status: str | None = None,
    ) -> ProvidersPage:
        """Live providers of ``capability`` (``GET /capabilities/{name}/providers``)."""
        params = {"version": version, "tag": tags, "namespace": namespace, "status": status}
        path = f"/capabilities/{quote(capability, safe='')}/providers"
        return await self._read(path, params, ProvidersPage)

    async def agents(
        self,
        *,
        capability: str | None = None,
        tags: list[str] | None = None,
        status: str | None = None,
        namespace: str | None = None,
        cursor: str | None = None,
    ) -> AgentsPage:
        """One page of agents (``GET /agents``); pass ``next_cursor`` back as ``cursor``."""
        params = {
            "capability": capability,
            "tag": tags,
            "status": status,
            "namespace": namespace,
            "cursor": cursor,
        }
        return await self._read("/agents", params, AgentsPage)

    async def agent(self, agent_id: str | None = None) -> AgentView:
        """One agent's record (this agent's by default)."""
        ident = quote(agent_id or self.agent_id, safe="")
        return await self._read(f"/agents/{ident}", {}, AgentView)

    async def health(self, agent_id: str | None = None) -> HealthView:
        """One agent's health timer: status, last heartbeat, TTL left (this agent's by default)."""
        ident = quote(agent_id or self.agent_id, safe="")
        return await self._read(f"/agents/{ident}/health", {}, HealthView)

    async def _read(self, path: str, params: dict[str, Any], model: type[T]) -> T:
        """GET ``path`` from the current registry, then the others on a transport error or 5xx."""
        clean = {k: v for k, v in params.items() if v is not None}
        last: Exception | None = None
        for step in range(len(self.urls)):
            url = self.urls[(self.current + step) % len(self.urls)]
            try:
                response = await self._http.get(f"{url}{path}", params=clean)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if response.status_code >= 500:
                last = DiscoveryError(response.status_code, _detail(response))
                continue
            if response.status_code >= 400:
                raise DiscoveryError(response.status_code, _detail(response))
            return msgspec.json.decode(response.content, type=model)
        assert last is not None
        raise last


class _Problem(msgspec.Struct):
    detail: str = ""
    title: str = ""


def _detail(response: httpx.Response) -> str:
    try:
        problem = msgspec.json.decode(response.content, type=_Problem)
    except msgspec.DecodeError:
        return response.reason_phrase
    return problem.detail or problem.title or response.reason_phrase
