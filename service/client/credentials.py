"""How an agent proves who it is to the registry: a bearer token or a client certificate.

Both can come from files (mounted Kubernetes Secrets). A token file is read again whenever
it changes, so rotating a token (a second token for the same subject, then the new file) needs
no restart. Settings from the environment: ``REGISTRY_CLIENT_TOKEN`` or
``REGISTRY_CLIENT_TOKEN_FILE``, ``REGISTRY_CLIENT_CERT`` and ``REGISTRY_CLIENT_KEY`` (PEM), and
``REGISTRY_CLIENT_CA`` (the registry's CA, for HTTPS).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class Credentials:
    """A token (inline or in a file), a client certificate and the CA to trust."""

    token: str | None = None
    token_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def __post_init__(self) -> None:
        if self.token and self.token_file:
            raise ValueError("give a token or a token file, not both")
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key (and the key its certificate)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """Read ``REGISTRY_CLIENT_*`` (see the module docstring)."""
        e = os.environ if env is None else env

        def path(name: str) -> Path | None:
            value = e.get(name, "").strip()
            return Path(value) if value else None

        return cls(
            token=e.get("REGISTRY_CLIENT_TOKEN", "").strip() or None,
            token_file=path("REGISTRY_CLIENT_TOKEN_FILE"),
            cert=path("REGISTRY_CLIENT_CERT"),
            key=path("REGISTRY_CLIENT_KEY"),
            ca=path("REGISTRY_CLIENT_CA"),
        )

    def auth(self) -> httpx.Auth | None:
        """The ``Authorization`` header source, if a token is configured."""
        if self.token:
            return _Bearer(lambda: self.token or "")
        if self.token_file is not None:
            return _Bearer(_FileToken(self.token_file))
        return None

    def verify(self) -> ssl.SSLContext | bool:
        """The TLS context: the CA to trust and the client certificate to present."""
        if self.ca is None and self.cert is None:
            return True
        context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        if self.cert is not None and self.key is not None:
            context.load_cert_chain(str(self.cert), str(self.key))
        return context


class _FileToken:
    """The token in a file, re-read when the file changes (rotation without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._token = ""

    def __call__(self) -> str:
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._token = self.path.read_text(encoding="utf-8").strip()
            self._stamp = stamp
        return self._token


class _Bearer(httpx.Auth):
    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        yield request
