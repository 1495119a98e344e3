"""Identities and what they may do: pure rules, shared by the settings, the guards and MCP.

An identity is who sent a request, as proven by a bearer token (only its sha256 is ever
kept) or a verified client certificate (its SPIFFE URI SAN, else its subject CN). It carries
scopes: ``agent`` (register, heartbeat and deregister agents whose id matches one of its
patterns, in its namespaces), ``read`` (discovery) and ``admin``. The ``owner`` string is what
an agent id is bound to at its first registration: two tokens of one subject share it, so a
token can be rotated without the agent losing its id.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import msgspec

Scope = Literal["agent", "read", "admin"]
SCOPES: tuple[Scope, ...] = ("agent", "read", "admin")
AuthMode = Literal["off", "token", "mtls", "token+mtls"]
AUTH_MODES: tuple[str, ...] = ("off", "token", "mtls", "token+mtls")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TokenEntry(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One accepted token, as operators write it in ``REGISTRY_TOKENS(_FILE)``.

    ``sha256`` is the hex digest of the token (``printf %s "$TOKEN" | sha256sum``): the
    token itself is never stored. ``agents`` are glob patterns of the agent ids an ``agent``
    token may speak for; ``namespaces`` the namespaces it may register in (``*``: any).
    ``expires`` is an RFC 3339 time after which the token is refused.
    """

    subject: str
    sha256: str
    scopes: list[Scope]
    agents: list[str] = msgspec.field(default_factory=lambda: ["*"])
    namespaces: list[str] = msgspec.field(default_factory=lambda: ["*"])
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request comes from and what it may do."""

    owner: str
    scopes: frozenset[str]
    agents: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ("*",)
    via: Literal["none", "token", "mtls"] = "none"

    def has(self, *scopes: str) -> bool:
        """True when the identity holds any of ``scopes``."""
        return not self.scopes.isdisjoint(scopes)

    def may_speak_for(self, agent_id: str) -> bool:
        """True when ``agent_id`` matches one of the identity's agent patterns."""
        return any(_glob(p).match(agent_id) for p in self.agents)

    def may_use(self, namespace: str) -> bool:
        """True when the identity may register agents in ``namespace``."""
        return "*" in self.namespaces or namespace in self.namespaces


#: Every request when ``REGISTRY_AUTH=off``: it may register and read, and owns nothing.
#: Admin still needs an admin token: an unauthenticated way to change what agents run is
#: never the default.
ANONYMOUS = Identity(owner="", scopes=frozenset({"agent", "read"}))
#: A request that proved nothing while auth is on.
NOBODY = Identity(owner="", scopes=frozenset())


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def token_digest(token: str) -> str:
    """The hex sha256 of a token, as stored in ``REGISTRY_TOKENS``."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_problems(entries: Iterable[TokenEntry]) -> list[str]:
    """What is wrong with a token list (empty when it is valid)."""
    out = []
    for i, e in enumerate(entries):
        if not e.subject.strip():
            out.append(f"[{i}].subject: must not be empty")
        if not _HEX64.match(e.sha256):
            out.append(f"[{i}].sha256: must be 64 lowercase hex digits (sha256 of the token)")
        if not e.scopes:
            out.append(f"[{i}].scopes: name at least one of {', '.join(SCOPES)}")
        if e.expires is not None and e.expires.tzinfo is None:
            out.append(f"[{i}].expires: needs a time zone (e.g. 2027-01-01T00:00:00Z)")
    return out


def identity_of_token(entry: TokenEntry) -> Identity:
    """The identity a valid token proves (its owner is its subject)."""
    return Identity(
        owner=f"token:{entry.subject}",
        scopes=frozenset(entry.scopes),
        agents=tuple(entry.agents),
        namespaces=tuple(entry.namespaces),
        via="token",
    )


def cert_name(peer: Mapping[str, Any]) -> str | None:
    """A verified peer certificate's name: its SPIFFE URI SAN if present, else its CN.

    ``peer`` is :meth:`ssl.SSLSocket.getpeercert` form: ``subjectAltName`` is a tuple of
    ``(kind, value)`` pairs, ``subject`` a tuple of RDNs of ``(key, value)`` pairs.
    """
    for kind, value in peer.get("subjectAltName", ()):
        if kind == "URI" and str(value).startswith("spiffe://"):
            return str(value)
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and value:
                return str(value)
    return None


def xfcc_name(header: str) -> str | None:
    """The client's name from an ``X-Forwarded-Client-Cert`` header (Envoy's format):
    the last element's ``URI=spiffe://…``, else the CN of its ``Subject``."""
    last = _split(header, ",")[-1]
    fields: dict[str, str] = {}
    for part in _split(last, ";"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip().strip('"')
    uri = fields.get("uri", "")
    if uri.startswith("spiffe://"):
        return uri
    for rdn in fields.get("subject", "").split(","):
        key, sep, value = rdn.strip().partition("=")
        if sep and key.upper() == "CN" and value:
            return value
    return None


def _split(text: str, sep: str) -> list[str]:
    # A quoted Subject may contain ',' and ';': split only outside quotes.
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


@dataclass(frozen=True, slots=True)
class CertPolicy:
    """What a verified client certificate may do: ``agent`` and ``read`` for every name, and
    ``admin`` for the names listed in ``REGISTRY_MTLS_ADMINS``."""

    admins: frozenset[str] = field(default_factory=frozenset)

    def identity(self, name: str) -> Identity:
        """The identity of the certificate named ``name``."""
        scopes = {"agent", "read"} | ({"admin"} if name in self.admins else set())
        return Identity(owner=f"mtls:{name}", scopes=frozenset(scopes), via="mtls")
