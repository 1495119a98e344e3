"""The fault-injection suite (not a test): real replicas, real Redis, a simulated fleet.

Each scenario runs on a fresh Redis topology with two ``registry serve`` replicas on loopback
and ~300 simulated agents in this process (asyncio + httpx; :mod:`loadtests.faults_fleet`),
with a 1 s heartbeat interval, expire_after 4 s and ``REGISTRY_REDIS_TIMEOUT=1.0``:

    (a) SIGKILL one replica, restart it 5 s later
    (b) restart Redis empty (SIGKILL, start again on the same port, no persistence)
    (c) SIGSTOP Redis for 2 s, then SIGCONT
    (d) a Sentinel failover (1 master, 1 replica, 3 sentinels; master SIGKILLed)
    (e) a Redis Cluster failover (3 masters + 3 replicas; CLUSTER FAILOVER on a replica)
    (f) SIGKILL half the agents

It prints one table, writes every figure to ``loadtests/results/faults-latest.json`` and
exits 1 when a goal is missed, naming it. loadtests/README.md explains each column.

    make faults    # = python -m loadtests.faults
    python -m loadtests.faults --agents 40 --scenarios a,c
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from loadtests.faults_figures import SHORT, TITLES, Config
from loadtests.faults_scenarios import run_scenario

RESULTS = Path(__file__).resolve().parent / "results" / "faults-latest.json"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


_NOTES = {
    "replica_down_s": "down",
    "restart_s": "cold start",
    "redis_down_s": "Redis back in",
    "redis_stopped_s": "stopped",
    "failover_s": "failover",
}


def _fault_note(f: dict[str, Any]) -> str:
    notes = f.get("fault", {})
    parts = ["sweep leader killed"] if notes.get("killed_sweep_leader") else []
    parts += [f"{label} {notes[k]:g} s" for k, label in _NOTES.items() if k in notes]
    unwired = f.get("unwired")
    if unwired:
        parts.append(
            f"{unwired['killed']} killed, unwired max {_num(unwired['max_s'])} s "
            f"(listing {_num(unwired['listing_max_s'])} s; bound {unwired['bound_s']:g} s)"
        )
    return "; ".join(parts)


def table(results: list[dict[str, Any]]) -> Table:
    t = Table(title="Fault injection: false expiries, 410s and 5xx by scenario")
    for name in (
        "scenario",
        "false exp. (ev/exp/abs/cons)",
        "410 live",
        "5xx≠503",
        "503",
        "conn/timeout",
        "slowest s",
        "re-reg s",
        "listing = fleet",
        "fault",
        "goals",
    ):
        t.add_column(name, overflow="fold")
    for f in results:
        if "evidence" not in f:
            t.add_row(
                f"({f['scenario']}) {SHORT[f['scenario']]}",
                *["-"] * 9,
                "MISSED: " + "; ".join(f["goals_missed"]),
            )
            continue
        e = f["evidence"]
        evidence = (
            f"{e['expire_events']}/{e['listed_expired']}/"
            f"{e['absent_from_listing']}/{e['missing_from_consumer']}"
        )
        t.add_row(
            f"({f['scenario']}) {SHORT[f['scenario']]}",
            f"{f['false_expiries']} ({evidence})",
            str(f["gone_410"]) + (" (data loss)" if f["scenario"] == "b" else ""),
            str(f["http_5xx_other"]),
            str(f["http_503"]),
            f"{f['conn_errors']}/{f['timeouts']}",
            _num(f["slowest_s"]),
            _num(f["reregistration_s"]),
            "yes" if f["listing_equals_fleet"] else "NO",
            _fault_note(f),
            "ok" if not f["goals_missed"] else "MISSED: " + "; ".join(f["goals_missed"]),
        )
    return t


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip()
    except OSError:
        return ""


async def _run_one(key: str, cfg: Config, work: Path) -> dict[str, Any]:
    started = time.monotonic()
    print(f"({key}) {TITLES[key]} ...", flush=True)
    try:
        figures = await run_scenario(key, cfg, work / key)
    except Exception as exc:  # a broken setup is reported, and the suite goes on
        figures = {"scenario": key, "title": TITLES[key], "goals_missed": [repr(exc)]}
    figures["runtime_s"] = round(time.monotonic() - started, 1)
    print(f"({key}) done in {figures['runtime_s']} s", flush=True)
    return figures


async def _run_all(keys: list[str], cfg: Config, work: Path) -> list[dict[str, Any]]:
    return [await _run_one(k, cfg, work) for k in keys]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=300, help="simulated agents in all")
    parser.add_argument("--consumers", type=int, default=4, help="of which consumers")
    parser.add_argument("--scenarios", default="a,b,c,d,e,f", help="comma-separated keys")
    parser.add_argument("--interval", type=float, default=1.0, help="heartbeat interval (s)")
    parser.add_argument("--expire-after", type=float, default=4.0, help="expire_after (s)")
    parser.add_argument("--redis-timeout", type=float, default=1.0)
    parser.add_argument("--settle", type=float, help="wait after the fault (s)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON output")
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.scenarios.split(",") if k.strip()]
    unknown = [k for k in keys if k not in TITLES]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {','.join(TITLES)}")
    if shutil.which("redis-server") is None:
        parser.error("redis-server is not installed (make redis-server)")
    cfg = Config(
        agents=args.agents,
        consumers=args.consumers,
        interval=args.interval,
        expire_after=args.expire_after,
        redis_timeout=args.redis_timeout,
        settle=args.settle,
    )
    started = datetime.now(UTC)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(_run_all(keys, cfg, args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
            results = asyncio.run(_run_all(keys, cfg, Path(tmp)))
    Console(width=200).print(table(results))
    report = {
        "meta": {
            "date": started.isoformat(timespec="seconds"),
            "commit": _commit(),
            "host": platform.node(),
            "config": cfg.__dict__ | {"settle_s": cfg.settle_s, "unwire_bound_s": cfg.unwire_bound},
        },
        "scenarios": {f["scenario"]: f for f in results},
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures: {args.results}")
    failed = [f for f in results if f["goals_missed"]]
    for f in failed:
        print(f"GOAL MISSED ({f['scenario']}) {f['title']}: {'; '.join(f['goals_missed'])}")
    print("faults: every goal met" if not failed else f"faults: {len(failed)} scenario(s) missed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
