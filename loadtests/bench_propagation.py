"""Benchmark (not a test): how fast a new active config version reaches N simulated agents.

Starts a private redis-server and a revision-1 replica serving bundle A on loopback, then N
``RegistryClient`` agents spread over ``--procs`` worker processes (so one event loop's lag
does not pass for the registry's), with heartbeat phases evenly spread over the interval.
Once every agent applied A, a revision-2 replica with bundle B starts and half of the fleet
moves to it, as in a rolling update. For every agent it measures the time from B's
activation (the Redis time recorded in the activation history) to the moment the agent's
``on_config`` callback ran with B, and prints p50/p99/max against the heartbeat interval.

Wall-clock figures include the agents' own lag (1,000 agents on a loaded 2-core machine do
not keep a perfect 5 s rhythm), so it also counts, per agent, the heartbeats (HEADs) it sent
after the activation up to and including the one that brought B: 1 (or 0, for a HEAD sent
just before the activation and answered after it) means the registry
answered the agent's first heartbeat after the activation with the new version, which is
"within one heartbeat interval" whatever the machine did to the agents' timing.

With ``--rollout``, B carries a rollout policy (``--shares``, default 10 -> 50 -> 100, each
step held ``--hold-intervals`` intervals): it becomes the candidate of a rollout, and the gate
leader promotes it step by step. For every step it measures, over the agents whose sticky
cohort enters at that step (``service.domain.rollout.entry_step``), the time from the step's
start (its decision in ``GET /config/rollout``, Redis time) to the agent's ``on_config`` with
B, and counts those that had B by their first heartbeat after the step began.

    make bench-propagation   # = python -m loadtests.bench_propagation --agents 1000 --interval 5
                             #   then the same with --rollout

Exit status: 0 when every agent applied B (and, with ``--rollout``, the rollout completed;
the verdict against the one-interval budget is printed, not enforced: timing belongs to the
reader, not to CI), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.seed import one_profile_bundle
from service.client import Backoff, ConfigUpdate, RegistryClient
from service.domain.rollout import bucket, entry_step
from service.settings import Thresholds


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bundle(
    out: Path, greeting: str, interval: float, rollout: dict[str, Any] | None = None
) -> str:
    thr = Thresholds(
        heartbeat_interval=interval,
        degraded_after=interval * 3,
        expire_after=interval * 6,
        retention=60,
    )
    return one_profile_bundle(out, "worker", {"g": greeting}, thr, rollout)


def _policy(args: argparse.Namespace) -> dict[str, Any]:
    """The rollout policy of B in ``--rollout`` mode: ``--shares``, each held a few
    intervals, the gate checked five times an interval."""
    return {
        "steps": [{"share": share, "hold_intervals": args.hold_intervals} for share in args.shares],
        "check_seconds": max(0.1, args.interval / 5),
    }


def _serve(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    exe = Path(sys.executable).with_name("registry")
    full = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    full = full | {"REGISTRY_AUTH": "off"} | env  # benchmarks measure the registry without auth
    log = (workdir / f"registry-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/health/live", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"replica did not start; see {log.name}") from None
            time.sleep(0.05)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# Worker processes -------------------------------------------------------------------------


class _Recording(httpx.AsyncBaseTransport):
    """The default transport, noting when each HEAD (the start of a heartbeat) was sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.heads: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            self.heads.append(time.time())
            del self.heads[:-16]  # only the last few matter
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class _Job:
    """What one agent worker process runs (pickled to a spawned process)."""

    indices: list[int]  # the agents it runs, out of ``total``
    total: int
    url: str
    versions: tuple[str, str]  # A, then B
    interval: float
    out: Queue[tuple[Any, ...]]  # reports to the parent
    ctrl: Queue[Any]  # orders: a start time, then the new replica's URL, then None to stop


def _worker(job: _Job) -> None:
    """Run one worker's agents until the parent says stop."""
    asyncio.run(_agents(job))


