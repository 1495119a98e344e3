"""Wire models: what agents send and what the registry answers, validated at the edge.

Field names follow the MCP Mesh registry protocol so that stock MCP Mesh agents work
unchanged; our extensions are optional and ignored by MCP Mesh clients.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

# Patterns end in "$(?!\n)": Python's "$" also matches before a final newline ("agent\n"
# would pass msgspec), ECMA-262's (the OpenAPI document's) does not; this form means the
# same in both, so the document and the decoder accept exactly the same strings.
END = r"$(?!\n)"

#: An agent's state: ``suspect`` = its liveness expired while mass-expiry protection held
#: it (still offered until the window ends). Defined once; filters and schemas use these.
AgentStatus = Literal["healthy", "degraded", "suspect", "expired"]
#: A provider's state as discovery offers it (expired providers are never offered).
ProviderStatus = Literal["healthy", "degraded", "suspect"]
AGENT_ID_PATTERN = r"^[A-Za-z0-9_-]+" + END
NAMESPACE_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?" + END
CAPABILITY_PATTERN = r"^[A-Za-z0-9_.:/-]+" + END

# Versions and constraints: a subset of what the matching rules parse (PEP 440 versions,
# docs/matching.md constraints) that a regular expression can state, so that every string
# the document calls valid is accepted (tests/unit/test_properties.py proves it).
_REL = r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}"
_PRE = r"(-?(a|b|rc|alpha|beta)\.?[0-9]{0,6})?"
_POST_DEV = r"([-.]?(post|dev)[0-9]{0,6})?"
_LOCAL = r"(\+[a-z0-9]{1,16}(\.[a-z0-9]{1,16}){0,3})?"
VERSION_PATTERN = rf"^v?{_REL}{_PRE}{_POST_DEV}{_LOCAL}" + END
_V = rf"{_REL}{_PRE}{_POST_DEV}"
_TERM = (
    rf"((>=|<=|>|<|==|!=|=) ?{_V}"  # a comparison
    r"|(==|!=) ?[0-9]{1,6}(\.[0-9]{1,6}){0,2}\.\*"  # PEP 440 prefix match
    r"|~= ?[0-9]{1,6}(\.[0-9]{1,6}){1,3}"  # PEP 440 compatible release
    rf"|[~^][0-9]{{1,6}}(\.[0-9]{{1,6}}){{0,2}}{_PRE}"  # npm tilde and caret
    r"|[0-9]{1,6}(\.[0-9]{1,6})?\.[xX*]"  # a wildcard
    rf"|{_V}"  # a bare partial or full version
    r"|[*xX])"  # any
)
_ALT = rf"{_TERM}((, ?| ){_TERM}){{0,7}}"
CONSTRAINT_PATTERN = rf"^(latest|{_ALT}( ?\|\| ?{_ALT}){{0,3}})?" + END

# Advertised addresses (service/domain/endpoints.py checks them, with the operator's refused
# address classes): documented here as the forms that check accepts. IPv6 literals are
# accepted too, but not written into the pattern.
_HOST = r"(?=[^:/]{1,253}([:/]|$))[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63})*\.?"
_PORT = r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
HOST_PATTERN = rf"^({_HOST})?" + END
ENDPOINT_PATTERN = rf"^(https?://{_HOST}{_PORT}(/[!-~]*)?)?" + END  # "": none advertised

AgentId = Annotated[str, Meta(pattern=AGENT_ID_PATTERN, min_length=1, max_length=64)]
# A DNS label, so namespaces can be used verbatim in Redis hash tags and Kubernetes names.
Namespace = Annotated[str, Meta(pattern=NAMESPACE_PATTERN, min_length=1, max_length=63)]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Capability = Annotated[str, Meta(pattern=CAPABILITY_PATTERN, min_length=1, max_length=128)]
Tag = Annotated[str, Meta(min_length=1, max_length=64)]
ShortText = Annotated[str, Meta(max_length=256)]
Description = Annotated[str, Meta(max_length=4096)]
VersionText = Annotated[str, Meta(pattern=VERSION_PATTERN, max_length=64)]
Constraint = Annotated[str, Meta(pattern=CONSTRAINT_PATTERN, max_length=128)]
TagSpec = Annotated[list[Tag | Annotated[list[Tag], Meta(max_length=16)]], Meta(max_length=32)]
#: How applying the reported ``config_version`` went on the agent: defined once, for the
#: heartbeat body and the client that sends it.
ConfigStatus = Literal["applied", "failed"]
#: The bound of ``config_error`` in characters; the client truncates its message to it.
MAX_CONFIG_ERROR = 512
ConfigError = Annotated[str, Meta(max_length=MAX_CONFIG_ERROR)]

MAX_TOOLS = 64
MAX_DEPENDENCIES = 32
#: How deeply any JSON body may nest arrays and objects (the body itself is level 1).
MAX_DEPTH = 32
#: The encoded size bound of each free-form field of a tool (``kwargs`` and the schemas).
MAX_FREEFORM_BYTES = 65_536
#: The tool fields whose content is free-form JSON, bounded by :data:`MAX_FREEFORM_BYTES`.
FREEFORM_FIELDS = ("kwargs", "input_schema", "output_schema")


class Dependency(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One declared dependency of a tool: a capability plus matching rules."""

    capability: Capability
    tags: TagSpec = []
    version: Constraint | None = None
    namespace: Namespace | None = None
    required: bool = True


