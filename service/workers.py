"""Several worker processes on one port: the parent accepts, the workers serve.

Kept-alive agents open few connections and hold them for hours, so where each connection
lands decides each worker's share of the load for good. uvicorn's own ``--workers`` shares
one listening socket and the quickest worker wins: asyncio accepts a whole backlog per
wake-up, so a burst of connections can all land on one worker. One ``SO_REUSEPORT`` socket
per worker is better but still a hash: 32 connections over two workers split 10/22 in a
measured run. Here the parent process owns the listening socket, accepts each connection
and hands its descriptor (``SCM_RIGHTS`` over a Unix socket pair) to the next worker in
turn, so N workers hold within one connection of each other. A worker adopts a handed
connection with ``loop.connect_accepted_socket`` and serves it with uvicorn's protocol,
exactly as if it had accepted it. The parent only accepts; requests never pass through it.

This module is the only server-specific piece besides :func:`service.cli.server_options`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("service")

#: Descriptors one ``recvmsg`` may carry (the parent sends one per message).
_MAX_FDS = 16


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The replica's one listening TCP socket (bound here: a taken port fails at once)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


class HandedServer(uvicorn.Server):
    """A uvicorn server with no listener of its own: it serves the connections whose
    descriptors arrive on ``channel``, and stops when the parent closes it."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """The lifespan, then adopt handed connections (``sockets=[]``: no listener)."""
        await super().startup(sockets=[])
        config = self.config
        # uvicorn's own protocol factory (Server.startup builds the same one): typed as a
        # bare asyncio.Protocol class, hence the Any.
        protocol: Any = config.http_protocol_class
        factory = functools.partial(
            protocol,
            config=config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        self.channel.setblocking(False)
        loop = asyncio.get_running_loop()
        loop.add_reader(self.channel.fileno(), self._adopt, loop, factory)

    def _adopt(self, loop: asyncio.AbstractEventLoop, factory: Any) -> None:
        """Adopt every connection waiting on the channel (one descriptor per message)."""
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(self.channel, 1, _MAX_FDS)
            except BlockingIOError:
                return
            except OSError:
                fds = []
            if not fds:  # the parent is gone (or closed the channel): stop serving
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                task = loop.create_task(
                    loop.connect_accepted_socket(factory, conn, ssl=self.config.ssl)
                )
                task.add_done_callback(_log_failure)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop adopting connections, then uvicorn's graceful shutdown of the open ones."""
        fileno = self.channel.fileno()
        if fileno >= 0:
            asyncio.get_running_loop().remove_reader(fileno)
            self.channel.close()
        await super().shutdown(sockets=sockets)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # A TLS handshake that failed, a peer that reset: that connection only.
        log.info("handed connection not served: %r", task.exception())


def _worker(app: str, options: dict[str, Any], channel: socket.socket) -> None:
    config = uvicorn.Config(app, **{**options, "workers": 1})
    HandedServer(config, channel).run()


def _hand_out(
    listener: socket.socket, channels: list[socket.socket], stop: threading.Event
) -> None:
    """Accept connections and hand each to the next worker in turn (the parent's thread)."""
    turn = 0
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError as exc:
            if stop.is_set():
                return
            # Out of descriptors or buffers (EMFILE, ENOBUFS): the kernel keeps the
            # connection queued; try again shortly rather than stop the replica.
            log.warning("accept failed: %r", exc)
            time.sleep(0.05)
            continue
        try:
            for _ in range(len(channels)):
                channel = channels[turn]
                turn = (turn + 1) % len(channels)
                try:
                    socket.send_fds(channel, [b"c"], [conn.fileno()])
                    break
                except OSError:
                    continue  # that worker's channel is closed or full: the next one
        finally:
            conn.close()  # the worker holds its own copy of the descriptor now


def serve(app: str, options: dict[str, Any], workers: int) -> int:
    """Run ``workers`` uvicorn processes serving ``app``; stop them all on SIGTERM/SIGINT.

    A worker that dies stops the others and the exit status is 1, so the container (or
    whoever started us) restarts the replica as a whole rather than run it short-handed.
    """
    listener = listening_socket(options["host"], options["port"])
    listener.settimeout(0.2)  # the accept thread checks for a stop this often
    ctx = multiprocessing.get_context("spawn")
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(app, options, child), daemon=False) for _, child in pairs
    ]
    channels = [parent for parent, _ in pairs]
    for channel in channels:
        channel.settimeout(1.0)  # a stuck worker is skipped, not waited on for ever
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    for _, child in pairs:
        child.close()  # each worker has its end; the parent keeps only its own
    done = threading.Event()
    accepting = threading.Thread(
        target=_hand_out, args=(listener, channels, done), name="accept", daemon=True
    )
    accepting.start()
    scheme = "https" if options.get("ssl_certfile") else "http"
    # The parent has no logging set up (the app configures it in each worker): plain stderr.
    print(
        f"registry: serving on {scheme}://{options['host']}:{listener.getsockname()[1]} with "
        f"{workers} workers {[p.pid for p in procs]}, connections handed out in turn",
        file=sys.stderr,
        flush=True,
    )
    failed = False
    while not stopping:
        if any(p.exitcode is not None for p in procs) or not accepting.is_alive():
            failed = True
            print("registry: a worker exited; stopping the others", file=sys.stderr)
            break
        time.sleep(0.2)
    done.set()
    accepting.join(1.0)
    listener.close()
    for p in procs:
        if p.exitcode is None and p.pid is not None:
            p.terminate()  # SIGTERM: uvicorn drains within timeout_graceful_shutdown
    deadline = time.monotonic() + float(options.get("timeout_graceful_shutdown") or 10) + 5
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.exitcode is None:
            p.kill()
            p.join(5)
    for channel in channels:
        channel.close()
    return 1 if failed else 0
