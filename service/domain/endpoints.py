"""Safe endpoints: what an agent may advertise for its consumers to call.

An endpoint is ``http`` or ``https`` with a host and no userinfo (``user:pass@`` would hand
credentials to every consumer). Operators can refuse address classes
(``REGISTRY_REFUSE_ENDPOINTS``): link-local and cloud metadata addresses by default in
production, since a registry that wires consumers to ``169.254.169.254`` turns every
consumer into a server-side request forger. Only literal addresses and the well-known
metadata names are classified: the registry never resolves names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from service.errors import InvalidInput
from service.models import HeartbeatRequest

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$"
)
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_class(host: str) -> set[str]:
    """The refusable classes ``host`` belongs to (``metadata``, ``link-local``, …)."""
    name = host.lower().rstrip(".")
    found: set[str] = set()
    if name in _METADATA_NAMES:
        found.add("metadata")
    if name == "localhost" or name.endswith(".localhost"):
        found.add("loopback")
    ip = _ip(name)
    if ip is not None:
        if ip in _METADATA_IPS:
            found.add("metadata")
        if ip.is_link_local:
            found.add("link-local")
        if ip.is_loopback:
            found.add("loopback")
        if ip.is_private and not (ip.is_loopback or ip.is_link_local):
            found.add("private")
    return found


def _host_ok(host: str) -> bool:
    return _ip(host) is not None or bool(_HOSTNAME.match(host))


def check_endpoint(req: HeartbeatRequest, refuse: Iterable[str]) -> None:
    """Raise :class:`InvalidInput` (422, naming the field) for an unsafe advertised address."""
    if not req.endpoint and not req.http_host:
        return
    problem = _verdict(req.endpoint or "", req.http_host or "", frozenset(refuse))
    if problem is not None:
        detail, field = problem
        raise InvalidInput(detail, field=field)


# Agents send the same endpoint with every full heartbeat, and parsing it (urlsplit, an
# address parse, the classification) was a few per cent of a POST. The verdict is a pure
# function of the strings, so a bounded cache cannot go stale.
@lru_cache(maxsize=4096)
def _verdict(endpoint: str, http_host: str, refused: frozenset[str]) -> tuple[str, str] | None:
    """``(detail, field)`` of the first problem with these addresses, or None."""
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https"):
            return "endpoint: only http:// and https:// endpoints", "endpoint"
        if "@" in parts.netloc:
            return "endpoint: must not carry user:password@", "endpoint"
        host = parts.hostname or ""
        if not host or not _host_ok(host):
            return "endpoint: needs a valid host name or address", "endpoint"
        try:
            _ = parts.port
        except ValueError:
            return "endpoint: the port is not a number 0-65535", "endpoint"
        problem = _refused(host, refused, "endpoint")
        if problem is not None:
            return problem
    if http_host:
        if not _host_ok(http_host):
            return (
                "http_host: a host name or an IP address (no scheme, path or user)",
                "http_host",
            )
        return _refused(http_host, refused, "http_host")
    return None


def _refused(host: str, refused: frozenset[str], field: str) -> tuple[str, str] | None:
    hit = sorted(address_class(host) & refused)
    if hit:
        return (
            f"{field}: {host} is a {hit[0]} address, which this registry refuses"
            " (REGISTRY_REFUSE_ENDPOINTS)",
            field,
        )
    return None
