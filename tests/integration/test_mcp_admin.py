"""The MCP admin tools (capability injection, rollout control) through the official MCP
client against a real ``registry serve`` process with an admin token and a bundle.

Each tool must answer what its HTTP admin endpoint answers for the same data, refuse a call
without the admin bearer token or with a wrong one, and name the field of a bad argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_data import agent, tool
from config_bundles import rollout_policy, worker, worker_bundle
from mcp import ClientSession
from mcp_client import call, mcp_session
from support import RedisServer, RegistryProcess, eventually, start_registry

from service.domain.identity import token_digest
from service.settings import Thresholds

TOKEN = "s3cret-mcp"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ADMIN_TOOLS = (
    "get_available_capabilities",
    "update_agent_capabilities",
    "validate_capability_dependencies",
    "control_config_rollout",
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
    control = listed["control_config_rollout"]
    assert control.input_schema["required"] == ["action"]
    action = control.input_schema["properties"]["action"]
    assert sorted(action["enum"]) == ["abort", "pause", "promote", "resume"]
    assert control.input_schema["properties"]["reason"]["maxLength"] == 200
    assert control.annotations.read_only_hint is False  # type: ignore[union-attr]
    assert control.annotations.idempotent_hint is False  # type: ignore[union-attr]
    # The status is a read tool: no admin token, the same Struct as GET /config/rollout.
    status = listed["get_config_rollout"]
    assert status.description and not status.description.startswith("Admin:")
    assert status.input_schema["properties"] == {}
    assert status.annotations.read_only_hint is True  # type: ignore[union-attr]
    assert status.output_schema is not None
    assert {"state", "steps", "profiles", "decisions"} <= set(status.output_schema["properties"])


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
    ("control_config_rollout", {"action": "abort"}),
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
    ("control_config_rollout", {}, "action"),
    ("control_config_rollout", {"action": "restart"}, "action"),
    ("control_config_rollout", {"action": "pause", "reason": "x" * 201}, "reason"),
    ("control_config_rollout", {"action": "pause", "why": "slow"}, "why"),
    # Valid arguments, but no rollout is open on this replica's Redis: a 409 naming it.
    ("control_config_rollout", {"action": "pause"}, "action"),
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


async def test_rollout_tools_without_a_rollout(replica: RegistryProcess) -> None:
    async with (
        httpx.AsyncClient(base_url=replica.url, timeout=10) as http,
        mcp_session(replica.url) as reader,
        mcp_session(replica.url, ADMIN) as session,
    ):
        status = await call(reader, "get_config_rollout")
        assert status == (await http.get("/config/rollout")).json()
        assert status["state"] == "none"
        assert status["profiles"] == [] and status["decisions"] == []
        for action in ("pause", "resume", "promote", "abort"):
            result = await session.call_tool("control_config_rollout", {"action": action})
            assert result.is_error, action
            assert result.structured_content == {
                "title": "Conflict",
                "status": 409,
                "detail": "no rollout is running or paused",
                "field": "action",
            }
            http_answer = await http.post(f"/admin/config/rollout/{action}", headers=ADMIN)
            assert http_answer.status_code == 409
            assert http_answer.json()["detail"] == result.structured_content["detail"]


READER = "tok-rollout-reader"


async def _error(session: ClientSession, name: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must fail; its problem (``structuredContent``)."""
    result = await session.call_tool(name, args)
    assert result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    text = result.content[0].text  # type: ignore[union-attr]
    assert f"field: {result.structured_content['field']}" in text
    return result.structured_content


