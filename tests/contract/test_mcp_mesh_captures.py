"""Contract: replay the recorded MCP Mesh SDK <-> reference registry session against ours.

The seven capture files are one continuous session (global ``seq`` numbers). We replay every
answered request in order and compare status codes and response bodies field by field.
Where the recording cannot be replayed literally, the replay says so explicitly:

* **Time.** The provider killed in scenario 04 expired after 20 s of real time; here its
  liveness key's TTL is cut to 1 ms, and the consumer keeps heartbeating (as the SDK does)
  until it is told to re-POST.
* **Gaps.** seq 59-63 and 93-102 were not recorded; across a gap the replay acts as the SDK
  would (register unknown agents, re-POST on 202).
* **Fresh database.** Scenario 07 restarted the reference registry on an empty database; the
  replay flushes Redis at the same point.
* **Targeted 202 (deliberate difference).** The reference registry answers 202 to *every*
  agent when any agent joins; ours only to agents whose dependencies changed. A 202 recorded
  for an agent with no dependencies is therefore expected to be 200 here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import AsyncTestClient
from support import RedisServer

from service.app import create_app
from service.settings import Settings

KILLED_PROVIDER = "greeter-887f5d7b"
KILL_SEQ = 33  # first exchange after the provider's last heartbeat (seq 32)
FRESH_DB_SEQ = 110


def _timeline(captures: Path) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for path in sorted(captures.glob("0*.json")):
        for ex in json.loads(path.read_text())["exchanges"]:
            seen.setdefault(ex["seq"], ex)
    return [seen[s] for s in sorted(seen)]


def _agent_of(ex: dict[str, Any]) -> str:
    if ex["method"] == "POST":
        return str(ex["req_body"]["agent_id"])
    return str(ex["path"].rsplit("/", 1)[-1])


def _has_dependencies(body: dict[str, Any]) -> bool:
    return any(t.get("dependencies") for t in body["tools"])


class Replay:
    """Drives the timeline against one replica and remembers each agent's last POST body."""

    def __init__(self, client: AsyncTestClient[Any], r: redis.Redis, timeline: list[Any]) -> None:
        self.client, self.r = client, r
        self.bodies = {_agent_of(ex): ex["req_body"] for ex in timeline if ex["method"] == "POST"}
        self.known: set[str] = set()
        self.compared = 0
        # Between the kill and the recorded 202 our expiry may already be visible: real time
        # is compressed here, so an early 202 in that window is the same behaviour, sooner.
        self.expiring = False

    async def post(self, agent_id: str) -> dict[str, Any]:
        resp = await self.client.post("/heartbeat", json=self.bodies[agent_id])
        assert resp.status_code == 200
        self.known.add(agent_id)
        return dict(resp.json())

    async def bridge_gap(self, ex: dict[str, Any]) -> None:
        """What the SDK would have done during an unrecorded stretch."""
        next_agent = _agent_of(ex)
        if ex["method"] != "POST" and next_agent not in self.known:
            await self.post(next_agent)
        for agent_id in sorted(self.known):
            if (await self.client.head(f"/heartbeat/{agent_id}")).status_code in (202, 410):
                await self.post(agent_id)

    async def expire(self, agent_id: str) -> None:
        """Let the agent's TTL run out now, then heartbeat the rest until told to re-POST."""
        self.r.pexpire(f"reg:{{default}}:l:{agent_id}", 1)
        # The sweeper looks when the agent is due; with real time that is its expiry moment.
        self.r.zadd("reg:{default}:due", {agent_id: 0})
        self.known.discard(agent_id)
        self.expiring = True


async def test_replayed_session_matches_reference_registry(
    captures_dir: Path, redis_url: str, redis_server: RedisServer
) -> None:
    timeline = _timeline(captures_dir)
    settings = Settings(redis_url=redis_url, sweep_interval=0.02)
    r = redis_server.client()
    async with AsyncTestClient(app=create_app(settings)) as client:
        replay = Replay(client, r, timeline)
        prev_seq = 0
        for ex in timeline:
            seq, status, agent = ex["seq"], ex["status"], _agent_of(ex)
            if status is None:  # the registry was down: nothing answered
                prev_seq = seq
                continue
            if seq == FRESH_DB_SEQ:
                r.flushall()
                replay.known.clear()
            elif seq == KILL_SEQ:
                await replay.expire(KILLED_PROVIDER)
            elif prev_seq and seq != prev_seq + 1 and agent != KILLED_PROVIDER:
                await replay.bridge_gap(ex)
            prev_seq = seq
            if agent == KILLED_PROVIDER and seq > KILL_SEQ:
                continue
            await _check(replay, ex)
        answered = [
            ex
            for ex in timeline
            if ex["status"] is not None
            and not (_agent_of(ex) == KILLED_PROVIDER and ex["seq"] > KILL_SEQ)
        ]
        assert replay.compared == len(answered) > 70
    r.close()


async def _check(replay: Replay, ex: dict[str, Any]) -> None:
    client, seq, want = replay.client, ex["seq"], ex["status"]
    agent = _agent_of(ex)
    if ex["method"] == "HEAD":
        got = (await client.head(ex["path"])).status_code
        if replay.expiring and want == 200 and got == 202:
            replay.compared += 1
            return
        if want == 202 and replay.expiring:
            replay.expiring = False
        if want == 202 and got == 200 and not _has_dependencies(replay.bodies[agent]):
            replay.compared += 1  # targeted 202: nothing this agent depends on changed
            return
        if want == 202 and got == 200:
            # Waiting out an expiry: the SDK keeps heartbeating until it is told.
            for _ in range(500):
                got = (await client.head(ex["path"])).status_code
                if got != 200:
                    break
        assert got == want, f"seq {seq}: HEAD {ex['path']}: {got} != recorded {want}"
    elif ex["method"] == "DELETE":
        got = (await client.delete(ex["path"])).status_code
        assert got == want, f"seq {seq}: DELETE: {got} != recorded {want}"
        replay.known.discard(agent)
    elif ex["method"] == "POST":
        resp = await client.post(ex["path"], json=ex["req_body"])
        assert resp.status_code == want, f"seq {seq}: POST: {resp.status_code} != {want}"
        ours, theirs = resp.json(), ex["resp_body"]
        missing = set(theirs) - set(ours)
        assert not missing, f"seq {seq}: fields missing from our response: {missing}"
        for field in ("status", "message", "agent_id", "dependencies_resolved", "llm_tools"):
            assert ours[field] == theirs[field], f"seq {seq}: {field} differs"
        replay.known.add(agent)
    elif ex["method"] == "GET" and ex["path"] == "/health":
        body = (await client.get("/health")).json()
        assert set(ex["resp_body"]) <= set(body)
        assert body["status"] == "healthy"
    else:
        pytest.fail(f"seq {seq}: unexpected exchange {ex['method']} {ex['path']}")
    replay.compared += 1
