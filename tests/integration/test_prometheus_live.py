"""A real Prometheus scrapes two real replicas and evaluates the chart's alert rules.

Scenario: agents register and heartbeat; one replica is SIGKILLed and the agents stop
(so they expire); then Redis stops. Prometheus' HTTP API must show what the alerts read
(``up``, ``registry_agents``, ``registry_expiries_total``, ``registry_store_errors_total``)
with the expected values, and its live rule engine must fire the chart's mass-expiry and
Redis-errors alerts, and only after the events that should trigger them.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import pytest
import yaml
from agents_data import provider
from prometheus_server import PrometheusServer
from support import RedisServer, RegistryProcess, start_registry

pytestmark = pytest.mark.timeout(240)

CHART = Path(__file__).resolve().parents[2] / "helm" / "agent-registry"
JOB, K8S_NAMESPACE = "reg-agent-registry", "agents"  # what the chart's selectors expect
AGENTS = 4
WINDOW = "10s"
REPLICA_ENV = {
    "REGISTRY_HEARTBEAT_INTERVAL": "0.5",
    "REGISTRY_DEGRADED_AFTER": "1",
    "REGISTRY_EXPIRE_AFTER": "2",
    "REGISTRY_RETENTION": "120",
    "REGISTRY_SWEEP_INTERVAL": "0.2",
    "REGISTRY_REDIS_TIMEOUT": "0.2",
}


def chart_rules(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The chart's PrometheusRule groups, rendered by Helm, with windows short enough here."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp / "helm" / var.lower()))
    values = {
        "redis": {"url": "redis://redis:6379/0"},
        "metrics": {
            "prometheusRule": {
                "enabled": True,
                "massExpiry": {"window": WINDOW, "minExpiries": 3, "fraction": 0.5},
                "redisErrors": {"ratePerSecond": 0.5, "for": "2s"},
            }
        },
    }
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(
            values=values, name="reg", namespace=K8S_NAMESPACE, revision=1, is_install=True
        )
    (text,) = (t for path, t in rendered.items() if path.endswith("prometheusrule.yaml"))
    return {"groups": yaml.safe_load(text)["spec"]["groups"]}


class Heartbeats:
    """Agents heartbeating in a thread (HEAD, POST again on 410) until :meth:`stop`."""

    def __init__(self, urls: list[str], bodies: list[dict[str, Any]]) -> None:
        self.urls, self.bodies = urls, bodies
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Heartbeats:
        for i, body in enumerate(self.bodies):
            httpx.post(f"{self.urls[i % 2]}/heartbeat", json=body, timeout=5).raise_for_status()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as http:
            while not self._stop.wait(0.3):
                for body in self.bodies:
                    url = self.urls[0]  # the replica that stays up
                    r = http.head(f"{url}/heartbeat/{body['agent_id']}")
                    if r.status_code == 410:
                        http.post(f"{url}/heartbeat", json=body)


def until(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.5) -> Any:
    """Poll ``check`` (synchronously) until truthy; fail naming ``what``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s (last: {value!r})")
        time.sleep(every)


@pytest.fixture
def fleet(own_redis: RedisServer, tmp_path: Path) -> Iterator[list[RegistryProcess]]:
    env = {"REGISTRY_REDIS_URL": own_redis.url, **REPLICA_ENV}
    replicas = [start_registry(tmp_path, **env), start_registry(tmp_path, **env)]
    yield replicas
    for r in replicas:
        r.stop()


@pytest.fixture
def prometheus(
    tmp_path: Path, fleet: list[RegistryProcess], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrometheusServer]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: `make promtool` (apt-get install prometheus)")
    server = PrometheusServer(
        tmp_path / "prom",
        job=JOB,
        targets=[f"127.0.0.1:{r.port}" for r in fleet],
        rules=chart_rules(tmp_path, monkeypatch),
        target_labels={"namespace": K8S_NAMESPACE},
    )
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


def test_alerts_fire_on_mass_expiry_and_redis_errors_from_real_scrapes(
    fleet: list[RegistryProcess], prometheus: PrometheusServer, own_redis: RedisServer
) -> None:
    sel = f'job="{JOB}", namespace="{K8S_NAMESPACE}"'
    bodies = [provider(f"worker-{i}", port=9100 + i) for i in range(AGENTS)]
    with Heartbeats([r.url for r in fleet], bodies) as beats:
        until(lambda: prometheus.value(f"sum(up{{{sel}}})") == 2, "both replicas scraped")
        live = f'max(sum by (instance) (registry_agents{{{sel}, status=~"healthy|degraded"}}))'
        until(lambda: prometheus.value(live) == AGENTS, "agents counted as live")
        # The alert compares with the fleet one window ago: wait until that view has them.
        until(
            lambda: prometheus.value(live.replace("}))", f"}} offset {WINDOW}))")) == AGENTS,
            "a full window of live agents",
        )
        assert "AgentRegistryMassExpiry" not in prometheus.alerts("firing")
        assert prometheus.value(f"sum(increase(registry_expiries_total{{{sel}}}[{WINDOW}]))") in (
            None,
            0.0,
        )
        # Kill one replica outright, and the agents with it.
        fleet[1].proc.kill()
        fleet[1].proc.wait(10)
        beats.stop()

    killed, alive = (f"127.0.0.1:{r.port}" for r in (fleet[1], fleet[0]))
    until(lambda: prometheus.value(f'up{{{sel}, instance="{killed}"}}') == 0, "killed one is down")
    assert prometheus.value(f'up{{{sel}, instance="{alive}"}}') == 1
    expired = f'registry_agents{{{sel}, instance="{alive}", status="expired"}}'
    until(lambda: prometheus.value(f"sum({expired})") == AGENTS, "agents expired in Prometheus")
    assert (
        prometheus.value(f'sum(registry_agents{{{sel}, instance="{alive}", status="healthy"}})')
        == 0
    )
    # Expiries are counted once across replicas (one atomic sweep), by the survivor here.
    until(
        lambda: prometheus.value(f"sum(registry_expiries_total{{{sel}}})") == AGENTS,
        "expiries counted",
    )
    until(
        lambda: "AgentRegistryMassExpiry" in prometheus.alerts("firing"),
        "the chart's mass-expiry alert fires",
    )
    assert "AgentRegistryRedisErrors" not in prometheus.alerts("firing") | prometheus.alerts(
        "pending"
    )

    # Redis goes away: every sweep pass of the surviving replica is a store error.
    own_redis.stop()
    until(
        lambda: (
            (prometheus.value(f"sum(rate(registry_store_errors_total{{{sel}}}[1m]))") or 0) > 0.5
        ),
        "store errors per second above the alert's threshold",
    )
    until(
        lambda: "AgentRegistryRedisErrors" in prometheus.alerts("firing"),
        "the chart's Redis-errors alert fires",
    )
