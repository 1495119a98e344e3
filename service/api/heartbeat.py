"""``POST /heartbeat`` (register + full heartbeat) and ``HEAD /heartbeat/{agent_id}``."""

from __future__ import annotations

import contextlib
import re
import time

import msgspec
from litestar import MediaType, Request, Response, head, post
from litestar.datastructures import State
from litestar.params import FromPath
from packaging.version import InvalidVersion

from service.delivery import capabilities_block, config_block
from service.domain.matching import ConstraintError, parse_constraint, parse_version, resolve
from service.errors import InvalidInput, StoreUnavailable
from service.fleet_config import FleetConfig
from service.metrics import HEARTBEAT_SECONDS, HEARTBEATS
from service.models import HeartbeatRequest, HeartbeatResponse, Lease
from service.store.records import iso
from service.store.store import Touch

from .deps import Registry, decode_json, now_ms

_decoder = msgspec.json.Decoder(HeartbeatRequest)
_encoder = msgspec.json.Encoder()
_AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEAD_STATUS = {Touch.OK: 200, Touch.CHANGED: 202, Touch.GONE: 410}
_HEAD_RESULT = {Touch.OK: "ok", Touch.CHANGED: "changed", Touch.GONE: "gone"}
_MESSAGES = {"register": "Agent registered via heartbeat"}
# HEAD answers have no body. As text, ``None`` renders as b"" and Content-Length is 0; as JSON
# it would be ``null`` and announce 4 bytes that never come, which stalls strict clients (wrk).
_NO_BODY = MediaType.TEXT


def validate_semantics(req: HeartbeatRequest) -> None:
    """Checks a schema cannot express: parseable versions and constraints."""
    for i, tool in enumerate(req.tools):
        try:
            parse_version(tool.version)
        except InvalidVersion:
            raise InvalidInput(
                f"tools[{i}].version: {tool.version!r} is not a valid version",
                field=f"tools[{i}].version",
            ) from None
        for j, dep in enumerate(tool.dependencies):
            try:
                parse_constraint(dep.version)
            except ConstraintError as exc:
                field = f"tools[{i}].dependencies[{j}].version"
                raise InvalidInput(f"{field}: {exc}", field=field) from None


async def full_heartbeat(reg: Registry, req: HeartbeatRequest) -> HeartbeatResponse:
    """Store a validated heartbeat in one round trip and build the MCP Mesh-shaped answer.

    Shared by ``POST /heartbeat`` and the MCP ``agent_heartbeat`` tool.
    """
    profile = req.profile or req.name or req.agent_id
    thresholds = reg.profiles.thresholds_for(profile)
    result = await reg.store.heartbeat(
        req,
        thresholds=thresholds,
        profile=profile,
        epoch=reg.profiles.epoch,
        now_ms=now_ms(),
    )
    body = HeartbeatResponse(
        status="success",
        message=_MESSAGES.get(result.kind, "Agent updated via heartbeat"),
        agent_id=req.agent_id,
        timestamp=iso(now_ms()),
        dependencies_resolved=resolve(req, result.candidates),
        llm_tools={},
        lease=Lease(
            ttl_ms=int(thresholds.expire_after * 1000),
            interval_ms=int(thresholds.heartbeat_interval * 1000),
        ),
    )
    if reg.fleet is None:
        return body  # no bundle: exactly the MCP Mesh shape (plus lease)
    return await _with_config(reg, reg.fleet, req, profile, result.assignment, body)


async def _with_config(
    reg: Registry,
    fleet: FleetConfig,
    req: HeartbeatRequest,
    profile: str,
    assignment: bytes | None,
    body: HeartbeatResponse,
) -> HeartbeatResponse:
    """Add the config and capability blocks (from memory; no further Redis call)."""
    caps, lost = capabilities_block(fleet.active, profile, req, assignment)
    if lost:
        # Rare by construction (Redis lost data, or the agent returns after a purge), so this
        # one extra write is acceptable.
        with contextlib.suppress(StoreUnavailable):
            await fleet.store.note_event(
                req.namespace, "assignment-lost", req.agent_id, req.capabilities_version or ""
            )
    return msgspec.structs.replace(
        body,
        config=config_block(fleet, profile, req.config_version),
        capabilities=caps if caps is not None else msgspec.UNSET,
    )


@post("/heartbeat", status_code=200, summary="Register or send a full heartbeat (MCP Mesh)")
async def post_heartbeat(request: Request[object, object, State], state: State) -> Response[bytes]:
    """Validate, store in one round trip, resolve dependencies, answer MCP Mesh-shaped."""
    started = time.perf_counter()
    try:
        req = decode_json(await request.body(), _decoder)
        validate_semantics(req)
    except InvalidInput:
        HEARTBEATS.labels("post", "invalid").inc()
        raise
    try:
        body = await full_heartbeat(Registry.of(state), req)
    except StoreUnavailable:
        HEARTBEATS.labels("post", "unavailable").inc()
        raise
    HEARTBEATS.labels("post", "ok").inc()
    HEARTBEAT_SECONDS.labels("post").observe(time.perf_counter() - started)
    return Response(_encoder.encode(body), media_type="application/json")


@head("/heartbeat/{agent_id:str}", summary="Cheap heartbeat: 200 ok, 202 re-POST, 410 gone")
async def head_heartbeat(agent_id: FromPath[str], state: State) -> Response[None]:
    """Refresh the TTL. A store failure is 503, never 410: 410 makes agents re-register."""
    started = time.perf_counter()
    if not _AGENT_ID.match(agent_id):
        HEARTBEATS.labels("head", "invalid").inc()
        return Response(None, status_code=400, media_type=_NO_BODY)
    reg = Registry.of(state)
    try:
        result = await reg.store.touch(agent_id, epoch=reg.profiles.epoch)
    except StoreUnavailable:
        HEARTBEATS.labels("head", "unavailable").inc()
        return Response(None, status_code=503, headers={"Retry-After": "1"}, media_type=_NO_BODY)
    HEARTBEATS.labels("head", _HEAD_RESULT[result]).inc()
    HEARTBEAT_SECONDS.labels("head").observe(time.perf_counter() - started)
    return Response(None, status_code=_HEAD_STATUS[result], media_type=_NO_BODY)
