"""Locust scenarios: heartbeating agents, discovery readers, churn, config polling. Pass/fail.

    locust -f loadtests/locustfile.py --headless -u 40 -r 20 -t 60s \\
        --replicas http://127.0.0.1:8001,http://127.0.0.1:8002 --heartbeat-interval 1

Virtual users are spread round-robin over ``--replicas`` (locust's ``--host`` names one).
Config polling needs replicas that serve a config bundle (``REGISTRY_BUNDLE_DIR``, as
:mod:`loadtests.run` starts them) with the profiles in :data:`PROFILES`.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment

from loadtests.bodies import FAMILIES, agent_body
from loadtests.thresholds import DEFAULT_P99_MS, EVENTS, summary_line, verdict

log = logging.getLogger("loadtests")
_next_agent = itertools.count()
_next_replica = itertools.count()
_run = os.urandom(3).hex()  # agent ids are unique per run, so reruns never collide
_FAMILIES_IN_USE = 50  # readers ask for capabilities the heartbeating fleet provides
#: Profiles of the example templates (``registry-build build --env dev``).
PROFILES = ("assistant", "llm-gateway", "weather-agent", "geocoder", "web-search", "debug-echo")


def _options(parser: Any) -> None:
    parser.add_argument("--replicas", default="", help="comma-separated replica base URLs")
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=0.0,
        help="seconds between HEADs (0: the lease.interval_ms the registry answers)",
    )
    for prefix, limit in DEFAULT_P99_MS.items():
        parser.add_argument(f"--p99-{prefix}-ms", type=float, default=limit)


def _replica(environment: Environment) -> str:
    opts = environment.parsed_options
    urls = [u.strip() for u in (getattr(opts, "replicas", "") or "").split(",") if u.strip()]
    if not urls and environment.host:
        urls = [environment.host]
    if not urls:
        raise RuntimeError("give --replicas http://a,http://b (or --host)")
    return urls[next(_next_replica) % len(urls)]


class Agent(FastHttpUser):
    """A virtual MCP Mesh agent pinned to one replica, as an SDK pointed at one URL is."""

    abstract = True
    scenario = "hb"

    def __init__(self, environment: Environment) -> None:
        self.host = _replica(environment)
        super().__init__(environment)
        self.interval = 1.0
        self.agent_id = ""
        self.body: dict[str, Any] = {}

    def new_identity(self) -> None:
        """A fresh agent: 2-4 tools, depending on a capability another agent provides."""
        i = next(_next_agent)
        self.body = agent_body(
            i,
            prefix=f"{self.scenario}{_run}",
            tools=2 + i % 3,
            depends_on=f"svc-{(i + 1) % FAMILIES}-a",
        )
        self.agent_id = self.body["agent_id"]

    def post_body(self) -> dict[str, Any]:
        """What a POST sends (the registration itself, here)."""
        return self.body

    def check_answer(self, data: dict[str, Any]) -> str | None:
        """Scenario-specific checks of a successful POST's answer: the failure, if any."""
        return None

    def register(self) -> bool:
        """Full POST; a non-200 or a body without ``lease`` is a failed registration."""
        name = f"{self.scenario} POST /heartbeat"
        body = self.post_body()
        with self.client.post("/heartbeat", json=body, name=name, catch_response=True) as r:
            try:
                data = r.json() if r.status_code == 200 else {}
            except ValueError:
                data = {}
            lease = data.get("lease") or {}
            if r.status_code != 200 or data.get("status") != "success" or not lease:
                EVENTS["registration_failed"] += 1
                r.failure(f"registration answered {r.status_code}")
                return False
            EVENTS["registered"] += 1
            override = self.environment.parsed_options.heartbeat_interval
            self.interval = override or lease["interval_ms"] / 1000
            if problem := self.check_answer(data):
                r.failure(problem)
            return True

    def beat(self) -> int:
        """HEAD; 200 ok, 202/410 re-POST, 503 back off. Returns the status."""
        name = f"{self.scenario} HEAD /heartbeat/[id]"
        path = f"/heartbeat/{self.agent_id}"
        with self.client.head(path, name=name, catch_response=True) as r:
            status = int(r.status_code)
            if status in (200, 202, 410):
                r.success()
            else:
                r.failure(f"HEAD answered {status}")
        if status in (202, 410):
            EVENTS[f"head_{status}"] += 1
            self.register()
        elif status == 503:
            EVENTS["backoff"] += 1
            self.interval = min(self.interval * 2, 30.0)
        return status


class HeartbeatingAgent(Agent):
    """Registers, then HEADs at its lease interval for the whole run."""

    weight = 6

    def wait_time(self) -> float:
        """The lease interval (or the shortened one), with 10% jitter like real fleets."""
        return self.interval * random.uniform(0.9, 1.1)

    def on_start(self) -> None:
        """Register before the first heartbeat."""
        self.new_identity()
        self.register()

    @task
    def heartbeat(self) -> None:
        """One cheap heartbeat."""
        self.beat()


