"""An agent's own calls: ``POST /heartbeat`` (register + full heartbeat), ``HEAD
/heartbeat/{agent_id}``. Graceful deregistration is ``DELETE /agents/{agent_id}``, under the
same agent guard."""

from __future__ import annotations

import time
from typing import Any

from litestar import MediaType, Request, Response, head, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from service.errors import InvalidInput, RegistryError, StoreUnavailable
from service.models import HeartbeatRequest, HeartbeatResponse
from service.registry import heartbeat

from .params import AgentIdHeadPath
from .wiring import JsonBody, Reg, identity_of, problems

_HEAD_STATUS = {
    heartbeat.Touch.OK: 200,
    heartbeat.Touch.CHANGED: 202,
    heartbeat.Touch.GONE: 410,
    heartbeat.Touch.FORBIDDEN: 403,
}
# HEAD answers have no body. As text, ``None`` renders as b"" and Content-Length is 0; as JSON
# it would be ``null`` and announce 4 bytes that never come, which stalls strict clients (wrk).
_NO_BODY = MediaType.TEXT


class HeartbeatBody(JsonBody[HeartbeatRequest]):
    """The MCP Mesh heartbeat body; a body that fails to decode counts as ``invalid``."""

    def decode_bytes(self, value: bytes) -> Any:
        """Decode, counting failures on the heartbeat metrics."""
        try:
            decoded = super().decode_bytes(value)
        except InvalidInput:
            heartbeat.count("post", "invalid")
            raise
        heartbeat.note_unknown_fields(value)
        return decoded


@post(
    "/heartbeat",
    status_code=200,
    dto=HeartbeatBody,
    return_dto=None,
    summary="Register or send a full heartbeat (MCP Mesh)",
    responses=problems(400, 401, 403, 413, 422, 503),
)
async def post_heartbeat(
    data: JSONBody[HeartbeatRequest], reg: Reg, request: Request[Any, Any, Any]
) -> HeartbeatResponse:
    """Validate, store in one round trip, resolve dependencies, answer MCP Mesh-shaped."""
    started = time.perf_counter()
    try:
        body = await heartbeat.register(reg, data, identity_of(request))
    except RegistryError as exc:
        heartbeat.count("post", heartbeat.result_label(exc))
        raise
    heartbeat.count("post", "ok", started)
    return body


def _no_body(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=None, description=description)


@head(
    "/heartbeat/{agent_id:str}",
    summary="Cheap heartbeat: 200 ok, 202 re-POST, 410 gone, 503 back off",
    media_type=_NO_BODY,
    responses={
        202: _no_body("Something this agent depends on changed: send a full POST"),
        400: _no_body("Not a valid agent id"),
        401: _no_body("No credentials (REGISTRY_AUTH is on)"),
        403: _no_body("This identity may not speak for this agent id"),
        410: _no_body("Unknown or expired agent: register again (POST)"),
        503: _no_body("The store is unavailable: back off and retry (never re-register)"),
    },
)
async def head_heartbeat(
    agent_id: AgentIdHeadPath, reg: Reg, request: Request[Any, Any, Any]
) -> Response[None]:
    """Refresh the TTL. A store failure is 503, never 410: 410 makes agents re-register."""
    if not heartbeat.AGENT_ID.match(agent_id):
        heartbeat.count("head", "invalid")
        return Response(None, status_code=400, media_type=_NO_BODY)
    try:
        result = await heartbeat.touch(reg, agent_id, identity_of(request))
    except StoreUnavailable:
        return Response(None, status_code=503, headers={"Retry-After": "1"}, media_type=_NO_BODY)
    return Response(None, status_code=_HEAD_STATUS[result], media_type=_NO_BODY)
