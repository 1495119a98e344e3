"""The read timers of service/httpserver.py, on a real uvicorn server in this process.

A connection must finish its headers within ``header_timeout`` and its body within
``body_timeout``; one that keeps trickling bytes is closed. The timer is lazy (one per
connection, re-armed when it fires), so these also check that a busy kept-alive connection
is never closed between requests, and that a shorter body timeout still wins over a pending
longer header timer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from loadtests.procs import free_port
from service.httpserver import protocol_class


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the whole body, as the registry's routes do
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(header_timeout: float, body_timeout: float) -> int:
        port = free_port()
        config = uvicorn.Config(
            _app,
            host="127.0.0.1",
            port=port,
            http=protocol_class(header_timeout, body_timeout),
            ws="none",
            lifespan="off",
            log_level="warning",
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        servers.append((server, thread))
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def _closed_while_trickling(port: int, head: bytes, line: bytes, limit: float) -> float:
    """Send ``head``, then ``line`` every 0.1 s; seconds until the server closes (or limit)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(head)
        s.settimeout(0.1)
        while time.monotonic() - started < limit:
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                try:
                    s.sendall(line)
                except OSError:
                    return time.monotonic() - started
            except OSError:
                return time.monotonic() - started
    return limit


def test_headers_that_never_end_are_cut_off(serve: Any) -> None:
    port = serve(0.5, 30.0)
    took = _closed_while_trickling(
        port, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", limit=20.0
    )
    assert took < 20.0, "a client trickling header lines was never closed"


def test_a_shorter_body_timeout_wins_over_a_pending_header_timer(serve: Any) -> None:
    # The header timer armed at connect (20 s) is still pending when the body phase starts;
    # the body's 0.5 s must not wait for it.
    port = serve(20.0, 0.5)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    took = _closed_while_trickling(port, head, b"x", limit=15.0)
    assert took < 15.0, "a body trickling in was not cut off before the header timer"


def test_a_busy_kept_alive_connection_outlives_many_timer_periods(serve: Any) -> None:
    port = serve(0.3, 0.3)
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        answered = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # five header timeouts, each request quick
            assert _get(s).startswith(b"HTTP/1.1 200"), f"after {answered} requests"
            answered += 1
            time.sleep(0.1)
    assert answered >= 5


def test_the_timer_does_not_close_an_idle_kept_alive_connection_early(serve: Any) -> None:
    # After a complete request nothing is being read: the pending timer must not close the
    # connection (the keep-alive timeout, 30 s here, is what ends an idle one).
    port = serve(0.3, 0.3)
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        assert _get(s).startswith(b"HTTP/1.1 200")
        s.settimeout(1.0)  # over three header timeouts of silence
        with pytest.raises(TimeoutError):
            s.recv(4096)  # still open: no data, no close
        s.settimeout(5)
        assert _get(s).startswith(b"HTTP/1.1 200")


def _get(s: socket.socket) -> bytes:
    """One request on a kept-alive connection, and its whole answer."""
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return _answer(s, "the server closed the connection")


def _answer(s: socket.socket, closed: str) -> bytes:
    """The whole answer to the request sent on ``s`` (``closed``: the failure if it closes)."""
    reply = b""
    while not reply.endswith(b"ok"):
        chunk = s.recv(4096)
        assert chunk, closed
        reply += chunk
    return reply


def test_a_slow_but_timely_request_spanning_an_earlier_timer_is_served(serve: Any) -> None:
    # The timer armed at connect fires while the second request's headers are still coming
    # (within their own timeout): it must re-arm for that request's deadline, not close.
    port = serve(1.0, 1.0)
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        assert _get(s).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(6):  # 0.6 s of header lines: past the first timer, inside our own
            time.sleep(0.1)
            s.sendall(b"X-Slow: 1\r\n")
        s.sendall(b"\r\n")
        reply = _answer(s, "closed while its headers were still within their timeout")
        assert reply.startswith(b"HTTP/1.1 200")
