"""Ratios and goals (DESIGN.md §6) from a harness run, and the table it prints."""

from __future__ import annotations

from typing import Any

#: Keys every results document has (the dry-run test checks them).
KEYS = (
    "meta",
    "trivial",
    "head_small",
    "head_calls",
    "workers",
    "cold_start",
    "longpoll_idle",
    "longpoll_wake",
    "capabilities_calls",
    "sweep",
    "post_small",
    "post_calls",
    "lookup_small",
    "discovery_full",
    "discovery_304",
    "memory",
    "head_large",
    "lookup_large",
    "ratios",
)


def _div(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def ratios(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each ratio with its goal and whether it was met."""
    small, large = out["head_small"], out["head_large"]
    lk_s, lk_l = out["lookup_small"], out["lookup_large"]
    figures = {
        "head_vs_trivial": (_div(small["rps"], out["trivial"]["rps"]), ">=", 0.7),
        "head_vs_trivial_cpu": (
            _div(out["trivial"]["cpu_us_per_request"] or 0.0, small["cpu_us_per_request"] or 0.0),
            ">=",
            0.7,
        ),
        "post_vs_trivial": (_div(out["post_small"]["rps"], out["trivial"]["rps"]), None, None),
        "head_large_vs_small": (_div(large["rps"], small["rps"]), ">=", 0.9),
        "lookup_p50_large_vs_small": (_div(lk_l["p50_ms"], lk_s["p50_ms"]), "<=", 1.5),
        "lookup_p99_large_vs_small": (_div(lk_l["p99_ms"], lk_s["p99_ms"]), "<=", 1.5),
        "etag_304_vs_full": (
            _div(out["discovery_304"]["rps"], out["discovery_full"]["rps"]),
            None,
            None,
        ),
        "evalsha_per_head": (out["head_calls"]["evalsha_per_request"], "==", 1.0),
        "round_trips_per_head": (out["head_calls"]["round_trips_per_request"], "==", 1.0),
        "evalsha_per_post": (out["post_calls"]["evalsha_per_request"], "==", 1.0),
        "round_trips_per_post": (out["post_calls"]["round_trips_per_request"], "==", 1.0),
        "bytes_per_agent": (out["memory"]["bytes_per_agent"], "<=", 1024.0),
    }
    # Connections spread: the least-loaded worker gets at least 3/4 of a fair share.
    figures["workers_min_connections_over_fair"] = (
        out["workers"]["min_connections_over_fair"],
        ">=",
        0.75,
    )
    figures["workers_min_requests_over_fair"] = (out["workers"]["min_over_fair"], None, None)
    figures["post_vs_trivial"] = (figures["post_vs_trivial"][0], ">=", 0.4)
    figures["etag_304_vs_full"] = (figures["etag_304_vs_full"][0], ">=", 5.0)
    # One blocked XREAD per replica while nothing changes, whatever the number of waiters.
    figures["longpoll_idle_commands_per_s"] = (
        out["longpoll_idle"]["commands_per_second"],
        "<=",
        2.0,
    )
    figures["longpoll_wake_median_ms"] = (out["longpoll_wake"]["median_ms"], "<=", 100.0)
    figures["round_trips_per_capabilities_get"] = (
        out["capabilities_calls"]["round_trips_per_request"],
        "==",
        1.0,
    )
    figures["sweep_passes_3_vs_1_replicas"] = (out["sweep"]["ratio_3_vs_1"], "<=", 1.2)
    for name, cs in out.get("cold_start", {}).items():
        figures[f"cold_start_{name}_median_s"] = (cs["median_s"], "<=", cs["goal_s"])
    return {name: _goal(value, op, goal) for name, (value, op, goal) in figures.items()}


def _goal(value: float, op: str | None, goal: float | None) -> dict[str, Any]:
    if op is None or goal is None:
        return {"value": value, "goal": None, "met": None}
    met = {">=": value >= goal, "<=": value <= goal, "==": abs(value - goal) < 0.005}[op]
    return {"value": value, "goal": f"{op} {goal:g}", "met": met}


def _row(label: str, w: dict[str, Any]) -> str:
    return (
        f"| {label} | {w['rps']:,.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | "
        f"{w.get('cpu_us_per_request') or 0:.0f} | {w['requests']:,} | {w['errors']} | "
        f"{_codes(w['status'])} |"
    )


def _codes(status: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in status.items())


def table(out: dict[str, Any]) -> str:
    """Markdown: the workloads, then the ratios against their goals."""
    m = out["meta"]
    n_small, n_large = out["head_calls"]["requests"], out["memory"]["agents"]
    lines = [
        f"{m['date']} · {m['cores']} cores ({m['cpu']}) · {m['workers']} worker(s) · "
        f"wrk -t1 -c{m['connections']} {m['duration_s']:g}s · server cpus {m['server_cpus']} · "
        f"client cpus {m['client_cpus']}",
        "",
        "| workload | req/s | p50 ms | p99 ms | server CPU µs/req | requests | errors | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        _row("trivial JSON endpoint (ceiling)", out["trivial"]),
        _row("HEAD /heartbeat, small fleet", out["head_small"]),
        _row("POST /heartbeat, small fleet", out["post_small"]),
        _row("HEAD /heartbeat, large fleet", out["head_large"]),
        _row("providers lookup, small fleet (c=4)", out["lookup_small"]),
        _row("providers lookup, large fleet (c=4)", out["lookup_large"]),
        _row("providers, full 200", out["discovery_full"]),
        _row("providers, If-None-Match 304", out["discovery_304"]),
        "",
        f"HEAD requests measured: {n_small:,}; large fleet: {n_large:,} agents; "
        f"memory {out['memory']['bytes_per_agent']:.0f} B/agent "
        f"(marginal {out['memory']['bytes_per_agent_marginal']:.0f} B/agent)",
        f"HEAD requests by worker (pid), {out['workers']['workers']} workers: "
        + ", ".join(f"{pid}: {n:,}" for pid, n in out["workers"]["requests_by_pid"].items())
        + "; connections: "
        + ", ".join(f"{pid}: {n}" for pid, n in out["workers"]["connections_by_pid"].items()),
        f"idle long-poll: {out['longpoll_idle']['redis_commands']} Redis commands in "
        f"{out['longpoll_idle']['window_s']:g} s while {out['longpoll_idle']['waiters']} "
        f"requests waited {out['longpoll_idle']['wait_s']:g} s each"
        f" ({out['longpoll_idle']['statuses']})",
        f"long-poll woken after a change: {out['longpoll_wake']['samples_ms']} ms",
        f"GET /capabilities: {out['capabilities_calls']['round_trips_per_request']} round trips,"
        f" {out['capabilities_calls']['evalsha_per_request']} EVALSHA per request",
        f"sweep passes/s, interval 0.2 s: 1 replica {out['sweep']['passes_per_s_1_replica']}, "
        f"3 replicas {out['sweep']['passes_per_s_3_replicas']}",
        *(
            f"cold start {name}: median {cs['median_s']:.3f} s of {cs['samples_s']}"
            for name, cs in out.get("cold_start", {}).items()
        ),
        "",
        "| key type | keys | bytes/key | bytes/agent | encodings |",
        "|---|---:|---:|---:|---|",
        *(
            f"| {kind} | {k['keys']:,} | {k['bytes_per_key']:.0f} | {k['bytes_per_agent']:.1f} | "
            + " ".join(f"{e}:{n}" for e, n in k["encodings"].items())
            + " |"
            for kind, k in out["memory"]["by_kind"].items()
        ),
        f"Redis inside one HEAD script: {out['head_calls']['inside_scripts_per_request']}",
        f"non-script commands during HEAD: {out['head_calls']['non_script_commands'] or 'none'}; "
        f"during POST: {out['post_calls']['non_script_commands'] or 'none'}",
        "",
        "| ratio | value | goal | met |",
        "|---|---:|---|---|",
    ]
    for name, r in out["ratios"].items():
        met = "" if r["met"] is None else ("yes" if r["met"] else "**NO**")
        lines.append(f"| {name} | {r['value']:g} | {r['goal'] or '-'} | {met} |")
    return "\n".join(lines)
