"""The HTTP/1.1 protocol a replica serves with: uvicorn's httptools protocol, plus the two
things it lacks that a registry needs.

- **The verified client certificate's identity.** uvicorn verifies client certificates
  (``ssl_cert_reqs``) but does not tell the application who connected; this protocol reads the
  peer certificate once per connection and puts its name (SPIFFE URI SAN, else CN) into
  ``scope["extensions"]["tls"]["client_cert_identity"]`` (beside the ASGI TLS extension's
  ``client_cert_name``), where :class:`service.registry.access.Access` finds it.
- **Bounded reads.** A connection must send a request's headers within ``header_timeout``
  of connecting (or of starting the request) and its body within ``body_timeout`` after the
  headers, else it is closed: one slow client must not hold a connection slot for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.domain.identity import cert_name


class RegistryProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the client-certificate identity and read timers."""

    header_timeout: float = 30.0
    body_timeout: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Read the peer certificate once; start the header timer."""
        super().connection_made(transport)
        self._tls: dict[str, Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when the pending timer fires
        #: Loop time by which the phase being read must be complete (None: nothing to time).
        self._deadline: float | None = None
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            peer = ssl_object.getpeercert() or {}
            name = cert_name(peer) if peer else None
            self._tls = {
                "client_cert_identity": name,
                "client_cert_name": _dn(peer) if peer else None,
                "tls_version": None,
                "cipher_suite": None,
                "client_cert_chain": [],
                "client_cert_error": None,
                "server_cert": None,
            }
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer with the connection."""
        self._deadline = None
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request starts: its headers must arrive in time; tell the app the peer's name."""
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}  # type: ignore[dict-item]
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        """Headers are in: now the body must arrive in time."""
        self._deadline = None
        super().on_headers_complete()
        if self.parser is not None and not self._body_done():
            self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        """The whole request is in: nothing more to time until the next one."""
        self._deadline = None
        super().on_message_complete()

    def _body_done(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() in (b"0", b"")
            if name == b"transfer-encoding":
                return False
        return True

    def _arm(self, seconds: float) -> None:
        """The phase now being read must end within ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = self._deadline = loop.time() + seconds
        if self._timer is not None:
            if self._timer_at <= deadline:
                return  # the pending timer fires first and finds the new deadline
            self._timer.cancel()  # a shorter timeout than the pending timer's
        self._schedule(loop, deadline)

    def _schedule(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return  # nothing is being read: the next phase arms a timer again
        loop = asyncio.get_running_loop()
        if deadline > loop.time():
            self._schedule(loop, deadline)
            return
        # Closing is the whole answer: a slow sender gets no response to wait for.
        self._deadline = None
        self.transport.close()


def protocol_class(header_timeout: float, body_timeout: float) -> type[RegistryProtocol]:
    """A :class:`RegistryProtocol` with these timers, for uvicorn's ``http=`` option."""
    return type(
        "RegistryProtocol",
        (RegistryProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


def _dn(peer: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
