"""The benchmark harness: one run, one machine, ratios against the framework ceiling.

    python -m loadtests.bench                         # 1k and 100k agents, 10 s per figure
    python -m loadtests.bench --agents 50 --large 200 --duration 1   # dry run (tests)

It starts its own ``redis-server`` (no persistence), one ``registry serve`` and the trivial
ceiling app (same uvicorn options, same worker count), registers fleets straight through the
store, drives HTTP with wrk (:mod:`loadtests.wrkrun`) and writes
``loadtests/results/latest.json``. With two or more cores the servers run on core 0 and wrk
plus Redis on core 1, so the client never steals the server's CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis

from loadtests import coldstart, report
from loadtests.bench_rows import (
    get_calls,
    idle_longpoll,
    longpoll_wake,
    memory_breakdown,
    sweep_work,
)
from loadtests.bodies import LOOKUP_CAPABILITY, LOOKUP_PROVIDERS, lookup_provider_body
from loadtests.procs import Proc, start_redis, start_registry, start_trivial, stopping
from loadtests.seed import (
    BENCH_ENV,
    fleet,
    measure_calls,
    seed,
    used_memory,
    write_bodies,
)
from loadtests.wrkrun import WrkResult, ensure_wrk, run_wrk

RESULTS = Path(__file__).with_name("results") / "latest.json"
LOOKUP_PATH = f"/capabilities/{LOOKUP_CAPABILITY}/providers"
#: The sweeper is parked: seeded agents are not due for an hour, so a pass would only add its
#: fixed per-pass commands to the per-heartbeat counts. Its cost is per pass, not per request.
PARKED_SWEEPER = {"REGISTRY_SWEEP_INTERVAL": "3600"}


def default_cpus() -> tuple[str | None, str | None]:
    """(server cores, client cores): split when there are at least two cores."""
    n = os.cpu_count() or 1
    if n < 2:
        return None, None
    return "0", ",".join(str(i) for i in range(1, n))


class Bench:
    """Shared options of every wrk run in one harness invocation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.duration: float = args.duration
        self.connections: int = args.connections
        self.client_cpus: str | None = args.client_cpus

    def wrk(self, proc: Proc, mode: list[str], *, connections: int | None = None) -> WrkResult:
        """One measurement against ``proc``."""
        return run_wrk(
            proc.url,
            mode,
            duration=self.duration,
            connections=connections or self.connections,
            cpus=self.client_cpus,
            server_pid=proc.proc.pid,
        )