class Tool(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    omit_defaults=True,
    rename={
        "input_schema": "inputSchema",
        "output_schema": "outputSchema",
        "input_schema_hash": "inputSchemaHash",
        "output_schema_hash": "outputSchemaHash",
    },
):
    """A tool (MCP Mesh ``@mesh.tool`` function) an agent provides.

    ``kwargs``, ``inputSchema`` and ``outputSchema`` are free-form JSON: each is bounded to
    64 KiB encoded, and every body to 32 levels of nesting.
    """

    function_name: Name
    capability: Capability
    version: VersionText = "1.0.0"
    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    description: Description = ""
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    input_schema_hash: ShortText | None = None
    output_schema_hash: ShortText | None = None
    kwargs: dict[str, Any] | None = None
    dependencies: Annotated[list[Dependency], Meta(max_length=MAX_DEPENDENCIES)] = []


class HeartbeatRequest(msgspec.Struct, kw_only=True, frozen=True):
    """``POST /heartbeat`` body: registration and full heartbeat in one (MCP Mesh shape)."""

    agent_id: AgentId
    name: Name | None = None
    agent_type: Literal["mcp_agent", "api", "a2a"] = "mcp_agent"
    version: VersionText = "1.0.0"
    runtime: ShortText | None = None
    http_host: Annotated[str, Meta(max_length=253, extra_json_schema={"pattern": HOST_PATTERN})] = (
        ""
    )
    http_port: Annotated[int, Meta(ge=0, le=65535)] = 0
    endpoint: (
        Annotated[str, Meta(max_length=512, extra_json_schema={"pattern": ENDPOINT_PATTERN})] | None
    ) = None
    namespace: Namespace = "default"
    status: ShortText = "healthy"
    tools: Annotated[list[Tool], Meta(max_length=MAX_TOOLS)] = []
    # Extensions (MCP Mesh agents do not send these).
    profile: Name | None = None
    config_version: ShortText | None = None
    #: Whether the agent applied ``config_version`` (``failed``: its config callback raised;
    #: it keeps the version, so the same payload is not delivered again).
    config_status: ConfigStatus | None = None
    #: Why applying failed (``config_status: failed``): the error's type and message.
    config_error: ConfigError | None = None
    capabilities_version: ShortText | None = None


