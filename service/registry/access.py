"""Who is calling, and may they: one check for every adapter (HTTP guards, MCP tools).

:class:`Access` turns a request's credentials (a bearer token, a verified client certificate,
or a trusted proxy's client-certificate header) into an :class:`Identity`, and refuses what
the identity may not do with a 401 or 403 problem. Refusals are counted by reason and, at
most once per identity, agent and reason per interval, recorded as ``auth-denied`` events
naming the identity and the agent id (never the token).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from service.domain.identity import (
    ANONYMOUS,
    NOBODY,
    CertPolicy,
    Identity,
    TokenEntry,
    identity_of_token,
    token_digest,
    xfcc_name,
)
from service.errors import Forbidden, Unauthorized
from service.metrics import AUTH_FAILURES
from service.settings import Settings

log = logging.getLogger("service.auth")
# With REGISTRY_AUTH=off: a request that sent a token nobody issued (fine for reads, not admin).
_BAD_TOKEN = Identity(owner="", scopes=ANONYMOUS.scopes)
_DENIALS_KEPT = 4096  # rate-limiter entries (identity, agent, reason) remembered


class Access:
    """The replica's authenticator and authorizer, built once from the settings."""

    def __init__(self, settings: Settings, on_denied: Callable[[str, str, str], None]) -> None:
        """``on_denied(owner, agent_id, reason)`` records an ``auth-denied`` event."""
        self.config = settings.auth
        self._by_digest: dict[str, TokenEntry] = {e.sha256: e for e in self.config.tokens}
        if settings.admin_token:
            entry = TokenEntry(
                subject="admin", sha256=token_digest(settings.admin_token), scopes=["admin"]
            )
            self._by_digest.setdefault(entry.sha256, entry)
        self._certs = CertPolicy(frozenset(self.config.mtls_admins))
        self._on_denied = on_denied
        self._last_denial: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def identify(
        self,
        authorization: str | None,
        headers: Mapping[str, str],
        scope: Mapping[str, Any],
    ) -> Identity:
        """The caller's identity; :data:`NOBODY` when auth is on and nothing was proven.

        A bearer token that is present but unknown or expired is refused at once (403),
        whatever the route: a client with a broken token should learn it. With
        ``REGISTRY_AUTH=off`` there are no identities: anyone may register and read, and a
        token only matters for admin routes.
        """
        token = _bearer(authorization)
        mode = self.config.mode
        if token is not None:
            entry = self._token(token)
            if entry is None:
                if mode == "off":
                    return _BAD_TOKEN
                raise self.refuse("invalid", "the bearer token is not valid")
            if mode == "off":
                return Identity(owner="", scopes=ANONYMOUS.scopes | set(entry.scopes))
            if self.config.tokens_on:
                return identity_of_token(entry)
        if self.config.mtls_on:
            name = self._cert_name(headers, scope)
            if name is not None:
                return self._certs.identity(name)
        return ANONYMOUS if mode == "off" else NOBODY

    def _token(self, token: str) -> TokenEntry | None:
        digest = token_digest(token)
        entry = self._by_digest.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            return None
        if entry.expires is not None and entry.expires <= datetime.now(UTC):
            raise self.refuse("expired", f"the token of {entry.subject!r} has expired")
        return entry

    def _cert_name(self, headers: Mapping[str, str], scope: Mapping[str, Any]) -> str | None:
        tls = (scope.get("extensions") or {}).get("tls") or {}
        name = tls.get("client_cert_identity")
        if isinstance(name, str) and name:
            return name
        client = scope.get("client")
        if self.config.trusted_proxy(client[0] if client else None):
            # Only a configured proxy may vouch for a client certificate it verified.
            header = headers.get(self.config.client_cert_header)
            if header:
                return xfcc_name(header)
        return None

    def require(self, identity: Identity, *scopes: str) -> None:
        """401 when nothing was proven, 403 when the identity lacks every one of ``scopes``."""
        if identity.has(*scopes):
            return
        admin = "admin" in scopes
        if admin and not self._admins_possible():
            raise Forbidden(
                "admin endpoints are disabled: set REGISTRY_ADMIN_TOKEN (or an admin token in"
                " REGISTRY_TOKENS)",
                field="Authorization",
            )
        if identity is _BAD_TOKEN:
            what = "admin token" if admin else "bearer token"
            raise self.refuse("invalid", f"the {what} is not valid")
        if identity is NOBODY or identity is ANONYMOUS:
            raise self.refuse("missing", _how_to(self.config.mode), identity=identity)
        raise self.refuse("scope", f"this needs the {' or '.join(scopes)} scope", identity=identity)

    def _admins_possible(self) -> bool:
        return any("admin" in e.scopes for e in self._by_digest.values()) or bool(
            self.config.mtls_on and self.config.mtls_admins
        )

    def require_agent(self, identity: Identity, agent_id: str, namespace: str | None) -> None:
        """The identity may speak for ``agent_id`` (in ``namespace`` when it names one)."""
        self.require(identity, "agent")
        if not identity.may_speak_for(agent_id):
            raise self.refuse(
                "agent", f"this identity may not speak for agent {agent_id!r}", identity, agent_id
            )
        if namespace is not None and not identity.may_use(namespace):
            raise self.refuse(
                "namespace",
                f"this identity may not register agents in namespace {namespace!r}",
                identity,
                agent_id,
            )

    def refuse(
        self,
        reason: str,
        detail: str,
        identity: Identity | None = None,
        agent_id: str = "",
    ) -> Unauthorized | Forbidden:
        """Count a refusal, record a rate-limited event, and build the error to raise."""
        AUTH_FAILURES.labels(reason).inc()
        owner = identity.owner if identity is not None and identity.owner else "anonymous"
        self._note(owner, agent_id, reason)
        if reason == "missing":
            return Unauthorized(detail, field="Authorization")
        return Forbidden(detail, field="agent_id" if agent_id else "Authorization")

    def denied_owner(self, identity: Identity, agent_id: str) -> Forbidden:
        """The refusal of a request for an agent id another identity owns."""
        err = self.refuse(
            "owner",
            f"agent {agent_id!r} is registered by another identity",
            identity,
            agent_id,
        )
        assert isinstance(err, Forbidden)
        return err

    def _note(self, owner: str, agent_id: str, reason: str) -> None:
        key = (owner, agent_id, reason)
        now = time.monotonic()
        last = self._last_denial.get(key)
        if last is not None and now - last < self.config.auth_event_interval:
            return
        self._last_denial[key] = now
        self._last_denial.move_to_end(key)
        while len(self._last_denial) > _DENIALS_KEPT:
            self._last_denial.popitem(last=False)
        log.warning("auth denied (%s): identity %s, agent %r", reason, owner, agent_id)
        self._on_denied(owner, agent_id, reason)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return given.strip()


def _how_to(mode: str) -> str:
    if mode == "off":
        return "send Authorization: Bearer <admin token>"
    if mode == "mtls":
        return "present a client certificate signed by the registry's client CA"
    if mode == "token+mtls":
        return "send Authorization: Bearer <token>, or present a client certificate"
    return "send Authorization: Bearer <token>"
