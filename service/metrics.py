"""Domain metrics. Agent counts are read from Redis, so every replica reports the same numbers.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` must point at a shared writable
directory (``registry serve`` sets one up); gauges then export the live maximum.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HEARTBEATS = Counter(
    "registry_heartbeats_total",
    "Heartbeats answered, by kind (head, post, mcp) and result.",
    ["kind", "result"],
)
HEARTBEAT_SECONDS = Histogram(
    "registry_heartbeat_duration_seconds",
    "Time to answer a heartbeat, including its Redis round trip.",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
AGENTS = Gauge(
    "registry_agents",
    "Registered agents by status and namespace, as stored in Redis.",
    ["status", "namespace"],
    multiprocess_mode="livemax",
)
EXPIRIES = Counter(
    "registry_expiries_total",
    "Agents whose liveness key expired, as processed by this replica's sweeper.",
    ["namespace"],
)
STORE_ERRORS = Counter(
    "registry_store_errors_total",
    "Requests or background passes that failed because Redis was unavailable.",
)

PROTECTION_STARTED = Counter(
    "registry_protection_started_total",
    "Times mass-expiry protection started holding a namespace's expiries.",
    ["namespace"],
)

SUSPECTS_HELD = Counter(
    "registry_suspects_held_total",
    "Expiries held as suspect by mass-expiry protection (each agent once per window).",
    ["namespace"],
)

PROTECTION_ACTIVE = Gauge(
    "registry_protection_active",
    "1 while mass-expiry protection holds a namespace's expiries (read from Redis).",
    ["namespace"],
)

STORE_SHED = Counter(
    "registry_store_shed_total",
    "Store calls refused at once (503 + Retry-After) because the calls in flight and the "
    "queue behind them were full (REGISTRY_REDIS_POOL_SIZE, REGISTRY_REDIS_QUEUE).",
)


def set_agent_counts(counts: dict[str, dict[str, int]]) -> None:
    """Publish per-namespace, per-status agent counts read from Redis."""
    for ns, by_status in counts.items():
        # A 0 sample from the start: increase() (the mass-expiry alert) cannot count the
        # first expiries of a counter whose first sample already holds them.
        EXPIRIES.labels(namespace=ns)
        for status, n in by_status.items():
            AGENTS.labels(status=status, namespace=ns).set(n)


# Fleet config (pull-based distribution).
ACTIVE_CONFIG = Gauge(
    "registry_config_active",
    "1 for the config bundle version this replica serves as fleet-active, 0 for earlier ones.",
    ["version"],
    multiprocess_mode="livemax",
)
CONVERGENCE = Gauge(
    "registry_config_convergence_ratio",
    "Share of a profile's live agents that report the active config version (of those that"
    " report one; 1.0 when none do).",
    ["profile"],
    multiprocess_mode="livemax",
)
DRIFTED = Gauge(
    "registry_config_drifted_agents",
    "Live agents of a profile that report a config version other than the active one.",
    ["profile"],
    multiprocess_mode="livemax",
)
DRIFT_LEADER = Gauge(
    "registry_drift_leader",
    "1 while this replica holds the drift lease (computes drift for the fleet), else 0.",
    multiprocess_mode="livemax",
)
SWEEP_LEADER = Gauge(
    "registry_sweep_leader",
    "1 while this replica holds the sweep lease (sweeps every namespace for the fleet), else 0.",
    multiprocess_mode="livemax",
)
ASSIGNMENTS_LOST = Counter(
    "registry_capability_assignments_lost_total",
    "Agents that reported a runtime capability assignment the store no longer holds"
    " (Redis lost data: run it with AOF persistence).",
)
UNKNOWN_FIELDS = Counter(
    "registry_heartbeat_unknown_fields_total",
    "Heartbeat bodies that carried top-level fields this registry does not know (accepted and"
    " ignored, as MCP Mesh compatibility needs; each new name is logged once at debug level).",
)
CORRUPT_RECORDS = Counter(
    "registry_corrupt_records_total",
    "Stored values a read skipped because they do not decode, by kind (doc: an agent's"
    " record, entry: a provider entry, assignment: a runtime capability assignment); every"
    " read that skips one counts, and each value is recorded once as a corrupt event.",
    ["kind"],
)
AUTH_FAILURES = Counter(
    "registry_auth_failures_total",
    "Requests refused by authentication or authorization, by reason (missing, invalid,"
    " expired, scope, agent, namespace, owner).",
    ["reason"],
)

ROLLOUT_STEP = Gauge(
    "registry_rollout_step",
    "The open config rollout's step (0-based) as this replica serves it; -1 without one.",
    multiprocess_mode="livemax",
)
ROLLOUT_LEADER = Gauge(
    "registry_rollout_leader",
    "1 while this replica holds the rollout lease (runs the health gate), else 0.",
    multiprocess_mode="livemax",
)
ROLLOUT_COHORT = Gauge(
    "registry_rollout_cohort_agents",
    "Agents of a profile in the rollout's candidate or baseline cohort (set by the leader).",
    ["profile", "cohort"],
    multiprocess_mode="livemax",
)
ROLLOUT_SIGNAL = Gauge(
    "registry_rollout_signal_ratio",
    "A gate signal (failures, degraded, expired, restarts) as a share of its cohort (leader).",
    ["profile", "cohort", "signal"],
    multiprocess_mode="livemax",
)
ROLLOUT_DECISIONS = Counter(
    "registry_rollout_decisions_total",
    "Rollout decisions this replica applied: promote, rollback, abort, pause, resume.",
    ["decision"],
)
# A 0 sample from the start: increase() (the chart's AgentRegistryConfigRolledBack alert)
# cannot count the first rollback of a counter whose first sample already holds it.
for _decision in ("promote", "rollback", "abort", "pause", "resume"):
    ROLLOUT_DECISIONS.labels(decision=_decision)
