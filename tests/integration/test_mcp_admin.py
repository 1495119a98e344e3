"""The MCP admin tools (capability injection) through the official MCP client against a real
``registry serve`` process with an admin token and a bundle.

Each tool must answer what its HTTP admin endpoint answers for the same data, refuse a call
without the admin bearer token or with a wrong one, and name the field of a bad argument.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from agents_data import agent, tool
from config_bundles import worker, worker_bundle
from mcp_client import call, mcp_session
from support import RedisServer, RegistryProcess, start_registry

from service.settings import Thresholds

TOKEN = "s3cret-mcp"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ADMIN_TOOLS = (
    "get_available_capabilities",
    "update_agent_capabilities",
    "validate_capability_dependencies",
)
# Slow thresholds: agents registered by a test stay live for the whole module.
SLOW = Thresholds(heartbeat_interval=5.0, degraded_after=60.0, expire_after=120.0, retention=300.0)


@pytest.fixture(scope="module")
def replica(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryProcess]:
    client = redis_server.client()
    client.flushall()
    client.close()
    work = tmp_path_factory.mktemp("mcp-admin")
    bundle = worker_bundle(work / "bundle", thresholds=SLOW)
    proc = start_registry(
        work,
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_ADMIN_TOKEN=TOKEN,
    )
    yield proc
    proc.stop()


async def test_admin_tools_are_listed_with_schemas_and_hints(replica: RegistryProcess) -> None:
    async with mcp_session(replica.url) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
    for name in ADMIN_TOOLS:
        spec = listed[name]
        assert spec.description and "\n" not in spec.description
        assert spec.description.startswith("Admin:")
        assert spec.input_schema["type"] == "object"
        assert spec.input_schema["additionalProperties"] is False
        assert spec.output_schema is not None and spec.output_schema["type"] == "object"
    update = listed["update_agent_capabilities"]
    assert update.input_schema["required"] == ["agent_id", "capabilities"]
    assert update.input_schema["properties"]["capabilities"]["maxItems"] == 64
    assert update.annotations.read_only_hint is False  # type: ignore[union-attr]
    assert listed["get_available_capabilities"].input_schema["required"] == ["agent_id"]
    assert listed["validate_capability_dependencies"].input_schema["required"] == ["capability"]
    assert listed["validate_capability_dependencies"].annotations.read_only_hint is True  # type: ignore[union-attr]


async def test_admin_tools_answer_what_the_http_admin_endpoints_answer(
    replica: RegistryProcess,
) -> None:
    async with (
        httpx.AsyncClient(base_url=replica.url, timeout=10, headers=ADMIN) as http,
        mcp_session(replica.url, ADMIN) as session,
    ):
        assert (await http.post("/heartbeat", json=worker("w-1"))).status_code == 200
        url = "/admin/agents/w-1/capabilities"

        # get_available_capabilities: forecast needs geocode, which nobody provides yet.
        mcp_avail = await call(session, "get_available_capabilities", agent_id="w-1")
        http_avail = (await http.get(f"{url}/available")).json()
        assert mcp_avail == http_avail
        assert mcp_avail == {"agent_id": "w-1", "capabilities": ["geocode", "search"]}
        geo = agent("geo-1", tool("geo", "geocode", version="1.4.0"))
        assert (await http.post("/heartbeat", json=geo)).status_code == 200
        mcp_avail = await call(session, "get_available_capabilities", agent_id="w-1")
        assert mcp_avail == (await http.get(f"{url}/available")).json()
        assert mcp_avail["capabilities"] == ["forecast", "geocode", "search"]

        # update_agent_capabilities: the same assignment gives the same answer either way.
        caps = [{"name": "forecast", "version": "1.0.0"}]
        mcp_update = await call(
            session, "update_agent_capabilities", agent_id="w-1", capabilities=caps
        )
        http_update = (await http.put(url, json={"capabilities": caps})).json()
        assert mcp_update == http_update
        assert mcp_update["updated"] is True and mcp_update["live"] is True
        # What the tool stored is what the agent's next heartbeat delivers.
        beat = (await http.post("/heartbeat", json=worker("w-1"))).json()
        assert beat["capabilities"]["source"] == "assigned"
        assert beat["capabilities"]["version"] == mcp_update["version"]
        assert beat["capabilities"]["assigned"] == caps

        # validate_capability_dependencies: a catalog name, each problem kind, and a valid one.
        for capability in (
            {"name": "forecast"},
            {"name": "ping"},
            {"name": "x", "dependencies": [{"capability": "nowhere", "version": "*"}]},
            {"name": "x", "dependencies": [{"capability": "geocode", "version": ">=2"}]},
            {"name": "x", "versions": ["1.0.0"], "description": "no dependencies"},
        ):
            mcp_valid = await call(
                session, "validate_capability_dependencies", capability=capability
            )
            http_valid = await http.post("/admin/capabilities/validate", json=capability)
            assert http_valid.status_code == 200, http_valid.text
            assert mcp_valid == http_valid.json(), capability
        cycle = await call(session, "validate_capability_dependencies", capability={"name": "ping"})
        assert cycle["valid"] is False
        assert cycle["problems"][0]["reason"] == "dependency cycle: ping -> pong -> ping"


REFUSED_CALLS = [
    ("get_available_capabilities", {"agent_id": "w-2"}),
    ("update_agent_capabilities", {"agent_id": "w-2", "capabilities": [{"name": "geocode"}]}),
    ("validate_capability_dependencies", {"capability": {"name": "forecast"}}),
]


async def test_admin_tools_refuse_without_or_with_a_wrong_token(
    replica: RegistryProcess,
) -> None:
    async with httpx.AsyncClient(base_url=replica.url, timeout=10) as http:
        assert (await http.post("/heartbeat", json=worker("w-2"))).status_code == 200
        for headers, status, says in (
            (None, 401, "Authorization: Bearer"),
            ({"Authorization": "Bearer wrong"}, 403, "admin token is not valid"),
            ({"Authorization": f"Basic {TOKEN}"}, 401, "Authorization: Bearer"),
        ):
            async with mcp_session(replica.url, headers) as session:
                for name, args in REFUSED_CALLS:
                    result = await session.call_tool(name, args)
                    assert result.is_error, (name, headers)
                    assert result.structured_content is not None
                    assert result.structured_content["status"] == status, (name, headers)
                    assert result.structured_content["field"] == "Authorization"
                    text = result.content[0].text  # type: ignore[union-attr]
                    assert says in text and "field: Authorization" in text, text
                    assert TOKEN not in text
                # Read tools stay open on the same session.
                assert not (await session.call_tool("get_registry_metrics", {})).is_error
        # The refused update stored nothing: w-2 still runs its profile's defaults.
        beat = (await http.post("/heartbeat", json=worker("w-2"))).json()
        assert beat["capabilities"]["source"] == "profile"


BAD_ARGUMENTS = [
    ("get_available_capabilities", {}, "agent_id"),
    ("get_available_capabilities", {"agent_id": "has space"}, "agent_id"),
    ("get_available_capabilities", {"agent_id": "ghost"}, "agent_id"),  # not registered
    ("get_available_capabilities", {"agent_id": "w-3", "verbose": True}, "verbose"),
    ("update_agent_capabilities", {"agent_id": "w-3"}, "capabilities"),
    ("update_agent_capabilities", {"capabilities": []}, "agent_id"),
    ("update_agent_capabilities", {"agent_id": "w-3", "capabilities": "search"}, "capabilities"),
    (
        "update_agent_capabilities",
        {"agent_id": "w-3", "capabilities": [{"name": "search"}] * 65},
        "capabilities",
    ),
    (
        "update_agent_capabilities",
        {"agent_id": "w-3", "capabilities": [{"version": "1.0.0"}]},
        "capabilities[0].name",
    ),
    (
        "update_agent_capabilities",
        {"agent_id": "w-3", "capabilities": [{"name": "nope"}]},
        "capabilities[0].name",
    ),
    (
        "update_agent_capabilities",
        {"agent_id": "w-3", "capabilities": [{"name": "search", "version": "9.9.9"}]},
        "capabilities[0].version",
    ),
    (
        "update_agent_capabilities",
        {"agent_id": "ghost", "capabilities": [{"name": "search"}]},
        "agent_id",
    ),
    ("validate_capability_dependencies", {}, "capability"),
    ("validate_capability_dependencies", {"capability": "forecast"}, "capability"),
    ("validate_capability_dependencies", {"capability": {}}, "capability.name"),
    ("validate_capability_dependencies", {"capability": {"name": ""}}, "capability.name"),
    ("validate_capability_dependencies", {"capability": {"name": "nowhere"}}, "capability.name"),
    ("validate_capability_dependencies", {"capabilty": {"name": "forecast"}}, "capabilty"),
]


async def test_bad_admin_arguments_are_tool_errors_naming_the_field(
    replica: RegistryProcess,
) -> None:
    async with (
        httpx.AsyncClient(base_url=replica.url, timeout=10) as http,
        mcp_session(replica.url, ADMIN) as session,
    ):
        assert (await http.post("/heartbeat", json=worker("w-3"))).status_code == 200
        for name, args, field in BAD_ARGUMENTS:
            result = await session.call_tool(name, args)
            assert result.is_error, (name, args)
            assert result.structured_content is not None
            assert result.structured_content["field"] == field, (name, args, result.content)
            assert f"field: {field}" in result.content[0].text  # type: ignore[union-attr]
        # No rejected update reached the agent.
        beat = (await http.post("/heartbeat", json=worker("w-3"))).json()
        assert beat["capabilities"]["source"] == "profile"
