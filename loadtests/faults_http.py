"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for the fault suite's fleet.

Hundreds of agents heartbeating every second from one process on a shared 2-core machine:
httpx spends about a millisecond of CPU per request, which made the simulated fleet the
bottleneck (agents missed their own heartbeats). This sends a prepared request on one
persistent connection and reads the status, the headers and a ``Content-Length`` (or
chunked) body, nothing more. Any failure closes the connection; the next request opens a
new one.
"""

from __future__ import annotations

import asyncio
import contextlib


class HttpError(Exception):
    """The connection failed (refused, reset, closed mid-answer): retry elsewhere."""


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``, opened on first use."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self._io: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body; raises :class:`HttpError` or
        :class:`TimeoutError` (after ``timeout`` seconds, connecting included)."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(method, path, body)
        except TimeoutError:
            self.close()
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.close()
            raise HttpError(repr(exc)) from None

    async def _exchange(
        self, method: str, path: str, body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        if self._io is None:
            self._io = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._io
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n"):
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        data = b""
        if method != "HEAD" and status not in (204, 304):
            if headers.get("transfer-encoding", "").lower() == "chunked":
                data = await _chunked(reader)
            else:
                data = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, data

    def close(self) -> None:
        if self._io is not None:
            with contextlib.suppress(Exception):
                self._io[1].close()
            self._io = None


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    out = b""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readline()  # no trailers from our server
            return out
        out += await reader.readexactly(size)
        await reader.readexactly(2)
