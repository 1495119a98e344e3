"""The dashboard's pages and its event stream over HTTP, through the real app and Redis.

The browser test (tests/e2e/test_dashboard_browser.py) checks what a user sees; this one
checks the server side quickly: every page answers with real agents, fragments, filters,
404s, static files and the Server-Sent Events stream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from agents_data import consumer, provider
from apps import ClientFactory
from config_bundles import rollout_policy, worker, worker_bundle
from litestar.testing import AsyncTestClient
from support import RegistryProcess, eventually, start_registry

from service.models import Event, EventsPage
from service.registry.follow import long_poll
from service.settings import Thresholds


async def _fleet(client: AsyncTestClient[Any]) -> None:
    for body in (provider("greeter-1"), provider("greeter-2", tags=["french"]), consumer()):
        assert (await client.post("/heartbeat", json=body)).status_code == 200


async def test_every_page_shows_real_agents(app_client: ClientFactory, tmp_path: Any) -> None:
    bundle = worker_bundle(tmp_path / "b")
    async with app_client(bundle_dir=bundle.path) as client:
        await _fleet(client)
        assert (await client.post("/heartbeat", json=worker("w-1"))).status_code == 200
        pages = {
            "/ui": ["Fleet overview", 'id="count-healthy"', "default"],
            "/ui/agents": ["greeter-1", "greeter-2", "welcomer-1", "w-1"],
            "/ui/agents/welcomer-1": ["welcome", "greeting", 'href="/ui/agents/greeter-1"'],
            "/ui/capabilities": ["greeting", "welcome"],
            "/ui/capabilities/greeting": ["greeter-1", "greeter-2"],
            "/ui/drift": ["worker", 'data-profile="worker"'],
            "/ui/config": [bundle.version, "Activations"],
            "/ui/events": ["register", "greeter-1", 'data-stream="/ui/events/stream'],
        }
        for path, wanted in pages.items():
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text[:500])
            assert r.headers["content-type"].startswith("text/html")
            for text in wanted:
                assert text in r.text, (path, text)
        # The welcomer's dependency is wired to the English greeter (its tag), not the French.
        wiring = (await client.get("/ui/agents/welcomer-1")).text.split('id="wiring"')[1]
        assert "greeter-1" in wiring.split("</table>")[0]
        assert "greeter-2" not in wiring.split("</table>")[0]


async def test_filters_fragments_static_and_404(client: AsyncTestClient[Any]) -> None:
    await _fleet(client)
    r = await client.get("/ui/agents", params={"capability": "greeting", "tag": "-french"})
    assert 'data-agent="greeter-1"' in r.text
    assert 'data-agent="greeter-2"' not in r.text
    assert 'data-agent="welcomer-1"' not in r.text
    frag = await client.get("/ui/agents", params={"fragment": "true"})
    assert 'data-agent="greeter-1"' in frag.text
    assert "<html" not in frag.text  # only the live part
    paged = await client.get("/ui/agents", params={"limit": "1"})
    assert paged.status_code == 200
    js = await client.get("/ui/static/live.js")
    assert js.status_code == 200 and "EventSource" in js.text
    assert (await client.get("/ui/static/nope.js")).status_code == 404
    missing = await client.get("/ui/agents/nobody")
    assert missing.status_code == 404
    assert "nobody" in missing.json()["detail"]


async def test_config_page_shows_the_rollout(app_client: ClientFactory, tmp_path: Path) -> None:
    """Two in-process replicas: A, then B with a policy (50% -> 100%, 30 s holds)."""
    slow = Thresholds(heartbeat_interval=5, degraded_after=60, expire_after=120, retention=300)
    a = worker_bundle(tmp_path / "a", thresholds=slow)
    b = worker_bundle(
        tmp_path / "b", model="large", thresholds=slow, rollout=rollout_policy(50, 100)
    )
    fast = {"config_refresh": 0.1, "config_claim_ttl": 0.5, "admin_token": "s3cret"}
    ids = [f"w-{i}" for i in range(20)]
    async with app_client(bundle_dir=a.path, deploy_revision=1, **fast) as one:
        for i in ids:
            body = worker(i, config_version=a.version)
            assert (await one.post("/heartbeat", json=body)).status_code == 200
        before = (await one.get("/ui/config")).text
        assert 'id="rollout" data-state="none"' in before and "No config rollout" in before
        async with app_client(bundle_dir=b.path, deploy_revision=2, **fast) as two:

            async def running() -> bool:
                return (await one.get("/config/rollout")).json()["state"] == "running"

            await eventually(running, timeout=10)
            view = (await one.get("/config/rollout")).json()
            (cohorts,) = view["profiles"]
            html = (await two.get("/ui/config", params={"fragment": "true"})).text
            assert 'data-state="running"' in html and "<html" not in html
            assert "step 1/2 (50%)" in html
            row = html.split('<tr data-profile="worker">', 1)[1].split("</tr>", 1)[0]
            assert f'<td class="candidate">{cohorts["candidate"]["agents"]}</td>' in row
            assert f'<td class="baseline">{cohorts["baseline"]["agents"]}</td>' in row
            assert '<td class="breached">-</td>' in row
            assert b.version[:19] in html  # the candidate, shortened
            paused = await one.post(
                "/admin/config/rollout/pause",
                params={"reason": "canary looks slow"},
                headers={"Authorization": "Bearer s3cret"},
            )
            assert paused.status_code == 200, paused.text
            html = (await two.get("/ui/config")).text
            assert 'data-state="paused"' in html and "Activations" in html
            assert "pause by operator: canary looks slow</p>" in html
            await one.post(
                "/admin/config/rollout/abort", headers={"Authorization": "Bearer s3cret"}
            )
            html = (await one.get("/ui/config")).text
            assert 'data-state="aborted"' in html and 'id="cohorts"' not in html
            assert "aborted by operator: abort by an operator</p>" in html


def test_event_stream_sends_new_events(
    redis_url: str, tmp_path: Path, processes: list[RegistryProcess]
) -> None:
    """Through a real server (the in-process test client buffers a stream to its end)."""
    reg = start_registry(tmp_path, REGISTRY_REDIS_URL=redis_url)
    processes.append(reg)
    httpx.post(f"{reg.url}/heartbeat", json=provider("early-1"), timeout=5).raise_for_status()
    got: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{reg.url}/ui/events/stream", timeout=15) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines) == "retry: 2000"  # the stream is open: now make an event
        httpx.post(f"{reg.url}/heartbeat", json=provider("late-1"), timeout=5).raise_for_status()
        ids = []
        for line in lines:
            if line.startswith("id: "):
                ids.append(line[4:])
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                if got[-1]["agent_id"] == "late-1":
                    break
    # Only what happened after the stream opened: the earlier agent is not replayed.
    assert [(e["agent_id"], e["type"]) for e in got] == [("late-1", "register")]
    assert ids, "the last message of a batch carries the resume cursor"
    # Resuming from that id (a browser's Last-Event-ID) starts after it: nothing is repeated.
    httpx.delete(f"{reg.url}/agents/late-1", timeout=5)
    with httpx.stream(
        "GET", f"{reg.url}/ui/events/stream", headers={"Last-Event-ID": ids[-1]}, timeout=15
    ) as r:
        data = next(x for x in r.iter_lines() if x.startswith("data: "))
    assert json.loads(data[6:])["type"] == "unregister"


async def test_long_poll_returns_new_events_and_keeps_the_cursor() -> None:
    pages = [
        EventsPage(events=[], count=0, next_cursor=None),
        EventsPage(events=[], count=0, next_cursor=None),
        EventsPage(
            events=[
                Event(id="1-0", type="register", agent_id="a", namespace="default", timestamp="t")
            ],
            count=1,
            next_cursor="c2",
        ),
        # The API's last page has no next_cursor: the follower resumes after its last event.
        EventsPage(
            events=[
                Event(id="2-0", type="expire", agent_id="b", namespace="default", timestamp="t")
            ],
            count=1,
            next_cursor=None,
        ),
    ]
    asked: list[str | None] = []

    async def read(cursor: str | None) -> EventsPage:
        asked.append(cursor)
        return pages.pop(0) if pages else EventsPage(events=[], count=0, next_cursor=None)

    page = await long_poll(read, "c1", 5, lambda e: f"after-{e.id}", every=0.01)
    assert [e.agent_id for e in page.events] == ["a"] and page.next_cursor == "c2"
    assert asked == ["c1", "c1", "c1"]
    last = await long_poll(read, "c2", 5, lambda e: f"after-{e.id}", every=0.01)
    assert [e.agent_id for e in last.events] == ["b"] and last.next_cursor == "after-2-0"
    empty = await long_poll(read, "after-2-0", 0.05, lambda e: f"after-{e.id}", every=0.01)
    assert empty.events == [] and empty.next_cursor == "after-2-0"  # never None: a restart
