"""``registry serve``: run a production server (uvicorn) for one replica."""

from __future__ import annotations

import argparse
import importlib.util
import os
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from service.settings import Settings, SettingsError


def add_parser(sub: Any) -> None:
    """Register ``serve`` on the ``registry`` subcommand parser."""
    serve = sub.add_parser("serve", help="run a replica (settings from REGISTRY_* variables)")
    serve.add_argument("--host", help="bind address (REGISTRY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (REGISTRY_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (REGISTRY_WORKERS)")
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate the settings and the bundle, then serve until stopped."""
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
    if settings.embedded and importlib.util.find_spec("fakeredis") is None:
        print(
            "registry: configuration error: REGISTRY_REDIS_URL is not set and the embedded "
            "store is not installed (pip install 'agent-registry[embedded]')",
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

    app, options = "service.app:create_app_from_env", server_options(settings)
    if settings.workers > 1:
        from service.workers import serve as serve_workers

        return serve_workers(app, options, settings.workers)
    import uvicorn

    uvicorn.run(app, **options)
    return 0


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options of a replica; the benchmark serves its trivial app with the same ones."""
    auth = settings.auth
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": settings.log_level,
        "access_log": False,
        # Our protocol: uvicorn's httptools one plus the client-certificate identity and
        # bounded header and body reads (service/httpserver.py).
        "http": "service.httpserver:RegistryProtocol",
        # The registry has no WebSocket route; "none" also skips importing a WebSocket
        # library at start-up (a cold-start cost of tens of milliseconds).
        "ws": "none",
        # Client addresses from X-Forwarded-For only from the proxies we trust.
        "proxy_headers": bool(auth.trusted_proxies),
        "forwarded_allow_ips": ",".join(auth.trusted_proxies) or "127.0.0.1",
        "timeout_graceful_shutdown": 10,
        # Longer than any heartbeat interval (and than a load balancer's idle timeout), so
        # a server never closes a kept-alive connection just as an agent reuses it.
        "timeout_keep_alive": settings.keepalive_timeout,
        # Load shedding at the door: past this many connections (or in-flight requests)
        # uvicorn answers 503 at once instead of queueing (REGISTRY_MAX_CONNECTIONS).
        "limit_concurrency": settings.max_connections,
    }
    if auth.tls_cert is not None:
        options["ssl_certfile"] = str(auth.tls_cert)
        options["ssl_keyfile"] = str(auth.tls_key)
        if auth.tls_client_ca is not None:
            options["ssl_ca_certs"] = str(auth.tls_client_ca)
            # mtls alone: no certificate, no connection. token+mtls: a certificate is
            # optional, since token callers have none.
            options["ssl_cert_reqs"] = (
                ssl.CERT_REQUIRED if auth.mode == "mtls" else ssl.CERT_OPTIONAL
            )
    return options


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
