"""The fault suite's configuration, and the figures and goals it reduces a scenario to.

See loadtests/README.md for what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtests.faults_fleet import Agent, Fleet
from loadtests.faults_observe import (
    Observer,
    Snapshot,
    final_listing,
    gaps,
    reregistration,
    unwired_after,
)
from service.settings import Settings

#: scenario key -> what it does
TITLES = {
    "a": "SIGKILL one replica, restart it 5 s later",
    "b": "restart Redis empty (SIGKILL, same port, no persistence)",
    "c": "SIGSTOP Redis for 2 s, then SIGCONT",
    "d": "Sentinel failover (master SIGKILLed + SENTINEL FAILOVER)",
    "e": "Redis Cluster failover (CLUSTER FAILOVER on a replica)",
    "f": "SIGKILL half the agents (their heartbeat loops stop)",
}
#: scenario key -> its name in the table
SHORT = {
    "a": "replica SIGKILL, back 5 s later",
    "b": "Redis restarted empty",
    "c": "Redis SIGSTOP 2 s",
    "d": "Sentinel failover",
    "e": "Cluster failover",
    "f": "half the agents SIGKILLed",
}
SWEEP_INTERVAL = Settings().sweep_interval  # the replicas run with the default


@dataclass(frozen=True)
class Config:
    """One run's sizes and timings."""

    agents: int = 300
    consumers: int = 4
    interval: float = 1.0
    expire_after: float = 4.0
    redis_timeout: float = 1.0
    settle: float | None = None  # default: 2 * expire_after + interval

    @property
    def settle_s(self) -> float:
        return self.settle if self.settle is not None else 2 * self.expire_after + self.interval

    @property
    def unwire_bound(self) -> float:
        """(f): expire_after, one more for the protection window, then the sweep pass and
        the consumer's next heartbeat that tell the consumer."""
        return 2 * self.expire_after + SWEEP_INTERVAL + self.interval

    def registry_env(self) -> dict[str, str]:
        return {
            "REGISTRY_HEARTBEAT_INTERVAL": f"{self.interval:g}",
            "REGISTRY_DEGRADED_AFTER": f"{(self.interval + self.expire_after) / 2:g}",
            "REGISTRY_EXPIRE_AFTER": f"{self.expire_after:g}",
            "REGISTRY_RETENTION": "30",
            "REGISTRY_REDIS_TIMEOUT": f"{self.redis_timeout:g}",
        }


def _sum(agents: list[Agent], outcome: str) -> int:
    return sum(a.seen[outcome] for a in agents)


def figures(
    key: str,
    cfg: Config,
    fleet: Fleet,
    obs: Observer,
    times: tuple[float, float, float],
    final: list[Snapshot],
) -> dict[str, Any]:
    """Every figure of one scenario; ``times``: seconds to the steady state, then the
    monotonic times of the steady state and of the fault."""
    steady_s, steady, fault_at = times
    kept = [a for a in fleet.agents if a.killed_at is None]
    rereg = reregistration(obs.snapshots, fleet.agents, fault_at)
    excuse = None
    if key == "b":  # Redis lost everything: absent until each agent's 410 -> POST
        excuse = fault_at + (rereg if rereg is not None else cfg.settle_s) + cfg.interval
    g = gaps(obs, fleet, steady, excuse)
    last = final_listing(final, fleet)
    out: dict[str, Any] = {
        "scenario": key,
        "title": TITLES[key],
        "agents": len(fleet.agents),
        "consumers": len(fleet.consumers),
        "steady_s": round(steady_s, 2),
        "false_expiries": len(g.agents()),
        "evidence": {
            "expire_events": len(g.events),
            "listed_expired": len(g.expired),
            "absent_from_listing": len(g.absent),
            "missing_from_consumer": len(g.consumer),
            "examples": sorted(g.agents())[:10],
        },
        "degraded_seen": len(g.degraded),
        "gone_410": _sum(kept, "410"),
        "agents_with_410": sum(1 for a in kept if a.seen["410"]),
        "http_503": _sum(fleet.agents, "503"),
        "http_5xx_other": _sum(fleet.agents, "5xx"),
        "http_4xx": _sum(fleet.agents, "4xx"),
        "conn_errors": _sum(fleet.agents, "conn"),
        "timeouts": _sum(fleet.agents, "timeout"),
        "requests": sum(sum(a.seen.values()) for a in fleet.agents),
        "slowest_s": round(max(a.slowest for a in fleet.agents), 2),
        "reregistration_s": None if rereg is None else round(rereg, 2),
        "listing_equals_fleet": last["equal"],
        "final_listing": last,
        "observer_errors": obs.errors,
        # When each kind of answer was seen, in seconds from the fault (negative: before).
        "windows_s": {
            k: [round(first - fault_at, 2), round(last - fault_at, 2)]
            for k, (first, last) in sorted(fleet.windows.items())
            if k != "200"
        },
    }
    killed = [a for a in fleet.agents if a.killed_at is not None]
    if killed:
        pairs = [unwired_after(obs, fleet, a) for a in killed]
        listing = [p[0] for p in pairs]
        views = [p[1] for p in pairs]
        both = [None if x is None or y is None else max(x, y) for x, y in pairs]
        out["unwired"] = {
            "killed": len(killed),
            "not_unwired": sum(1 for t in both if t is None),
            "max_s": _max(both),
            "listing_max_s": _max(listing),
            "consumer_max_s": _max(views),
            "bound_s": cfg.unwire_bound,
        }
    return out


def _max(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return round(max(done), 2) if done and len(done) == len(values) else None


def missed(key: str, cfg: Config, f: dict[str, Any]) -> list[str]:
    """The goals this scenario missed, in words."""
    out = []
    if f["false_expiries"]:
        out.append(f"{f['false_expiries']} false expiries")
    if key != "b" and f["gone_410"]:
        out.append(f"{f['gone_410']} x 410 to agents never killed")
    if f["http_5xx_other"]:
        out.append(f"{f['http_5xx_other']} x 5xx other than 503")
    if not f["listing_equals_fleet"]:
        out.append("listing != fleet at the end")
    budget = cfg.expire_after - cfg.interval
    if key in ("d", "e") and f.get("fault", {}).get("failover_s", 0) >= budget:
        out.append(f"failover took {f['fault']['failover_s']} s >= {budget:g} s")
    unwired = f.get("unwired")
    if key == "f" and unwired:
        if unwired["not_unwired"]:
            out.append(f"{unwired['not_unwired']} killed agents still wired")
        elif unwired["max_s"] > unwired["bound_s"]:
            out.append(f"unwired after {unwired['max_s']} s > {unwired['bound_s']:g} s")
    return out
