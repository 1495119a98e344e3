"""Heartbeats: registration and the full heartbeat (POST), and the cheap one (HEAD)."""

from __future__ import annotations

import contextlib
import logging
import re
import time

import msgspec
from packaging.version import InvalidVersion
from prometheus_client import Counter, Histogram

from service.domain.endpoints import check_endpoint
from service.domain.identity import ANONYMOUS, Identity
from service.domain.matching import ConstraintError, parse_constraint, parse_version, resolve
from service.errors import InvalidInput, RegistryError, StoreUnavailable
from service.metrics import HEARTBEAT_SECONDS, HEARTBEATS, UNKNOWN_FIELDS
from service.models import (
    FREEFORM_FIELDS,
    MAX_FREEFORM_BYTES,
    HeartbeatRequest,
    HeartbeatResponse,
    Lease,
    Tool,
)
from service.registry.clock import now_ms
from service.registry.cohorts import Served
from service.registry.context import Registry
from service.registry.delivery import capabilities_block, config_block
from service.registry.fleet import FleetConfig
from service.store.records import iso
from service.store.results import HeartbeatResult, NotOwner
from service.store.store import Touch

__all__ = [
    "AGENT_ID",
    "Touch",
    "count",
    "note_unknown_fields",
    "register",
    "touch",
    "validate_semantics",
]

#: The path form of an agent id (the body form is validated by ``models.AgentId``).
AGENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_MESSAGES = {"register": "Agent registered via heartbeat"}
_TOUCH_RESULT = {
    Touch.OK: "ok",
    Touch.CHANGED: "changed",
    Touch.GONE: "gone",
    Touch.FORBIDDEN: "forbidden",
}
_KNOWN_FIELDS = frozenset(HeartbeatRequest.__struct_encode_fields__)
_top_level = msgspec.json.Decoder(dict[str, msgspec.Raw])
_logged_unknown: set[str] = set()
_encode = msgspec.json.Encoder().encode
# Problem bodies name fields as they are on the wire ("inputSchema", not "input_schema").
_WIRE_NAMES = dict(zip(Tool.__struct_fields__, Tool.__struct_encode_fields__, strict=True))
_LOG_AT_MOST = 256  # distinct names remembered: a hostile client cannot grow it for ever
log = logging.getLogger("service.heartbeat")


def note_unknown_fields(raw: bytes) -> None:
    """Count a body with top-level fields we do not know; log each new name once (debug).

    They are accepted (newer MCP Mesh SDKs add fields), but an operator should be able to
    see that agents send something the registry ignores.
    """
    try:
        names = _top_level.decode(raw).keys() - _KNOWN_FIELDS
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return  # the body decoder answers it with a 4xx
    if not names:
        return
    UNKNOWN_FIELDS.inc()
    for name in sorted(names):
        if name not in _logged_unknown and len(_logged_unknown) < _LOG_AT_MOST:
            _logged_unknown.add(name)
            log.debug("heartbeat field %r is not known to this registry; ignored", name[:64])


def validate_semantics(req: HeartbeatRequest) -> None:
    """Checks a schema cannot express: parseable versions and constraints, and the
    encoded size of each free-form field (so anything accepted can be stored and read)."""
    for i, tool in enumerate(req.tools):
        for name in FREEFORM_FIELDS:
            value = getattr(tool, name)
            if value is not None and len(_encode(value)) > MAX_FREEFORM_BYTES:
                field = f"tools[{i}].{_WIRE_NAMES.get(name, name)}"
                raise InvalidInput(
                    f"{field}: larger than {MAX_FREEFORM_BYTES} bytes encoded", field=field
                )
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


def result_label(exc: RegistryError) -> str:
    """The ``result`` label of a failed heartbeat."""
    if isinstance(exc, InvalidInput):
        return "invalid"
    return "unavailable" if isinstance(exc, StoreUnavailable) else "error"