async def _agents(job: _Job) -> None:
    version_a, version_b = job.versions
    on_a: set[int] = set()

    transports = {i: _Recording() for i in job.indices}

    def recorder(i: int) -> Any:
        def on_config(update: ConfigUpdate) -> None:
            if update.version == version_a and i not in on_a:
                on_a.add(i)
                if len(on_a) == len(job.indices):
                    job.out.put(("on_a", len(job.indices)))
            elif update.version == version_b:
                job.out.put(("applied", i, time.time(), list(transports[i].heads)))

        return on_config

    clients = {
        i: RegistryClient(
            [job.url],
            {"agent_id": f"bench-{i}", "name": "worker", "profile": "worker", "tools": []},
            interval=job.interval,
            backoff=Backoff(base=0.1, cap=1.0),
            on_config=recorder(i),
            transport=transports[i],
        )
        for i in job.indices
    }

    job.out.put(("ready",))
    # Spawned workers take a while to import: one shared start time keeps the grid.
    start_at: float = await asyncio.to_thread(job.ctrl.get)

    async def start(i: int, client: RegistryClient) -> None:
        # Agent i starts at i/total of the interval: phases evenly spread across processes.
        await asyncio.sleep(max(0.0, start_at + job.interval * i / job.total - time.time()))
        await client.run()

    tasks = [asyncio.create_task(start(i, c)) for i, c in clients.items()]
    while (order := await asyncio.to_thread(job.ctrl.get)) is not None:
        for i, c in clients.items():
            if i % 2:  # half the fleet now prefers the new replica
                c.urls = [order, job.url]
    for c in clients.values():
        c.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


# The run ----------------------------------------------------------------------------------


def _collect(out: Queue[tuple[Any, ...]], until: float) -> tuple[Any, ...] | None:
    try:
        return out.get(timeout=max(0.01, until - time.monotonic()))
    except queue.Empty:
        return None


def _run(args: argparse.Namespace, workdir: Path) -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    redis_port = _port()
    redis = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen[bytes]] = []
    ctx = multiprocessing.get_context("spawn")
    out: Queue[tuple[Any, ...]] = ctx.Queue()
    ctrls: list[Queue[Any]] = [ctx.Queue() for _ in range(args.procs)]
    workers: list[Any] = []
    applied: dict[int, float] = {}
    heads: dict[int, list[float]] = {}
    try:
        version_a = _bundle(workdir / "a", "hi", args.interval)
        version_b = _bundle(
            workdir / "b", "hello", args.interval, _policy(args) if args.rollout else None
        )
        base = {
            "REGISTRY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "REGISTRY_CONFIG_REFRESH": str(args.refresh),
            "REGISTRY_LOG_LEVEL": "warning",
        }
        old, old_url = _serve(
            workdir,
            base | {"REGISTRY_BUNDLE_DIR": str(workdir / "a"), "REGISTRY_DEPLOY_REVISION": "1"},
        )
        procs.append(old)
        for w in range(args.procs):
            job = _Job(
                list(range(w, args.agents, args.procs)),
                args.agents,
                old_url,
                (version_a, version_b),
                args.interval,
                out,
                ctrls[w],
            )
            p = ctx.Process(target=_worker, args=(job,))
            p.start()
            workers.append(p)
        started, until = 0, time.monotonic() + 60
        while started < args.procs and (msg := _collect(out, until)) is not None:
            started += msg[0] == "ready"
        start_at = time.time() + 0.2
        for c in ctrls:
            c.put(start_at)
        ready, until = 0, time.monotonic() + 60 + 2 * args.interval
        while ready < args.agents and (msg := _collect(out, until)) is not None:
            if msg[0] == "on_a":
                ready += msg[1]
        if ready < args.agents:
            print(f"only {ready}/{args.agents} agents applied A within the deadline")
            return 1
        print(f"{args.agents} agents on A over {args.procs} processes; starting revision 2 (B)")
        new, new_url = _serve(
            workdir,
            base | {"REGISTRY_BUNDLE_DIR": str(workdir / "b"), "REGISTRY_DEPLOY_REVISION": "2"},
        )
        procs.append(new)
        served = time.time()
        for c in ctrls:
            c.put(new_url)
        # A rollout holds each step (and its last cohort needs an interval or two more).
        holds = (args.hold_intervals + 2) * len(args.shares) if args.rollout else 0
        until = time.monotonic() + (10 + holds) * args.interval + 10
        while len(applied) < args.agents and (msg := _collect(out, until)) is not None:
            if msg[0] == "applied" and msg[1] not in applied:
                applied[msg[1]], heads[msg[1]] = msg[2], msg[3]
        if args.rollout:
            # The last step is held too before the candidate becomes active.
            deadline = time.monotonic() + (args.hold_intervals + 3) * args.interval + 10
            view = _rollout_over(old_url, deadline)
            starts = _step_starts(view)
            at = starts[0]
            what = "the rollout started"
        else:
            history = httpx.get(f"{old_url}/config/versions", timeout=5).json()["history"]
            activated = next(h for h in history if h["version"] == version_b)
            at, what = _time(activated["at"]), "the activation"
        print(f"revision-2 replica answered {1000 * (served - at):.0f} ms after {what}")
    finally:
        for c in ctrls:
            c.put(None)
        for p in workers:
            p.join(15)
            if p.is_alive():
                p.kill()
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        redis.terminate()
        redis.wait(10)
    if args.rollout:
        return _report_rollout(args, view, starts, applied, heads)
    # Heartbeats from the activation up to the one that brought B (HEADs sent before it).
    beats = [sum(1 for h in heads[i] if at < h <= applied[i]) for i in applied]
    return _report(args, [t - at for t in applied.values()], beats)


