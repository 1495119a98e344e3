"""The registry's MCP server: the SDK's low-level server over stateless Streamable HTTP.

The low-level ``Server`` is used rather than ``MCPServer`` (FastMCP's successor) because the
latter derives schemas from pydantic signatures; here every schema comes from the msgspec
Structs the HTTP API already validates with, so the two interfaces cannot drift apart.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import msgspec
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
)

from service import __version__
from service.errors import InvalidInput, RegistryError, StoreUnavailable
from service.metrics import STORE_ERRORS
from service.registry.decoding import MalformedBody, decode_json
from service.registry.figures import PrometheusText
from service.registry.heartbeat import count, result_label

from .endpoint import McpEndpoint
from .tools import TOOLS, ToolSpec

log = logging.getLogger("service.mcp")

CONFIG_ACTIVE = "registry://config/active"
CONFIG_CAPABILITIES = "registry://config/capabilities"
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]+)`")
_json = msgspec.json.Encoder()
_INSTRUCTIONS = (
    "Agent registry: find agents and the providers of a capability, check an agent's health, "
    "read registry metrics, the active configuration bundle and its rollout. Admin tools "
    "(capability injection, rollout control) need 'Authorization: Bearer <admin token>' on "
    "the HTTP request."
)


class RegistryMcpServer:
    """The SDK's low-level server with the registry's tools and resources, stateless HTTP."""

    def __init__(self, endpoint: McpEndpoint) -> None:
        self.endpoint = endpoint
        if endpoint.settings.log_level.upper() != "DEBUG":
            # The SDK logs every stateless request ("Terminating session") at INFO.
            logging.getLogger("mcp").setLevel(logging.WARNING)
        self._tools = {t.name: t for t in TOOLS}
        self._decoders = {t.name: msgspec.json.Decoder(t.args) for t in TOOLS}
        self._listed = ListToolsResult(tools=[_describe(t) for t in TOOLS])
        self.server: Server[Any] = Server(
            "agent-registry",
            version=__version__,
            instructions=_INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_read_resource=self._read_resource,
        )
        # Stateless: each POST carries everything it needs, so any replica can answer it.
        # JSON responses (no SSE) suit that: nothing is left open between requests.
        self.sessions = StreamableHTTPSessionManager(
            app=self.server,
            stateless=True,
            json_response=True,
            max_request_body_size=endpoint.settings.max_body_bytes,
        )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return self._listed

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult:
        spec = self._tools.get(params.name)
        if spec is None:
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}", {"field": "name"})
        # Heartbeats through MCP count on the same metrics as HTTP ones, as kind "mcp".
        heartbeat, started = spec.name == "agent_heartbeat", time.perf_counter()
        reg = self.endpoint.registry
        try:
            # The same scopes as the HTTP route groups, checked before the arguments (so a
            # caller without the right credentials learns nothing about them).
            identity = reg.access.identify(*_credentials(ctx))
            reg.access.require(identity, *_SCOPES[spec.scope])
            args = self._decode(spec, params.arguments or {})
            result = await self.endpoint.bounded(spec.call(reg, args, identity))
        except RegistryError as exc:
            if isinstance(exc, StoreUnavailable):
                STORE_ERRORS.inc()
            if heartbeat:
                count("mcp", result_label(exc))
            return _failure(exc)
        except Exception:
            # A bug must still answer the call: the client gets a tool error, the log the trace.
            log.exception("MCP tool %s failed", spec.name)
            return _failure(RegistryError(f"{spec.name} failed unexpectedly; see the registry log"))
        if heartbeat:
            count("mcp", "ok", started)
        text = result.text if isinstance(result, PrometheusText) else _json.encode(result).decode()
        return CallToolResult(
            content=[TextContent(text=text)], structured_content=msgspec.to_builtins(result)
        )

    def _decode(self, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
        # Through the HTTP edge's own decoder, so errors name fields exactly as 422s do.
        try:
            try:
                raw = _json.encode(arguments)
            except RecursionError:
                raise MalformedBody("arguments: nested too deeply", field="body") from None
            return decode_json(raw, self._decoders[spec.name])
        except InvalidInput as exc:
            unknown = _UNKNOWN_FIELD.search(exc.detail)
            if unknown:
                name = unknown.group("name")
                raise InvalidInput(f"{name}: not an argument of {spec.name}", field=name) from None
            if exc.field == "body":
                raise InvalidInput(
                    exc.detail.replace("body", "arguments"), field="arguments"
                ) from None
            raise

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        return ListResourcesResult(
            resources=[
                Resource(
                    uri=CONFIG_ACTIVE,
                    name="active-config",
                    description="Manifest of the configuration bundle this replica serves.",
                    mime_type="application/json",
                ),
                Resource(
                    uri=CONFIG_CAPABILITIES,
                    name="capability-catalog",
                    description="The capability catalog built with the active bundle.",
                    mime_type="application/json",
                ),
            ]
        )

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        uri = str(params.uri)
        if uri not in (CONFIG_ACTIVE, CONFIG_CAPABILITIES):
            raise MCPError(INVALID_PARAMS, f"unknown resource {uri!r}", {"uri": uri})
        bundle = self.endpoint.registry.bundle
        if bundle is None:
            raise MCPError(
                INVALID_PARAMS,
                "no configuration bundle is loaded (REGISTRY_BUNDLE_DIR is unset)",
                {"uri": uri, "field": "REGISTRY_BUNDLE_DIR"},
            )
        body = bundle.manifest if uri == CONFIG_ACTIVE else bundle.catalog
        return ReadResourceResult(
            contents=[
                TextResourceContents(
                    uri=uri, text=_json.encode(body).decode(), mime_type="application/json"
                )
            ]
        )


_SCOPES = {"admin": ("admin",), "agent": ("agent",), "read": ("read", "agent", "admin")}


def _credentials(
    ctx: ServerRequestContext[Any],
) -> tuple[str | None, Mapping[str, str], Mapping[str, Any]]:
    """The ``Authorization`` header, the headers and the ASGI scope (TLS peer, client
    address) of the HTTP request that carried this call.

    The Streamable HTTP transport puts its Starlette ``Request`` on ``ctx.request``.
    """
    headers: Mapping[str, str] = getattr(ctx.request, "headers", None) or {}
    scope: Mapping[str, Any] = getattr(ctx.request, "scope", None) or {}
    value = headers.get("authorization")
    return (value if isinstance(value, str) else None), headers, scope


def _describe(spec: ToolSpec) -> Tool:
    return Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=ToolAnnotations(
            read_only_hint=spec.read_only,
            idempotent_hint=spec.idempotent,
            open_world_hint=False,
        ),
    )


def _failure(exc: RegistryError) -> CallToolResult:
    """A tool error (``isError``) an LLM can act on: what failed, which field, what to do."""
    text = f"{exc.title}: {exc.detail}"
    if exc.field:
        text += f" (field: {exc.field})"
    if isinstance(exc, StoreUnavailable):
        text = f"The registry is unavailable; retry after a short back-off. {text}"
    problem: dict[str, Any] = {"title": exc.title, "status": exc.status_code, "detail": exc.detail}
    if exc.field:
        problem["field"] = exc.field
    return CallToolResult(
        content=[TextContent(text=text)], structured_content=problem, is_error=True
    )
