"""Stored forms of agents and their decoding into API views.

The stored record is separate from the wire model: short field names keep Redis memory per
agent small, and the Lua scripts read ``fp`` and ``prov`` from it with ``cjson``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec

from service.domain.matching import ProviderEntry
from service.models import (
    AgentStatus,
    AgentView,
    CapabilityView,
    Dependency,
    HeartbeatRequest,
    Tool,
)

Status = AgentStatus


class StoredTool(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A provided tool as the record keeps it: what ``GET /agents``, its filters and the
    dashboard read back. The JSON schemas, their hashes and ``kwargs`` are left out (the
    provider entries carry ``kwargs``, the only one anything serves): they were most of a
    record's bytes. The field names are the wire ones, so records written with whole tools
    still decode (msgspec skips the fields this struct does not name)."""

    function_name: str
    capability: str
    version: str = "1.0.0"
    tags: list[str] = []
    description: str = ""
    dependencies: list[Dependency] = []


class StoredAgent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """What ``doc`` keys hold. ``prov`` lists ``[capability, field]`` per provided function."""

    id: str
    name: str
    type: str
    ver: str
    ep: str
    ns: str
    prof: str
    tools: list[StoredTool]
    fp: str
    prov: list[tuple[str, str]]
    at: int
    rt: str | None = None
    cfg: str | None = None
    # How applying ``cfg`` went (``applied``/``failed``) and why it failed: left out until
    # an agent reports them, so stock MCP Mesh records stay as small as before. Plain text,
    # not the wire Literal: a record is never refused for a value a later release adds.
    cs: str | None = None
    ce: str | None = None
    capv: str | None = None
    deps: int = 0
    # The identity the agent id is bound to (empty: unowned, auth off at registration).
    own: str = ""


class Assignment(msgspec.Struct, frozen=True):
    """What ``assignment`` keys hold: a runtime capability assignment and its version."""

    v: str
    caps: list[dict[str, Any]]


_enc = msgspec.json.Encoder()
_doc_dec = msgspec.json.Decoder(StoredAgent)
_entry_dec = msgspec.json.Decoder(ProviderEntry)
_assignment_dec = msgspec.json.Decoder(Assignment)


def endpoint_of(req: HeartbeatRequest) -> str:
    """The agent's endpoint as MCP Mesh reports it: ``http://host:port``."""
    if req.endpoint:
        return req.endpoint
    if not req.http_port:
        return f"stdio://{req.agent_id}"
    host = req.http_host or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{req.http_port}"


@dataclass(frozen=True, slots=True)
class Encoded:
    """A heartbeat request turned into what the heartbeat script writes."""

    doc: bytes
    provided: list[str]
    entries: list[tuple[int, str, str]]
    fingerprint: str


def owner_tag(owner: str) -> str:
    """The short form of an owner kept in the liveness hash: 16 hex of its sha1, which the
    scripts recompute from a record's ``own`` with ``redis.sha1hex`` ("" for no owner)."""
    return hashlib.sha1(owner.encode()).hexdigest()[:16] if owner else ""


def encode_agent(req: HeartbeatRequest, *, profile: str, now_ms: int, owner: str = "") -> Encoded:
    """Build the stored record and provider-index entries for a full heartbeat."""
    endpoint = endpoint_of(req)
    provided: list[str] = []
    index: dict[str, int] = {}
    entries: list[tuple[int, str, str]] = []
    prov: list[tuple[str, str]] = []
    for tool in req.tools:
        cap = tool.capability
        if cap not in index:
            provided.append(cap)
            index[cap] = len(provided)
        field = f"{req.agent_id}:{tool.function_name}"
        entry = ProviderEntry(
            agent_id=req.agent_id,
            function_name=tool.function_name,
            capability=cap,
            version=tool.version,
            tags=list(tool.tags),
            endpoint=endpoint,
            namespace=req.namespace,
            kwargs=tool.kwargs,
        )
        entries.append((index[cap], field, _enc.encode(entry).decode()))
        prov.append((cap, field))
    fingerprint = hashlib.blake2b(
        "\n".join(e[2] for e in entries).encode(), digest_size=8
    ).hexdigest()
    doc = StoredAgent(
        id=req.agent_id,
        name=req.name or req.agent_id,
        type=req.agent_type,
        ver=req.version,
        ep=endpoint,
        ns=req.namespace,
        prof=profile,
        tools=[_stored(t) for t in req.tools],
        fp=fingerprint,
        prov=prov,
        at=now_ms,
        rt=req.runtime,
        cfg=req.config_version,
        cs=req.config_status,
        ce=req.config_error,
        capv=req.capabilities_version,
        deps=sum(len(t.dependencies) for t in req.tools),
        own=owner,
    )
    return Encoded(_enc.encode(doc), provided, entries, fingerprint)