def etag_of(url: str) -> str:
    """The ETag a GET of ``url`` answers with."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        tag = resp.headers.get("ETag")
    if not tag:
        raise RuntimeError(f"{url} answered without an ETag")
    return str(tag)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure everything; return the JSON document (see ``report.KEYS``)."""
    ensure_wrk()
    b = Bench(args)
    small, large = args.agents, max(args.large, args.agents)
    out: dict[str, Any] = {"meta": meta(args)}
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp, stopping([]) as procs:
        work = Path(tmp)
        rds = start_redis(work, cpus=args.client_cpus)
        procs.append(rds)
        url = f"redis://127.0.0.1:{rds.port}/0"
        if args.coldstart_runs:  # first, while nothing else of the harness runs
            from loadtests.run import build_bundle

            build_bundle(work / "bundle")
            out["cold_start"] = coldstart.measure(
                work, url, work / "bundle", args.coldstart_runs, args.server_cpus
            )
        env = {**BENCH_ENV, **PARKED_SWEEPER}
        reg = start_registry(work, url, workers=args.workers, cpus=args.server_cpus, env=env)
        procs.append(reg)
        trivial = start_trivial(work, workers=args.workers, cpus=args.server_cpus)
        procs.append(trivial)
        r = redis.Redis(port=rds.port)
        try:
            out["trivial"] = b.wrk(trivial, ["get", "/trivial"]).as_dict()
            trivial.stop()  # idle, but nothing else should share the server core

            seed(url, (lookup_provider_body(i) for i in range(LOOKUP_PROVIDERS)))
            mem0 = used_memory(r)
            seed(url, fleet(0, small))
            head = ["head", "agent", str(small)]
            out["head_small"] = b.wrk(reg, head).as_dict()
            out["head_calls"] = measure_calls(r, lambda: sequential(reg.port, head, args.count))
            out["workers"] = spread_run(b, work, url, env, head, args)
            bodies = str(write_bodies(work / "bodies.jsonl", small, tools=2))
            out["post_small"], out["post_calls"] = _counted(r, b, reg, ["post", bodies], args.count)
            out["lookup_small"] = b.wrk(reg, ["get", LOOKUP_PATH], connections=4).as_dict()
            out["discovery_full"] = b.wrk(reg, ["get", LOOKUP_PATH]).as_dict()
            tag = etag_of(reg.url + LOOKUP_PATH)
            out["discovery_304"] = b.wrk(reg, ["get", LOOKUP_PATH, tag]).as_dict()
            out["longpoll_idle"] = idle_longpoll(
                r, reg.url + LOOKUP_PATH, tag, wait_s=args.longpoll_wait
            )
            out["capabilities_calls"] = get_calls(r, reg.port, "/capabilities", 20)

            mem1 = used_memory(r)
            seed(url, fleet(small, large))
            mem2 = used_memory(r)
            out["memory"] = {
                "agents": large,
                "tools_per_agent": 2,
                "used_memory_bytes": mem2,
                "bytes_per_agent": round((mem2 - mem0) / large, 1),
                "bytes_per_agent_marginal": round((mem2 - mem1) / max(large - small, 1), 1),
                "by_kind": memory_breakdown(r, large),
            }
            out["head_large"] = b.wrk(reg, ["head", "agent", str(large)]).as_dict()
            out["lookup_large"] = b.wrk(reg, ["get", LOOKUP_PATH], connections=4).as_dict()
            extra = [lookup_provider_body(LOOKUP_PROVIDERS + i) for i in range(5)]
            out["longpoll_wake"] = longpoll_wake(
                reg.url, LOOKUP_PATH, [json.dumps(body).encode() for body in extra]
            )
            reg.stop()  # parked anyway; the sweep figure wants the server core to itself
            out["sweep"] = sweep_work(r, work, url, BENCH_ENV, cpus=args.server_cpus)
        finally:
            r.close()
    out["ratios"] = report.ratios(out)
    return out


