"""Several worker processes on one port, each with its own ``SO_REUSEPORT`` socket.

uvicorn's own ``--workers`` shares one listening socket: every idle worker wakes on a new
connection and the quickest wins, so kept-alive agents (which open few connections and hold
them) can all land on one worker while the others idle. With one socket per worker and
``SO_REUSEPORT``, the kernel hashes each new connection to one of the sockets, spreading
connections evenly. This module is the only server-specific piece besides
:func:`service.cli.server_options`; a server with its own balancing would replace it.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

log = logging.getLogger("service")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with ``SO_REUSEPORT``: several may bind the same address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(app: str, options: dict[str, Any]) -> None:
    import uvicorn

    sock = reuseport_socket(options["host"], options["port"])
    config = uvicorn.Config(app, **{**options, "workers": 1})
    uvicorn.Server(config).run(sockets=[sock])


def serve(app: str, options: dict[str, Any], workers: int) -> int:
    """Run ``workers`` uvicorn processes serving ``app``; stop them all on SIGTERM/SIGINT.

    A worker that dies stops the others and the exit status is 1, so the container (or
    whoever started us) restarts the replica as a whole rather than run it short-handed.
    """
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Linux, macOS and BSDs have it
        raise RuntimeError("SO_REUSEPORT is not available on this platform")
    # Fail here, in the parent, if the port is taken: not once per worker.
    reuseport_socket(options["host"], options["port"]).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(app, options), daemon=False) for _ in range(workers)]
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    log.info("serving with %d SO_REUSEPORT workers: %s", workers, [p.pid for p in procs])
    failed = False
    while not stopping:
        if any(p.exitcode is not None for p in procs):
            failed = True
            print("registry: a worker exited; stopping the others", file=sys.stderr)
            break
        time.sleep(0.2)
    for p in procs:
        if p.exitcode is None and p.pid is not None:
            p.terminate()  # SIGTERM: uvicorn drains within timeout_graceful_shutdown
    deadline = time.monotonic() + float(options.get("timeout_graceful_shutdown") or 10) + 5
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.exitcode is None:
            p.kill()
            p.join(5)
    return 1 if failed else 0
