"""Benchmark: HEAD /heartbeat during a config rollout against HEAD without one, one replica.

One measured replica (revision 1, bundle A, pinned to the server core) and Redis share one
machine. N agents of profile ``worker`` register reporting A's version. Each round, wrk
measures HEAD with no rollout; then a peer replica (on the client cores, idle) starts with a
higher revision and a bundle whose policy holds each step for an hour (50% -> 100%): its
bundle becomes the candidate of a rollout that stays at step 0. Every agent POSTs once more
(during a rollout a HEAD answers 202 until the agent's POST places it in its cohort) and
reports the version it was served; about half run the candidate. wrk measures HEAD again on
the same replica, which now passes the rollout to ``touch.lua`` on every HEAD. Then the peer
stops, the rollout ends with its claim (aborted), and every agent is back on A for the next
round, whose rollout has a new candidate and so draws a new canary.

The goal: HEAD during a rollout at least 0.95x HEAD without one, by throughput and by
server CPU per request, and still one EVALSHA per HEAD. Rounds alternate the two phases,
so load from elsewhere on the machine falls on both; each ratio is the median of the rounds'
ratios (and the figures the medians of the runs). The
replicas' background loops (sweeper, drift, config refresh, rollout gate) are parked, so the
figures are the HEAD alone and the EVALSHA count is exact.

    python -m loadtests.bench_rollout            # 1,000 agents, 5 rounds of 2 x 5 s
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis

from loadtests.bench import meta
from loadtests.bodies import agent_body
from loadtests.procs import Proc, start_redis, start_registry, stopping
from loadtests.seed import (
    BENCH_THRESHOLDS,
    measure_calls,
    one_profile_bundle,
    sequential_heads,
)
from loadtests.wrkrun import ensure_wrk, run_wrk

RESULTS = Path(__file__).with_name("results") / "rollout-latest.json"
PROFILE = "worker"
GOAL = 0.95
#: Holds far longer than the run: the rollout stays at step 0, half the fleet on each bundle.
POLICY = {
    "steps": [{"share": 50, "hold_seconds": 3600}, {"share": 100, "hold_seconds": 3600}],
    "check_seconds": 3600,
}
#: Background loops parked: a claim, a drift pass or a gate check is not part of a HEAD.
QUIET = {
    "REGISTRY_SWEEP_INTERVAL": "3600",
    "REGISTRY_DRIFT_INTERVAL": "3600",
    "REGISTRY_CONFIG_REFRESH": "600",
    "REGISTRY_CONFIG_CLAIM_TTL": "1800",
}


def bundle(out: Path, model: str, rollout: dict[str, Any] | None) -> str:
    """Write a one-profile bundle (the bench thresholds) to ``out``; its version."""
    return one_profile_bundle(out, PROFILE, {"model": model}, BENCH_THRESHOLDS, rollout)


def body(i: int, version: str) -> dict[str, Any]:
    """Agent ``bench-i`` (the bench's two-tool shape) reporting ``version``, applied."""
    return {
        **agent_body(i, prefix="bench"),
        "profile": PROFILE,
        "config_version": version,
        "config_status": "applied",
    }


def post_all(port: int, versions: dict[int, str], threads: int = 4) -> dict[int, str]:
    """POST every agent ``i`` reporting ``versions[i]``; the version each was served.

    An agent served another version POSTs again reporting it (applied), as a client does.
    """

    def part(indices: list[int]) -> dict[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        served: dict[int, str] = {}

        def post(i: int, version: str) -> str:
            conn.request(
                "POST",
                "/heartbeat",
                body=json.dumps(body(i, version)),
                headers={"Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"POST answered {resp.status}: {data[:300]!r}")
            return str(json.loads(data)["config"]["version"])

        try:
            for i in indices:
                served[i] = post(i, versions[i])
                if served[i] != versions[i]:
                    post(i, served[i])
        finally:
            conn.close()
        return served

    ids = sorted(versions)
    out: dict[int, str] = {}
    with ThreadPoolExecutor(threads) as pool:
        for got in pool.map(part, [ids[k::threads] for k in range(threads)]):
            out.update(got)
    return out


def head_status(port: int, agent: int) -> int:
    """The status of one HEAD of agent ``bench-agent``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("HEAD", f"/heartbeat/bench-{agent}")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def get_json(url: str) -> Any:
    """GET ``url`` and decode its JSON answer."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def wrk_head(args: argparse.Namespace, reg: Proc, duration: float | None = None) -> dict[str, Any]:
    """One wrk run of HEAD against ``reg``; every answer must be 200."""
    result = run_wrk(
        reg.url,
        ["head", "bench", str(args.agents)],
        duration=duration or args.duration,
        connections=args.connections,
        cpus=args.client_cpus,
        server_pid=reg.proc.pid,
    )
    if set(result.status) != {"200"}:
        raise RuntimeError(f"unexpected statuses {result.status}")
    cpu = round(result.cpu_us or 0.0, 2)
    return {"rps": round(result.rps, 1), "cpu_us": cpu, "p99_ms": result.p99_ms}


def head_calls(args: argparse.Namespace, rds: Proc, reg: Proc) -> dict[str, Any]:
    """Redis commands per HEAD over ``--count`` sequential HEADs (INFO commandstats)."""
    r = redis.Redis(port=rds.port)
    try:
        before = evalsha_usec(r)
        calls = measure_calls(r, lambda: sequential_heads(reg.port, args.agents, args.count))
        # Redis' own time in the scripts: what the rollout adds to touch.lua, without the
        # noise of the HTTP side (nothing else runs a script meanwhile: the loops are parked).
        calls["redis_us_per_request"] = round((evalsha_usec(r) - before) / args.count, 2)
        return calls
    finally:
        r.close()


def evalsha_usec(r: redis.Redis) -> int:
    """Microseconds Redis spent in EVALSHA since it started (``INFO commandstats``)."""
    info: dict[str, Any] = r.info("commandstats")
    return int(info.get("cmdstat_evalsha", {}).get("usec", 0))


def wait_state(reg: Proc, state: str) -> dict[str, Any]:
    """``GET /config/rollout`` of ``reg`` until the rollout is in ``state``; that view.

    Each read refreshes the replica from Redis, so it serves what it answers at once (its
    own refresh loop is parked).
    """
    deadline = time.monotonic() + 30
    while True:
        view: dict[str, Any] = get_json(f"{reg.url}/config/rollout")
        if view["state"] == state:
            return view
        if time.monotonic() > deadline:
            raise RuntimeError(f"the rollout is {view['state']}, not {state}")
        time.sleep(0.1)


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over ``runs``, and the runs."""
    figures = {k: round(statistics.median(x[k] for x in runs), 3) for k in runs[0]}
    return {**figures, "runs": runs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure HEAD without a rollout and during one, alternating, on the same replica."""
    ensure_wrk()
    out: dict[str, Any] = {"meta": {**meta(args), "rounds": args.rounds, "agents": args.agents}}
    out["meta"]["loadavg_before"] = round(os.getloadavg()[0], 2)  # other load on the machine
    out["meta"]["command"] = " ".join(
        [Path(sys.executable).name, "-m", "loadtests.bench_rollout", *sys.argv[1:]]
    )
    without: list[dict[str, Any]] = []
    during: list[dict[str, Any]] = []
    rollouts: list[dict[str, Any]] = []
    calls: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="registry-bench-rollout-") as tmp,
        stopping([]) as procs,
    ):
        work = Path(tmp)
        version_a = bundle(work / "a", "small", None)
        # One candidate per round: a candidate that was rolled back stays refused.
        candidates = [bundle(work / f"b{r}", f"large-{r}", POLICY) for r in range(args.rounds)]
        rds = start_redis(work, cpus=args.client_cpus)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"

        def replica(revision: int, path: Path, cpus: str | None) -> Proc:
            env = {
                **QUIET,
                "REGISTRY_BUNDLE_DIR": str(path),
                "REGISTRY_DEPLOY_REVISION": str(revision),
            }
            proc = start_registry(work, url, cpus=cpus, env=env)
            procs.append(proc)
            return proc

        reg = replica(1, work / "a", args.server_cpus)
        served = post_all(reg.port, dict.fromkeys(range(args.agents), version_a))
        if set(served.values()) != {version_a}:
            raise RuntimeError("agents were not all served A before the rollout")
        wrk_head(args, reg, 1.0)  # warm-up after the POSTs; not counted
        for r, version_b in enumerate(candidates):
            without.append(wrk_head(args, reg))
            if not r:
                calls["without"] = head_calls(args, rds, reg)
            # A higher revision whose bundle has a policy: a rollout starts, at step 0.
            peer = replica(2 + r, work / f"b{r}", args.client_cpus)
            wait_state(reg, "running")
            first = head_status(reg.port, 0)
            if first != 202:
                raise RuntimeError(f"HEAD of an unplaced agent answered {first}, not 202")
            served = post_all(reg.port, served)
            view = wait_state(reg, "running")
            (worker,) = (p for p in view["profiles"] if p["profile"] == PROFILE)
            on_b = sum(1 for v in served.values() if v == version_b)
            rollouts.append(
                {
                    "id": view["id"],
                    "step": view["step"],
                    "share": worker["share"],
                    "on_candidate": on_b,
                    "on_baseline": args.agents - on_b,
                    "first_head_status": first,
                    "cohorts": {"candidate": worker["candidate"], "baseline": worker["baseline"]},
                }
            )
            during.append(wrk_head(args, reg))
            if not r:
                calls["during"] = head_calls(args, rds, reg)
            if wait_state(reg, "running")["step"] != 0:
                raise RuntimeError("the rollout moved on during the measurement")
            # The candidate's replica goes away: the rollout ends, everyone is on A again.
            peer.stop()
            wait_state(reg, "aborted")
            served = post_all(reg.port, served)
            if set(served.values()) != {version_a}:
                raise RuntimeError("agents were not all served A after the rollout ended")
    out["meta"]["loadavg_after"] = round(os.getloadavg()[0], 2)
    out["without"], out["during"] = median(without), median(during)
    out["rollouts"], out["calls"] = rollouts, calls
    # Each round's two runs are back to back: the median of the rounds' ratios follows the
    # rollout's cost more closely than the ratio of the medians when other load comes and goes.
    pairs = list(zip(without, during, strict=True))
    out["ratio_rps"] = ratio([(d["rps"], w["rps"]) for w, d in pairs])
    out["ratio_cpu"] = ratio([(w["cpu_us"], d["cpu_us"]) for w, d in pairs])
    w, d = out["without"], out["during"]
    out["ratio_of_medians"] = {
        "rps": ratio([(d["rps"], w["rps"])]),
        "cpu": ratio([(w["cpu_us"], d["cpu_us"])]),
    }
    return out


def ratio(pairs: list[tuple[float, float]]) -> float | None:
    """The median of ``a / b`` over ``pairs`` (``None`` when no ``b`` is positive)."""
    values = [a / b for a, b in pairs if b > 0]
    return round(statistics.median(values), 3) if values else None


def verdict(ratio: float | None) -> str:
    """``met`` or ``NOT met`` against :data:`GOAL`."""
    return "met" if ratio is not None and ratio >= GOAL else "NOT met"


def main(argv: list[str] | None = None) -> int:
    """``python -m loadtests.bench_rollout``: print the figures and the ratios to the goal."""
    p = argparse.ArgumentParser(prog="python -m loadtests.bench_rollout", description=__doc__)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=5, help="without/during alternations")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--count", type=int, default=1000, help="HEADs for the round-trip count")
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = p.parse_args(argv)
    args.workers = 1  # what bench.meta reports
    out = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    w, d, calls = out["without"], out["during"], out["calls"]
    for ro in out["rollouts"]:
        print(
            f"rollout {ro['id']} at step {ro['step']} ({ro['share']:g}%):"
            f" {ro['on_candidate']} agents on the candidate, {ro['on_baseline']} on the baseline"
        )
    print(
        f"HEAD during a rollout / without: {out['ratio_rps']}x req/s"
        f" (medians {d['rps']:.0f} vs {w['rps']:.0f}; goal >= {GOAL}: {verdict(out['ratio_rps'])})"
    )
    print(
        f"HEAD during a rollout / without: {out['ratio_cpu']}x by CPU per request"
        f" (medians {d['cpu_us']:.1f} vs {w['cpu_us']:.1f} us; goal >= {GOAL}:"
        f" {verdict(out['ratio_cpu'])})"
    )
    print(
        f"EVALSHA per HEAD: {calls['without']['evalsha_per_request']} without,"
        f" {calls['during']['evalsha_per_request']} during a rollout (goal 1)"
    )
    print(
        f"Redis time per HEAD: {calls['without']['redis_us_per_request']} us without,"
        f" {calls['during']['redis_us_per_request']} us during a rollout"
    )
    print(
        f"load average (1 min) of the machine: {out['meta']['loadavg_before']} before,"
        f" {out['meta']['loadavg_after']} after"
    )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
