"""Real MCP Mesh SDK agents against a real registry process: wiring and SIGKILL unwiring."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from support import eventually, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

AGENTS = Path(__file__).parent / "agents"
EXPIRE_AFTER = 10.0
SDK_INTERVAL = 5.0  # the SDK's fixed HEAD cadence
SWEEP = 0.5


def _call_welcome(mesh_python: Path, port: int) -> str:
    out = subprocess.run(
        [str(mesh_python), str(AGENTS / "call_tool.py"), f"http://127.0.0.1:{port}/mcp", "welcome"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return (out.stdout.strip().splitlines() or [""])[-1]


async def test_consumer_is_wired_then_unwired_after_provider_sigkill(
    registry_process, mesh_agent, mesh_python: Path
) -> None:
    registry = registry_process(
        REGISTRY_HEARTBEAT_INTERVAL=str(SDK_INTERVAL),
        REGISTRY_DEGRADED_AFTER="7",
        REGISTRY_EXPIRE_AFTER=str(EXPIRE_AFTER),
        REGISTRY_SWEEP_INTERVAL=str(SWEEP),
    )
    greeter_port, welcomer_port = free_port(), free_port()
    greeter = mesh_agent("greeter", greeter_port, registry.url)
    mesh_agent("welcomer", welcomer_port, registry.url)

    async with httpx.AsyncClient(base_url=registry.url) as http:

        async def both_healthy() -> dict[str, str]:
            agents = (await http.get("/agents")).json()["agents"]
            names = {a["name"]: a["status"] for a in agents}
            return names if names.get("greeter") == names.get("welcomer") == "healthy" else {}

        await eventually(both_healthy, timeout=60, every=0.25)
        listed = {a["name"]: a for a in (await http.get("/agents")).json()["agents"]}
        assert listed["greeter"]["endpoint"] == f"http://127.0.0.1:{greeter_port}"
        assert "greeting" in [c["name"] for c in listed["greeter"]["capabilities"]]
        assert listed["welcomer"]["dependencies"] == ["greeting"]

        async def wired() -> str:
            out = await asyncio.to_thread(_call_welcome, mesh_python, welcomer_port)
            return out if out.startswith("WIRED") else ""

        assert await eventually(wired, timeout=60, every=0.5) == "WIRED: Hello, visitor!"

        os.kill(greeter.pid, signal.SIGKILL)
        greeter.wait(5)
        killed_at = time.monotonic()

        async def unwired() -> bool:
            return await asyncio.to_thread(_call_welcome, mesh_python, welcomer_port) == "UNWIRED"

        # The bound the issue sets: the provider's TTL runs out, then the consumer's next
        # HEAD (one interval) gets 202 and its POST returns an unresolved slot. The sweep
        # period and one tool call's duration are added as measurement slack.
        bound = EXPIRE_AFTER + SDK_INTERVAL + SWEEP + 2.0
        await eventually(unwired, timeout=bound, every=0.25)
        assert time.monotonic() - killed_at <= bound
        status = (await http.get(f"/agents/{listed['greeter']['id']}")).json()["status"]
        assert status == "expired"
