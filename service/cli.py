"""``registry serve``: run a production server (granian) for one replica.

granian, not uvicorn: it bounds how long a client may take to send its request headers
(uvicorn cannot: a slow-header client stays connected for ever) and caps the connections
each worker serves, and it answered HEAD heartbeats about 2x faster in
``python -m loadtests.servers``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from service.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``registry`` command."""
    parser = argparse.ArgumentParser(prog="registry", description="Agent registry replica")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a replica (settings from REGISTRY_* variables)")
    serve.add_argument("--host", help="bind address (REGISTRY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (REGISTRY_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (REGISTRY_WORKERS)")
    args = parser.parse_args(argv)

    for flag, var in (
        ("host", "REGISTRY_HOST"),
        ("port", "REGISTRY_PORT"),
        ("workers", "REGISTRY_WORKERS"),
    ):
        value = getattr(args, flag)
        if value is not None:
            os.environ[var] = str(value)
    try:
        settings = Settings.from_env()  # fail fast, before any worker starts
    except SettingsError as exc:
        print(f"registry: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.bundle_dir is not None:
        from service.bundle import BundleError, load_bundle

        try:
            load_bundle(settings.bundle_dir)
        except BundleError as exc:
            print(
                f"registry: refusing to start: REGISTRY_BUNDLE_DIR={settings.bundle_dir}: {exc}",
                file=sys.stderr,
            )
            return 2
    if settings.workers > 1 and settings.embedded:
        print(
            "registry: configuration error: REGISTRY_WORKERS > 1 needs REGISTRY_REDIS_URL "
            "(the embedded store lives in one process)",
            file=sys.stderr,
        )
        return 2
    if settings.workers > 1:
        _prepare_multiprocess_metrics()

    run_server("service.app:create_app_from_env", settings)
    return 0


def run_server(target: str, settings: Settings) -> None:
    """Serve the ASGI app factory ``target`` ("module:function") with :func:`server_options`."""
    from granian.server import Server

    Server(target, **server_options(settings)).serve()


def server_options(settings: Settings) -> dict[str, Any]:
    """granian options of a replica; the benchmark serves its trivial app with the same ones."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return {
        "factory": True,
        "interface": Interfaces.ASGI,
        "address": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "loop": Loops.uvloop,
        "http": HTTPModes.http1,
        "websockets": False,
        "log_level": LogLevels(settings.log_level),
        "log_access": False,
        "workers_kill_timeout": 10,
        # Connections a worker serves at once; more wait in the listen backlog.
        "backpressure": settings.max_connections,
        "backlog": max(128, settings.max_connections),
        # One timer in granian (hyper): the next request's headers must be complete this
        # long after the connection became idle. It bounds slow-header clients and is the
        # idle timeout of kept-alive connections, so keep it above the heartbeat interval.
        "http1_settings": HTTP1Settings(
            header_read_timeout=int(settings.keepalive_timeout * 1000), keep_alive=True
        ),
    }


def _prepare_multiprocess_metrics() -> None:
    """Workers must share one directory for /metrics to add up across processes.

    The directory is emptied first: files left by a previous run (a restarted container
    keeps its emptyDir) would otherwise be counted again.
    """
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="registry-prom-")
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


if __name__ == "__main__":
    sys.exit(main())