def _time(iso: str) -> float:
    """Epoch seconds of an RFC 3339 time the registry answered (Redis time, ms)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _rollout_over(url: str, deadline: float) -> dict[str, Any]:
    """``GET /config/rollout`` until the rollout is over (or ``deadline``); the last view."""
    while True:
        view: dict[str, Any] = httpx.get(f"{url}/config/rollout", timeout=10).json()
        if view["state"] not in ("running", "paused") or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def _step_starts(view: dict[str, Any]) -> dict[int, float]:
    """When each step of the rollout began (its decision's Redis time): step 0 at the start,
    step k at the promotion to it."""
    starts: dict[int, float] = {}
    for d in view["decisions"]:
        if d["rollout"] == view["id"] and d["decision"] in ("start", "promote"):
            starts.setdefault(d["step"], _time(d["at"]))
    return starts


def _report_rollout(
    args: argparse.Namespace,
    view: dict[str, Any],
    starts: dict[int, float],
    applied: dict[int, float],
    heads: dict[int, list[float]],
) -> int:
    """Per step: the time from its start to each agent of its cohort having B."""
    shares = tuple(args.shares)
    print(
        f"agents={args.agents} processes={args.procs} interval={args.interval}s "
        f"refresh={args.refresh}s rollout steps={'/'.join(f'{s:g}%' for s in shares)} "
        f"hold={args.hold_intervals} intervals"
    )
    print(
        f"rollout {view['id']}: {view['state']}"
        + (f" ({view['reason']})" if view.get("reason") else "")
    )
    t0 = starts.get(0, 0.0)
    for d in reversed(view["decisions"]):
        if d["rollout"] == view["id"]:
            print(
                f"  {_time(d['at']) - t0:7.2f} s  {d['decision']:<11} step {d['step']}"
                f"  {d['reason']}"
            )
    missing = args.agents - len(applied)
    print(
        f"reached {len(applied)}/{args.agents} agents"
        + (f" ({missing} MISSING)" if missing else "")
    )
    entry = {
        i: entry_step(bucket("worker", f"bench-{i}", view["id"]), shares)
        for i in range(args.agents)
    }
    first_beat = True
    for step in range(len(shares)):
        cohort = [i for i in range(args.agents) if entry[i] == step]
        at = starts.get(step)
        got = [i for i in cohort if i in applied]
        label = f"step {step} ({shares[step]:g}%): cohort {len(cohort)} agents"
        if at is None or not got:
            print(
                f"{label}, {len(got)} had B" + ("" if at is not None else "; the step never began")
            )
            first_beat = first_beat and not cohort
            continue
        lat = [applied[i] - at for i in got]
        beats = [sum(1 for h in heads[i] if at < h <= applied[i]) for i in got]
        by_first = sum(1 for b in beats if b <= 1)
        first_beat = first_beat and by_first == len(cohort)
        print(
            f"{label}, {len(got)} had B: p50={_pct(lat, 50) * 1000:.0f} ms"
            f"  p99={_pct(lat, 99) * 1000:.0f} ms  max={max(lat) * 1000:.0f} ms"
            f" ({max(lat) / args.interval:.3f} intervals);"
            f" {by_first}/{len(cohort)} by their first heartbeat after the step began"
        )
        if min(lat) < 0:
            print(f"  {sum(1 for x in lat if x < 0)} agents had B before the step began (CLOCK?)")
    verdict = "yes" if first_beat else "NO"
    print(f"every cohort had B from its first heartbeat after its step began: {verdict}")
    return 0 if not missing and view["state"] == "complete" else 1


def _report(args: argparse.Namespace, lat: list[float], beats: list[int]) -> int:
    missing = args.agents - len(lat)
    print(
        f"agents={args.agents} processes={args.procs} interval={args.interval}s "
        f"refresh={args.refresh}s"
    )
    print(f"reached {len(lat)}/{args.agents} agents" + (f" ({missing} MISSING)" if missing else ""))
    if not lat:
        return 1
    p50, p99, mx = _pct(lat, 50), _pct(lat, 99), max(lat)
    print(
        f"propagation after activation: min={min(lat) * 1000:.0f} ms"
        f"  p50={p50 * 1000:.0f} ms  p99={p99 * 1000:.0f} ms"
        f"  max={mx * 1000:.0f} ms  (max = {mx / args.interval:.3f} heartbeat intervals)"
    )
    if args.histogram:
        step = args.interval / 20
        for k in range(int(mx / step) + 1):
            n = sum(1 for x in lat if k * step <= x < (k + 1) * step)
            print(f"  {k * step * 1000:6.0f} ms {n:5d}")
    counts = {n: beats.count(n) for n in sorted(set(beats))}
    print(
        "heartbeats after the activation until the agent had B: "
        + ", ".join(f"{n}: {k} agents" for n, k in counts.items())
    )
    verdict = "within" if mx <= args.interval else "OVER"
    print(f"budget: every agent within one heartbeat interval (wall clock): {verdict}")
    # 0: the HEAD that brought B left just before the activation time and arrived after it.
    verdict = "yes" if max(beats) <= 1 else "NO"
    print(f"every agent had B from its first heartbeat after the activation: {verdict}")
    return 0 if not missing else 1


def main() -> None:
    """Parse arguments and run the benchmark in a temporary directory."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="heartbeat interval (s)")
    parser.add_argument(
        "--refresh", type=float, default=1.0, help="REGISTRY_CONFIG_REFRESH (the default)"
    )
    parser.add_argument("--procs", type=int, default=2, help="agent worker processes")
    parser.add_argument("--histogram", action="store_true", help="print the distribution")
    parser.add_argument(
        "--rollout",
        action="store_true",
        help="B carries a rollout policy: report each step reaching its cohort",
    )
    parser.add_argument(
        "--shares",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[10.0, 50.0, 100.0],
        help="--rollout: the steps' shares in per cent (default 10,50,100)",
    )
    parser.add_argument(
        "--hold-intervals", type=int, default=3, help="--rollout: each step's hold (intervals)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raise SystemExit(_run(args, Path(tmp)))


if __name__ == "__main__":
    main()
