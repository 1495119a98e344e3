"""Real MCP Mesh SDK agents over mutual TLS: the certificate is the identity.

A provider and a consumer register through an HTTPS replica (REGISTRY_AUTH=mtls) with
certificates from a throwaway CA and are wired; a third agent with another certificate that
pins the provider's agent_id is refused with 403 (the SDK logs the registry's answer), and
the real provider stays registered and wired.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import eventually, free_port
from tls_certs import ThrowawayCA

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _mesh_tls(ca: ThrowawayCA, name: str) -> dict[str, str]:
    pair = ca.issue(name, cn=name, spiffe=f"spiffe://registry.test/agent/{name}")
    return {
        "MCP_MESH_TLS_MODE": "strict",
        "MCP_MESH_TLS_CERT": str(pair.cert),
        "MCP_MESH_TLS_KEY": str(pair.key),
        "MCP_MESH_TLS_CA": str(ca.cert),
    }


async def test_sdk_agents_register_over_mtls_and_an_impostor_is_refused(
    registry_process: Any, mesh_agent: Any, tmp_path: Path
) -> None:
    ca = ThrowawayCA(tmp_path)
    server = ca.issue("registry", cn="registry")
    registry = registry_process(
        REGISTRY_AUTH="mtls",
        REGISTRY_TLS_CERT=str(server.cert),
        REGISTRY_TLS_KEY=str(server.key),
        REGISTRY_TLS_CLIENT_CA=str(ca.cert),
        REGISTRY_HEARTBEAT_INTERVAL="5",
        REGISTRY_DEGRADED_AFTER="7",
        REGISTRY_EXPIRE_AFTER="10",
    )
    assert registry.url.startswith("https://")
    greeter_port = free_port()
    mesh_agent("greeter", greeter_port, registry.url, **_mesh_tls(ca, "greeter"))
    mesh_agent("welcomer", free_port(), registry.url, **_mesh_tls(ca, "welcomer"))
    operator = ca.issue("operator", cn="operator")
    tls = ssl.create_default_context(cafile=str(ca.cert))
    tls.load_cert_chain(str(operator.cert), str(operator.key))
    async with httpx.AsyncClient(base_url=registry.url, verify=tls) as http:

        async def wired() -> dict[str, Any]:
            agents = {a["name"]: a for a in (await http.get("/agents")).json()["agents"]}
            if not {"greeter", "welcomer"} <= set(agents):
                return {}
            if agents["greeter"]["status"] != "healthy":
                return {}
            return agents

        agents = await eventually(wired, timeout=90, every=0.5)
        greeter_id = agents["greeter"]["id"]
        assert agents["greeter"]["endpoint"] == f"http://127.0.0.1:{greeter_port}"
        providers = (await http.get("/capabilities/greeting/providers")).json()["providers"]
        assert [p["agent_id"] for p in providers] == [greeter_id]

        impostor_port = free_port()
        impostor = mesh_agent(
            "greeter",
            impostor_port,
            registry.url,
            MCP_MESH_AGENT_ID=greeter_id,
            MCP_MESH_LOG_LEVEL="INFO",
            **_mesh_tls(ca, "impostor"),
        )
        log = tmp_path / f"greeter-{impostor_port}.log"

        async def refused() -> bool:
            return b"403" in log.read_bytes() and b"another identity" in log.read_bytes()

        await eventually(refused, timeout=60, every=0.5)
        assert impostor.pid > 0
        after = (await http.get(f"/agents/{greeter_id}")).json()
        assert after["endpoint"] == f"http://127.0.0.1:{greeter_port}"
        assert after["status"] == "healthy"
        providers = (await http.get("/capabilities/greeting/providers")).json()["providers"]
        assert [p["endpoint"] for p in providers] == [f"http://127.0.0.1:{greeter_port}"]