def _stored(tool: Tool) -> StoredTool:
    return StoredTool(
        function_name=tool.function_name,
        capability=tool.capability,
        version=tool.version,
        tags=list(tool.tags),
        description=tool.description,
        dependencies=list(tool.dependencies),
    )


def decode_doc(raw: bytes) -> StoredAgent:
    """Decode a stored record; a corrupt one raises one of :data:`corrupt.UNDECODABLE`."""
    return _doc_dec.decode(raw)


def decode_entry(raw: bytes) -> ProviderEntry:
    """Decode a provider-index entry; a corrupt one raises one of :data:`corrupt.UNDECODABLE`."""
    return _entry_dec.decode(raw)


def decode_assignment(raw: bytes) -> Assignment:
    """Decode a runtime assignment; a corrupt one raises one of :data:`corrupt.UNDECODABLE`."""
    return _assignment_dec.decode(raw)


@lru_cache(maxsize=64)  # called on every HEAD with the same active version
def epoch_tag(version: str) -> str:
    """The short tag of a config version kept in the liveness hash's ``e`` field.

    Versions are ``sha256:<64 hex>``, longer than a listpack value may be (64 bytes by
    default): storing them whole would turn every liveness hash into a hashtable (~4x the
    memory). 12 hex digits tell two versions apart with ample margin. ``""`` stays ``""``.
    """
    if not version:
        return ""
    return hashlib.blake2b(version.encode(), digest_size=6).hexdigest()


def iso(ms: int) -> str:
    """RFC 3339 UTC timestamp with milliseconds, as MCP Mesh clients parse them."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True, slots=True)
class Liveness:
    """What an agent's liveness key says, read with the Redis server clock."""

    ttl_ms: int
    degraded_ms: int
    retention_ms: int
    age_ms: int | None

    @classmethod
    def parse(cls, value: Sequence[Any] | None, pttl: int) -> Liveness | None:
        """Decode the liveness fields ``[t, d, r]`` (see SCHEMA.md) that the prelude's
        ``live_read`` returns, with the key's PTTL; ``None`` when expired."""
        if not value or pttl <= 0:
            return None
        ttl, deg, ret = (int(x) for x in value[:3])
        return cls(ttl, deg, ret, max(ttl - pttl, 0))

    @property
    def status(self) -> Status:
        """``healthy`` up to ``degraded_after`` since the last heartbeat, then ``degraded``."""
        return "degraded" if (self.age_ms or 0) > self.degraded_ms else "healthy"


def agent_view(
    doc: StoredAgent, live: Liveness | None, now_ms: int, *, suspect: bool = False
) -> AgentView:
    """Render a stored record as ``GET /agents`` shows it (``suspect``: expired, but held
    by mass-expiry protection)."""
    deps = [d.capability for t in doc.tools for d in t.dependencies]
    return AgentView(
        id=doc.id,
        name=doc.name,
        agent_type=doc.type,
        namespace=doc.ns,
        status=live.status if live else "suspect" if suspect else "expired",
        endpoint=doc.ep,
        version=doc.ver,
        runtime=doc.rt,
        profile=doc.prof,
        capabilities=[
            CapabilityView(
                name=t.capability,
                function_name=t.function_name,
                version=t.version,
                tags=list(t.tags),
                description=t.description,
            )
            for t in doc.tools
        ],
        dependencies=sorted(set(deps)),
        total_dependencies=len(deps),
        last_seen=iso(now_ms - live.age_ms) if live and live.age_ms is not None else None,
        updated_at=iso(doc.at),
        config_version=doc.cfg,
        config_status=doc.cs,
        config_error=doc.ce,
    )