class ChurningAgent(Agent):
    """Joins, heartbeats a few times, then deregisters (DELETE → 204) or just vanishes."""

    weight = 1
    scenario = "churn"
    wait_time = between(0.2, 0.6)

    def on_start(self) -> None:
        """Join the fleet."""
        self.join()

    def join(self) -> None:
        """A new identity, registered."""
        self.new_identity()
        self.beats_left = random.randint(2, 6)
        self.register()

    @task
    def step(self) -> None:
        """Heartbeat, or leave and come back as another agent."""
        if self.beats_left > 0:
            self.beats_left -= 1
            self.beat()
            return
        if random.random() < 0.5:
            name = "churn DELETE /agents/[id]"
            with self.client.delete(
                f"/agents/{self.agent_id}", name=name, catch_response=True
            ) as r:
                if r.status_code != 204:
                    r.failure(f"DELETE answered {r.status_code}")
            EVENTS["deregistered"] += 1
        else:
            EVENTS["vanished"] += 1  # stops heartbeating; its TTL expires it
        self.join()


class ConfigPollingAgent(Agent):
    """An agent with a ``profile`` that applies the config its heartbeat answers deliver.

    Like :class:`service.client.RegistryClient`: it stores the delivered ``config.version``
    (and capabilities version) and reports them in later POSTs, POSTs once right after
    applying a change, HEADs at the lease interval, re-POSTs on 202/410, backs off on 503.
    A POST answer is a failure when it has no ``config`` block, when its ``generation`` is
    below one already applied (it only grows, except on a rollback, and none happens here),
    or when it says ``changed`` although the agent sent the active version.
    """

    weight = 1
    scenario = "cfg"

    def wait_time(self) -> float:
        """The lease interval with 10% jitter."""
        return self.interval * random.uniform(0.9, 1.1)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.profile = PROFILES[0]
        self.config_version: str | None = None  # the applied config
        self.generation = 0  # the generation of the applied config
        self.capabilities_version: str | None = None
        self.sent_version: str | None = None  # config_version in the POST being answered
        self.post_due = False

    def on_start(self) -> None:
        """A profile, no config yet, then the first registration."""
        self.new_identity()
        self.profile = PROFILES[next(_next_agent) % len(PROFILES)]
        self.register()

    def post_body(self) -> dict[str, Any]:
        """The registration plus the profile and the versions the agent runs."""
        body = {**self.body, "profile": self.profile}
        if self.config_version is not None:
            body["config_version"] = self.config_version
        if self.capabilities_version is not None:
            body["capabilities_version"] = self.capabilities_version
        self.sent_version = self.config_version
        return body

    def check_answer(self, data: dict[str, Any]) -> str | None:
        """Apply the delivered config and capabilities; the protocol violation, if any."""
        self.post_due = False
        cfg = data.get("config")
        if not isinstance(cfg, dict):
            EVENTS["config_missing"] += 1
            return "no config block (does the replica serve a bundle?)"
        version, generation = str(cfg.get("version")), int(cfg.get("generation", 0))
        if generation < self.generation:
            EVENTS["config_generation_backwards"] += 1
            return f"config generation went backwards: {generation} < {self.generation}"
        if cfg.get("changed") and self.sent_version == version:
            EVENTS["config_changed_on_active"] += 1
            return f"config changed=true although the agent sent the active {version}"
        if not cfg.get("changed") and self.sent_version != version:
            EVENTS["config_unchanged_on_other"] += 1
            return f"config changed=false although the agent sent {self.sent_version}"
        if cfg.get("changed"):
            if not isinstance(cfg.get("payload"), dict):
                EVENTS["config_no_payload"] += 1
                return "config changed=true without a payload"
            EVENTS["config_applied"] += 1
            self.config_version, self.generation = version, generation
            self.post_due = True  # report the applied version, as a real agent does
        caps = data.get("capabilities")
        if isinstance(caps, dict) and caps.get("changed") and caps.get("version"):
            EVENTS["capabilities_applied"] += 1
            self.capabilities_version = str(caps["version"])
            self.post_due = True
        return None

    @task
    def heartbeat(self) -> None:
        """A POST when a change was just applied, otherwise a HEAD."""
        if self.post_due:
            self.register()
        else:
            self.beat()


class DiscoveryReader(FastHttpUser):
    """Reads providers and agents with ``If-None-Match``; a 304 means nothing changed."""

    weight = 2
    wait_time = between(0.2, 0.5)

    def __init__(self, environment: Environment) -> None:
        self.host = _replica(environment)
        super().__init__(environment)
        self.etags: dict[str, str] = {}

    def _get(self, path: str, name: str) -> None:
        headers = {"If-None-Match": self.etags[path]} if path in self.etags else {}
        with self.client.get(path, headers=headers, name=name, catch_response=True) as r:
            if r.status_code == 304:
                EVENTS["not_modified"] += 1
            elif r.status_code == 200:
                if tag := r.headers.get("ETag"):
                    self.etags[path] = tag
            else:
                r.failure(f"GET answered {r.status_code}")

    @task(3)
    def providers(self) -> None:
        """Providers of a capability the fleet provides."""
        cap = f"svc-{random.randrange(_FAMILIES_IN_USE)}-a"
        self._get(f"/capabilities/{cap}/providers", "read GET /capabilities/[name]/providers")

    @task(1)
    def agents(self) -> None:
        """The agent list (first page)."""
        self._get("/agents", "read GET /agents")


def _judge(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    limits = {p: float(getattr(opts, f"p99_{p}_ms", d)) for p, d in DEFAULT_P99_MS.items()}
    broken, summary = verdict(environment.stats, limits)
    for problem in broken:
        log.error("threshold broken: %s", problem)
    print(summary_line(summary), flush=True)
    if broken:
        environment.process_exit_code = 1


# Registered by call: locust's event hooks are untyped, and a decorator would erase the types.
events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_judge)  # type: ignore[no-untyped-call]
