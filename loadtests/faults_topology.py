"""The Redis topologies of the fault suite, and the faults done to them.

Each topology is real ``redis-server`` processes on loopback ports (no persistence), started
and stopped by their own pids: a standalone server (killed and restarted empty on the same
port, or paused with SIGSTOP), a master and a replica watched by three sentinels (the master
killed, ``SENTINEL FAILOVER``), and a three-master Redis Cluster with one replica each
(``CLUSTER FAILOVER`` on the replica of the master holding the ``default`` namespace).
Every method blocks; the scenarios call them through :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from loadtests.procs import Proc, free_cluster_port, free_port, spawn, start_redis
from service.store.keys import DEFAULT_NAMESPACE, Keys

SENTINEL_MASTER = "faults-master"


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:g}s")
        time.sleep(0.05)


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)


def _command(port: int, *args: str) -> Any:
    """One command on a fresh connection, its raw reply."""
    c = _client(port)
    try:
        return c.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        c.close()


def _info(port: int, section: str) -> dict[str, object]:
    c = _client(port)
    try:
        return dict(c.info(section))
    finally:
        c.close()


def _kill(p: Proc) -> None:
    if p.proc.poll() is None:
        p.proc.kill()
        p.proc.wait(5)


@dataclass
class Standalone:
    """One redis-server: kill and restart it empty on the same port, or pause it."""

    workdir: Path
    server: Proc | None = None

    def start(self) -> None:
        self.server = start_redis(self.workdir)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def registry_env(self) -> dict[str, str]:
        """What a replica needs to use this topology (on top of ``procs.registry_env``)."""
        return {"REGISTRY_REDIS_URL": f"redis://127.0.0.1:{self.port}/0"}

    def restart_empty(self) -> None:
        """SIGKILL, then a new empty server on the same port (nothing was persisted)."""
        assert self.server is not None
        _kill(self.server)
        self.server = start_redis(self.workdir, port=self.server.port)

    def pause(self, sig: signal.Signals) -> None:
        """SIGSTOP or SIGCONT the server."""
        assert self.server is not None
        self.server.proc.send_signal(sig)

    def stop(self) -> None:
        if self.server is not None:
            self.server.proc.send_signal(signal.SIGCONT)  # a stopped process ignores SIGTERM
            self.server.stop()


@dataclass
class Sentinels:
    """A master and one replica, watched by three sentinels (quorum 2)."""

    workdir: Path
    master: Proc | None = None
    replica: Proc | None = None
    sentinels: list[Proc] = field(default_factory=list)

    def start(self) -> None:
        self.master = start_redis(self.workdir)
        rdir = self.workdir / "replica"
        rdir.mkdir(exist_ok=True)
        self.replica = start_redis(rdir, extra=["--replicaof", "127.0.0.1", str(self.master.port)])
        replica = self.replica.port
        _until(
            lambda: _info(replica, "replication").get("master_link_status") == "up",
            20,
            "the replica did not sync",
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        for i in range(3):
            port = free_port()
            conf = self.workdir / f"sentinel-{i}.conf"  # sentinels rewrite their own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
            )
            log = self.workdir / f"sentinel-{port}.log"
            self.sentinels.append(Proc(spawn([binary, str(conf), "--sentinel"], log), port, log))
        _until(self._all_met, 30, "the sentinels did not meet")

    def _all_met(self) -> bool:
        """Every sentinel knows the replica and the two other sentinels."""
        for s in self.sentinels:
            c = _client(s.port)
            try:
                state = c.sentinel_master(SENTINEL_MASTER)  # parsed: a dict
            finally:
                c.close()
            assert isinstance(state, dict)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    def registry_env(self) -> dict[str, str]:
        """The sentinels' addresses; the URL only names the db."""
        return {
            "REGISTRY_REDIS_MODE": "sentinel",
            "REGISTRY_REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REGISTRY_REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            "REGISTRY_REDIS_URL": "redis://sentinel/0",
        }

    def failover(self) -> float:
        """SIGKILL the master and force the failover; seconds until every sentinel names
        the promoted replica and it answers as a master."""
        assert self.master is not None
        assert self.replica is not None
        started = time.monotonic()
        _kill(self.master)
        _command(self.sentinels[0].port, "SENTINEL", "FAILOVER", SENTINEL_MASTER)
        replica = self.replica.port

        def promoted() -> bool:
            for s in self.sentinels:
                addr = _command(s.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER)
                if not addr or int(addr[1]) != replica:
                    return False
            return _info(replica, "replication").get("role") == "master"

        _until(promoted, 30, "the sentinels did not promote the replica")
        return time.monotonic() - started

    def stop(self) -> None:
        for p in [*self.sentinels, self.replica, self.master]:
            if p is not None:
                p.stop()


@dataclass
class Cluster:
    """Three masters with one replica each."""

    workdir: Path
    nodes: list[Proc] = field(default_factory=list)

    def start(self) -> None:
        for i in range(6):
            ndir = self.workdir / f"node{i}"
            ndir.mkdir(exist_ok=True)
            opts = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            opts += ["--cluster-node-timeout", "3000"]
            self.nodes.append(start_redis(ndir, port=free_cluster_port(), extra=opts))
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (it ships with redis-server)")
        addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addrs, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _until(self._healthy, 30, "the cluster did not converge")

    def _healthy(self) -> bool:
        for n in self.nodes:
            c = _client(n.port)
            try:
                if c.cluster("info")["cluster_state"] != "ok":
                    return False
            finally:
                c.close()
            repl = _info(n.port, "replication")
            if repl["role"] == "slave" and repl.get("master_link_status") != "up":
                return False
            if repl["role"] == "master" and int(str(repl["connected_slaves"])) < 1:
                return False
        return True

    def registry_env(self) -> dict[str, str]:
        return {
            "REGISTRY_REDIS_MODE": "cluster",
            "REGISTRY_REDIS_URL": f"redis://127.0.0.1:{self.nodes[0].port}/0",
        }

    def _roles(self, slot: int) -> tuple[int, list[int]]:
        """(master port, replica ports) of ``slot``, as node 0's ``CLUSTER NODES`` says."""
        c = _client(self.nodes[0].port)
        try:
            nodes: dict[str, dict[str, object]] = c.cluster("nodes")
        finally:
            c.close()
        master_id, master = "", 0
        for addr, node in nodes.items():
            ranges = node["slots"]
            assert isinstance(ranges, list)
            if "master" in str(node["flags"]) and any(
                int(r[0]) <= slot <= int(r[-1]) for r in ranges
            ):
                master_id, master = str(node["node_id"]), int(addr.rsplit(":", 1)[1])
        replicas = [
            int(a.rsplit(":", 1)[1]) for a, n in nodes.items() if n["master_id"] == master_id
        ]
        return master, replicas

    def failover(self) -> float:
        """``CLUSTER FAILOVER`` on the replica of the master that holds the ``default``
        namespace's slot; seconds until the replica owns the slot and the cluster is ok."""
        slot = key_slot(Keys().ids(DEFAULT_NAMESPACE).encode())
        _, replicas = self._roles(slot)
        if len(replicas) != 1:
            raise RuntimeError(f"slot {slot}: its master has replicas {replicas}, not one")
        replica = replicas[0]
        started = time.monotonic()
        _command(replica, "CLUSTER", "FAILOVER")

        def done() -> bool:
            if _info(replica, "replication").get("role") != "master":
                return False
            return self._roles(slot)[0] == replica and self._healthy()

        _until(done, 30, "the cluster failover did not complete")
        return time.monotonic() - started

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


Topology = Standalone | Sentinels | Cluster