async def test_rollout_tools_follow_and_control_a_running_rollout(
    own_redis: RedisServer, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    """A (no policy) on one replica, then B (50% -> 100%, 30 s holds) on a second: the
    status and every operator action through MCP, checked against the HTTP API."""
    a = worker_bundle(tmp_path / "a", model="small", thresholds=SLOW)
    b = worker_bundle(
        tmp_path / "b", model="large", thresholds=SLOW, rollout=rollout_policy(50, 100)
    )
    env = {
        "REGISTRY_REDIS_URL": own_redis.url,
        "REGISTRY_ADMIN_TOKEN": TOKEN,
        # A read-only identity: a known token, but not an admin one.
        "REGISTRY_TOKENS": json.dumps(
            [{"subject": "viewer", "sha256": token_digest(READER), "scopes": ["read"]}]
        ),
        "REGISTRY_CONFIG_REFRESH": "0.1",
        "REGISTRY_CONFIG_CLAIM_TTL": "0.5",
    }
    one = start_registry(tmp_path, REGISTRY_BUNDLE_DIR=str(a.path), **env)
    processes.append(one)
    ids = [f"w-{i}" for i in range(20)]
    async with (
        httpx.AsyncClient(base_url=one.url, timeout=10, headers=ADMIN) as http,
        mcp_session(one.url, ADMIN) as session,
        mcp_session(one.url, {"Authorization": f"Bearer {READER}"}) as reader,
    ):
        for i in ids:
            beat = await http.post("/heartbeat", json=worker(i, config_version=a.version))
            assert beat.status_code == 200, beat.text
        assert (await call(reader, "get_config_rollout"))["state"] == "none"

        two = start_registry(
            tmp_path, REGISTRY_BUNDLE_DIR=str(b.path), REGISTRY_DEPLOY_REVISION="2", **env
        )
        processes.append(two)

        async def running() -> dict[str, Any] | None:
            view = await call(reader, "get_config_rollout")
            return view if view["state"] == "running" else None

        view = await eventually(running, timeout=15, every=0.1)
        assert view == (await http.get("/config/rollout")).json()
        assert view["candidate"] == b.version and view["baseline"] == a.version
        assert view["step"] == 0
        assert [s["share"] for s in view["steps"]] == [50, 100]
        assert [s["hold_ms"] for s in view["steps"]] == [30_000, 30_000]
        (worker_view,) = view["profiles"]
        assert worker_view["profile"] == "worker" and worker_view["share"] == 50
        cand, base = worker_view["candidate"], worker_view["baseline"]
        assert cand["agents"] + base["agents"] == len(ids)
        assert 0 < cand["agents"] < len(ids)
        assert worker_view["pending"] == cand["agents"]  # still reporting the baseline
        signals = {s["signal"]: s for s in worker_view["signals"]}
        assert set(signals) == {"failures", "degraded", "expired", "restarts"}
        assert not any(s["breached"] for s in signals.values())
        assert view["decisions"][0]["decision"] == "start"

        # A known identity without the admin scope reads the status but may not steer.
        refused = await _error(reader, "control_config_rollout", action="pause")
        assert refused["status"] == 403 and refused["field"] == "Authorization"
        assert "admin scope" in refused["detail"]
        async with mcp_session(one.url) as anonymous:
            assert (await _error(anonymous, "control_config_rollout", action="pause"))[
                "status"
            ] == 401
        assert (await call(reader, "get_config_rollout"))["state"] == "running"

        paused = await call(
            session, "control_config_rollout", action="pause", reason="canary looks slow"
        )
        assert paused["state"] == "paused" and paused["step"] == 0
        last = paused["decisions"][0]
        assert (last["decision"], last["reason"], last["by"]) == (
            "pause",
            "canary looks slow",
            "operator",
        )
        # Every replica answers from Redis: the other one sees the pause at once.
        other = (await http.get(f"{two.url}/config/rollout")).json()
        assert other["state"] == "paused" and other["decisions"] == paused["decisions"]
        again = await _error(session, "control_config_rollout", action="pause")
        assert again["status"] == 409 and again["field"] == "action"
        assert again["detail"] == "cannot pause a rollout that is paused"

        resumed = await call(session, "control_config_rollout", action="resume")
        assert resumed["state"] == "running"
        assert resumed["decisions"][0]["decision"] == "resume"
        assert resumed["decisions"][0]["reason"] == "resume by an operator"
        conflict = await _error(session, "control_config_rollout", action="resume")
        assert conflict == {
            "title": "Conflict",
            "status": 409,
            "detail": "cannot resume a rollout that is running",
            "field": "action",
        }
        http_conflict = await http.post("/admin/config/rollout/resume")
        assert http_conflict.status_code == 409
        assert http_conflict.json()["detail"] == conflict["detail"]

        promoted = await call(session, "control_config_rollout", action="promote")
        assert promoted["state"] == "running" and promoted["step"] == 1
        assert promoted["profiles"][0]["share"] == 100
        assert promoted["profiles"][0]["candidate"]["agents"] == len(ids)

        aborted = await call(
            session, "control_config_rollout", action="abort", reason="operator drill"
        )
        assert aborted["state"] == "aborted" and aborted["reason"] == "operator drill"
        assert aborted["profiles"] == []  # closed: nobody is placed any more
        assert [d["decision"] for d in aborted["decisions"][:5]] == [
            "aborted",
            "promote",
            "resume",
            "pause",
            "start",
        ]
        assert aborted == await call(reader, "get_config_rollout")
        assert (await http.get("/config/active")).json()["version"] == a.version
        closed = await _error(session, "control_config_rollout", action="resume")
        assert closed["status"] == 409
        assert closed["detail"] == "no rollout is running or paused"