def count(kind: str, result: str, started: float | None = None) -> None:
    """Count one heartbeat answer (``kind`` is head, post or mcp) and, if ok, its duration."""
    counter = _counters.get((kind, result))
    if counter is None:
        counter = _counters[kind, result] = HEARTBEATS.labels(kind, result)
    counter.inc()
    if started is not None:
        timer = _timers.get(kind)
        if timer is None:
            timer = _timers[kind] = HEARTBEAT_SECONDS.labels(kind)
        timer.observe(time.perf_counter() - started)


# Label children bound once: ``labels()`` validates, joins and locks on every call, which
# profiling put at several per cent of a HEAD. Bound lazily, so /metrics shows only the
# combinations that occurred, as before.
_counters: dict[tuple[str, str], Counter] = {}
_timers: dict[str, Histogram] = {}


async def register(
    reg: Registry, req: HeartbeatRequest, identity: Identity = ANONYMOUS
) -> HeartbeatResponse:
    """Register or refresh an agent in one round trip and build the MCP Mesh-shaped answer.

    ``identity`` must be allowed to speak for the agent id in its namespace; the store binds
    the id to ``identity.owner`` at its first registration and refuses other owners.
    """
    reg.access.require_agent(identity, req.agent_id, req.namespace)
    validate_semantics(req)
    check_endpoint(req, reg.settings.auth.refuse_endpoints)
    profile = req.profile or req.name or req.agent_id
    thresholds = reg.profiles.thresholds_for(profile)
    served = (
        None if reg.fleet is None else reg.fleet.serve(profile, req.agent_id, req.config_version)
    )
    try:
        result = await reg.store.heartbeat(
            req,
            thresholds=thresholds,
            profile=profile,
            # The liveness hash remembers what this agent was served, so HEAD asks for a
            # POST when that changes (another active version, or its cohort's step).
            epoch=served.bundle.version if served is not None else reg.profiles.epoch,
            now_ms=now_ms(),
            owner=identity.owner,
            cohort=served.cohort if served is not None else "-",
        )
    except NotOwner:
        raise reg.access.denied_owner(identity, req.agent_id) from None
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
    if reg.fleet is None or served is None:
        return body  # no bundle: exactly the MCP Mesh shape (plus lease)
    return await _with_config(reg.fleet, served, req, profile, result, body)


async def _with_config(
    fleet: FleetConfig,
    served: Served,
    req: HeartbeatRequest,
    profile: str,
    result: HeartbeatResult,
    body: HeartbeatResponse,
) -> HeartbeatResponse:
    """Add the config and capability blocks (from memory; no further Redis call)."""
    config = config_block(fleet, served, profile, req.config_version)
    if result.assignment_corrupt:
        # What was assigned is unknown: say nothing about capabilities, so the agent keeps
        # the set it runs, rather than switching it to the defaults over a corrupted value.
        return msgspec.structs.replace(body, config=config)
    caps, lost = capabilities_block(served.bundle, profile, req, result.assignment)
    if lost:
        # Rare by construction (Redis lost data, or the agent returns after a purge), so this
        # one extra write is acceptable.
        with contextlib.suppress(StoreUnavailable):
            await fleet.store.note_event(
                req.namespace, "assignment-lost", req.agent_id, req.capabilities_version or ""
            )
    return msgspec.structs.replace(
        body, config=config, capabilities=caps if caps is not None else msgspec.UNSET
    )


async def touch(reg: Registry, agent_id: str, identity: Identity = ANONYMOUS) -> Touch:
    """The cheap heartbeat: refresh the TTL; say whether the agent must send a full POST
    (``FORBIDDEN`` when another identity owns ``agent_id``: nothing is refreshed).

    A store failure raises :class:`StoreUnavailable` (a 503), never ``GONE``: a false "gone"
    would make the whole fleet re-register at once.
    """
    started = time.perf_counter()
    try:
        rollout = reg.fleet.rollout_spec if reg.fleet is not None else ""
        result = await reg.store.touch(
            agent_id, epoch=reg.profiles.epoch, owner=identity.owner, rollout=rollout
        )
    except StoreUnavailable:
        count("head", "unavailable")
        raise
    count("head", _TOUCH_RESULT[result], started)
    if result is Touch.FORBIDDEN:
        reg.access.denied_owner(identity, agent_id)  # counted and noted; the answer is 403
    return result