def _counted(
    r: redis.Redis, b: Bench, reg: Proc, mode: list[str], count: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A wrk run, then the Redis commands per request over ``count`` exact requests.

    The commands are counted over a sequential keep-alive client rather than the wrk run:
    wrk does not count the requests still in flight when it stops, which would overstate the
    per-request figure by up to ``connections / requests``.
    """
    result = b.wrk(reg, mode)
    calls = measure_calls(r, lambda: sequential(reg.port, mode, count))
    return result.as_dict(), calls


def spread_run(
    b: Bench, work: Path, url: str, env: dict[str, str], head: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """The HEAD workload against ``--spread-workers`` workers: requests answered by each."""
    prom = work / "prom"  # per-process counter files: the requests each worker answered
    prom.mkdir(exist_ok=True)
    n = args.spread_workers
    extra = {**env, "PROMETHEUS_MULTIPROC_DIR": str(prom)}
    proc = start_registry(work, url, workers=n, cpus=args.server_cpus, env=extra)
    try:
        before = heads_by_worker(prom)
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(b.wrk, proc, head)
            time.sleep(max(b.duration, 1) / 2)
            conns = connections_by_pid(proc.proc.pid, proc.port)
            result = running.result()
        spread = _spread(before, heads_by_worker(prom), n)
        fair = sum(conns.values()) / n if n else 0
        low = min([*conns.values(), *[0] * max(0, n - len(conns))]) if conns else 0
        return {
            **spread,
            "connections_by_pid": conns,
            "min_connections_over_fair": round(low / fair, 3) if fair else 0.0,
            "rps": result.as_dict()["rps"],
        }
    finally:
        proc.stop()


def connections_by_pid(root: int, port: int) -> dict[str, int]:
    """Established connections to ``port`` held by each process under ``root`` (/proc)."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":
                    established.add(f[9])
    out: dict[str, int] = {}
    for pid in descendants(root):
        n = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in established:
                        n += 1
        if n:
            out[str(pid)] = n
    return out


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return found


def heads_by_worker(prom_dir: Path) -> dict[str, int]:
    """HEAD heartbeats answered so far by each worker process (pid), from the counter files
    prometheus_client keeps per process in ``PROMETHEUS_MULTIPROC_DIR``."""
    from prometheus_client.mmap_dict import MmapedDict

    out: dict[str, int] = {}
    for path in sorted(prom_dir.glob("counter_*.db")):
        total = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            _, name, labels, _ = json.loads(key)
            if name == "registry_heartbeats_total" and labels.get("kind") == "head":
                total += value
        out[path.stem.removeprefix("counter_")] = int(total)
    return out


def _spread(before: dict[str, int], after: dict[str, int], workers: int) -> dict[str, Any]:
    """Requests per worker over one run, and the least-loaded worker's share of a fair one."""
    per = {pid: n - before.get(pid, 0) for pid, n in after.items()}
    per = {pid: n for pid, n in per.items() if n} or per
    counts = list(per.values()) + [0] * max(0, workers - len(per))  # idle workers count
    total = sum(counts)
    fair = total / workers if workers else 0
    return {
        "workers": workers,
        "requests_by_pid": per,
        "min_over_fair": round(min(counts) / fair, 3) if fair else 0.0,
    }


def sequential(port: int, mode: list[str], count: int) -> int:
    """``count`` requests of the wrk ``mode`` over one keep-alive connection; all must be 2xx."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    bodies = Path(mode[1]).read_bytes().splitlines() if mode[0] == "post" else []
    try:
        for i in range(count):
            if mode[0] == "head":
                conn.request("HEAD", f"/heartbeat/{mode[1]}-{i % int(mode[2])}")
            else:
                conn.request(
                    "POST",
                    "/heartbeat",
                    body=bodies[i % len(bodies)],
                    headers={"Content-Type": "application/json"},
                )
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"{mode[0]} answered {resp.status} during the command count")
    finally:
        conn.close()
    return count


def meta(args: argparse.Namespace) -> dict[str, Any]:
    """Where and how this run was measured."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "server_cpus": args.server_cpus,
        "client_cpus": args.client_cpus,
        "tool": "wrk 1 thread + loadtests/wrk/bench.lua",
        "command": " ".join([Path(sys.executable).name, "-m", "loadtests.bench", *sys.argv[1:]]),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parser() -> argparse.ArgumentParser:
    """Command-line options of the harness."""
    server, client = default_cpus()
    p = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__)
    p.add_argument("--agents", type=int, default=1000, help="small fleet (default 1000)")
    p.add_argument("--large", type=int, default=100_000, help="large fleet (default 100000)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument("--server-cpus", default=server, help="taskset list for servers")
    p.add_argument("--client-cpus", default=client, help="taskset list for wrk and Redis")
    p.add_argument("--count", type=int, default=1000, help="requests per command count")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    p.add_argument("--spread-workers", type=int, default=2, help="workers of the spread run")
    p.add_argument("--coldstart-runs", type=int, default=5, help="starts per cold-start setup")
    p.add_argument("--longpoll-wait", type=float, default=3.0, help="idle long-poll seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the harness, print the table, write the JSON."""
    args = parser().parse_args(argv)
    out = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(report.table(out))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