class ResolvedSlot(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One dependency slot in ``dependencies_resolved``; ``unresolved`` slots have empty ids."""

    agent_id: str
    capability: str
    endpoint: str
    function_name: str
    status: Literal["available", "unresolved"]
    kwargs: dict[str, Any] | None = None
    #: The provider expired but mass-expiry protection holds it: still wired, but shown.
    #: A field of its own: stock MCP Mesh SDKs only wire ``available`` slots.
    suspect: bool = False


class Lease(msgspec.Struct, kw_only=True, frozen=True):
    """How long the registry keeps the agent alive without a heartbeat, and how often to send."""

    ttl_ms: int
    interval_ms: int


class ConfigDelivery(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The fleet-active config for the agent's profile, in a heartbeat answer.

    ``generation`` grows with every activation (a rollback included): a client ignores an
    answer whose generation is below the one it applied (a replica that has not yet learnt
    the newest activation), so it never moves backwards except on a rollback.
    """

    version: str
    generation: int
    changed: bool
    restart_required: bool
    payload: dict[str, Any] | None = None


class CapabilityDelivery(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The capabilities assigned to the agent: its profile's defaults or a runtime assignment."""

    version: str
    changed: bool
    source: Literal["profile", "assigned"]
    assigned: list[dict[str, Any]] | None = None


class HeartbeatResponse(msgspec.Struct, kw_only=True, frozen=True):
    """``POST /heartbeat`` answer, MCP Mesh fields first, then our extensions.

    ``config`` and ``capabilities`` are left out (not null) without a config bundle, so the
    answer has exactly the MCP Mesh shape plus ``lease``.
    """

    status: Literal["success", "error"]
    message: str
    agent_id: str
    timestamp: str
    dependencies_resolved: dict[str, list[ResolvedSlot]]
    llm_tools: dict[str, Any]
    lease: Lease
    config: ConfigDelivery | msgspec.UnsetType = msgspec.UNSET
    capabilities: CapabilityDelivery | msgspec.UnsetType = msgspec.UNSET


class CapabilityView(msgspec.Struct, kw_only=True, frozen=True):
    """A capability as listed on an agent."""

    name: str
    function_name: str
    version: str
    tags: list[str]
    description: str


class AgentView(msgspec.Struct, kw_only=True, frozen=True):
    """An agent as ``GET /agents`` shows it (MCP Mesh ``AgentInfo`` plus our fields)."""

    id: str
    name: str
    agent_type: str
    namespace: str
    status: AgentStatus
    endpoint: str
    version: str
    runtime: str | None
    profile: str
    capabilities: list[CapabilityView]
    dependencies: list[str]
    total_dependencies: int
    last_seen: str | None
    updated_at: str
    config_version: str | None = None
    config_status: str | None = None
    config_error: str | None = None
    # The identity the id is bound to; shown to admins only (left out for everyone else).
    owner: str | msgspec.UnsetType = msgspec.UNSET


class AgentsPage(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /agents``: MCP Mesh's ``{agents, count, timestamp}`` plus a cursor."""

    agents: list[AgentView]
    count: int
    timestamp: str
    next_cursor: str | None


class HealthView(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /agents/{id}/health``: status, last heartbeat, TTL left and thresholds."""

    agent_id: str
    status: AgentStatus
    last_heartbeat: str | None
    age_ms: int | None
    ttl_remaining_ms: int
    heartbeat_interval_ms: int
    degraded_after_ms: int
    expire_after_ms: int
    retention_ms: int


class ProviderView(msgspec.Struct, kw_only=True, frozen=True):
    """One live provider of a capability."""

    agent_id: str
    function_name: str
    capability: str
    version: str
    tags: list[str]
    endpoint: str
    namespace: str
    status: ProviderStatus
    kwargs: dict[str, Any] | None = None


class ProvidersPage(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /capabilities/{name}/providers``."""

    capability: str
    providers: list[ProviderView]
    count: int
    next_cursor: str | None


class CapabilitySummary(msgspec.Struct, kw_only=True, frozen=True):
    """One capability in ``GET /capabilities``."""

    name: str
    namespace: str
    providers: int
    versions: list[str]
    tags: list[str]


class CapabilitiesPage(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /capabilities``."""

    capabilities: list[CapabilitySummary]
    count: int
    next_cursor: str | None


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One registry event from the capped stream."""

    id: str
    type: str
    agent_id: str
    namespace: str
    timestamp: str
    detail: str = ""


class EventsPage(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /events``."""

    events: list[Event]
    count: int
    next_cursor: str | None
