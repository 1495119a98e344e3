"""Authentication settings (``REGISTRY_AUTH``, tokens, TLS), read once and validated.

Tokens are configured only as sha256 digests (``REGISTRY_TOKENS`` or a mounted
``REGISTRY_TOKENS_FILE``); ``REGISTRY_ADMIN_TOKEN`` (a mounted Secret) is hashed as soon as
it is read. Nothing here is ever logged.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from service.domain.identity import AUTH_MODES, AuthMode, TokenEntry, token_problems
from service.envreader import EnvReader, SettingsError

#: Endpoint address classes an operator can refuse (``REGISTRY_REFUSE_ENDPOINTS``).
ENDPOINT_CLASSES = ("link-local", "metadata", "loopback", "private")
#: Routes that stay open without a token unless left out of ``REGISTRY_OPEN_ENDPOINTS``.
OPEN_GROUPS = ("health", "metrics")
_tokens = msgspec.json.Decoder(list[TokenEntry])


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Who may call a replica, and how identities are proven."""

    mode: AuthMode = "off"
    tokens: tuple[TokenEntry, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    client_cert_header: str = "x-forwarded-client-cert"
    mtls_admins: tuple[str, ...] = ()
    refuse_endpoints: tuple[str, ...] = ()
    open_endpoints: tuple[str, ...] = OPEN_GROUPS
    auth_event_interval: float = 10.0
    # Parsed from trusted_proxies (typed loosely: Litestar inspects the types it injects).
    _networks: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        nets = tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)
        object.__setattr__(self, "_networks", nets)

    @property
    def tokens_on(self) -> bool:
        """Bearer tokens prove identities."""
        return self.mode in ("token", "token+mtls")

    @property
    def mtls_on(self) -> bool:
        """Client certificates prove identities."""
        return self.mode in ("mtls", "token+mtls")

    @property
    def serves_tls(self) -> bool:
        """The replica terminates TLS itself."""
        return self.tls_cert is not None

    def trusted_proxy(self, address: str | None) -> bool:
        """True when ``address`` (the TCP peer) is a configured TLS-terminating proxy."""
        if not address or not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    @classmethod
    def from_env(cls, e: EnvReader, *, real_store: bool, host: str, admin: bool) -> AuthConfig:
        """Read the auth variables; ``real_store`` is True with a real Redis."""
        if e.text("REGISTRY_AGENT_TOKENS") or e.text("REGISTRY_AGENT_TOKENS_FILE"):
            raise SettingsError(
                "REGISTRY_AGENT_TOKENS was replaced by REGISTRY_TOKENS / REGISTRY_TOKENS_FILE "
                "(sha256-hashed tokens with a subject, scopes and agent-id patterns; see the "
                "README's Security section)"
            )
        raw_mode = e.text("REGISTRY_AUTH")
        if raw_mode is None and real_store:
            raise SettingsError(
                "REGISTRY_AUTH must be set with a real Redis: token, mtls, token+mtls, or off "
                "(off lets anyone who reaches the replica rewire the fleet)"
            )
        mode = e.choice("REGISTRY_AUTH", AUTH_MODES, "off")
        tokens = _read_tokens(e)
        config = cls(
            mode=mode,  # type: ignore[arg-type]
            tokens=tokens,
            tls_cert=_path(e, "REGISTRY_TLS_CERT"),
            tls_key=_path(e, "REGISTRY_TLS_KEY"),
            tls_client_ca=_path(e, "REGISTRY_TLS_CLIENT_CA"),
            trusted_proxies=_cidrs(e, "REGISTRY_TRUSTED_PROXIES"),
            client_cert_header=(
                e.text("REGISTRY_CLIENT_CERT_HEADER") or "x-forwarded-client-cert"
            ).lower(),
            mtls_admins=_list(e, "REGISTRY_MTLS_ADMINS"),
            refuse_endpoints=_classes(e, real_store),
            open_endpoints=_open(e),
            auth_event_interval=e.number("REGISTRY_AUTH_EVENT_INTERVAL", 10.0, minimum=0.1),
        )
        _check(config, host=host, real_store=real_store, admin=admin)
        return config


def _check(c: AuthConfig, *, host: str, real_store: bool, admin: bool) -> None:
    if (c.tls_cert is None) != (c.tls_key is None):
        raise SettingsError("REGISTRY_TLS_CERT and REGISTRY_TLS_KEY must be set together")
    if c.tls_client_ca is not None and c.tls_cert is None:
        raise SettingsError("REGISTRY_TLS_CLIENT_CA needs REGISTRY_TLS_CERT and REGISTRY_TLS_KEY")
    if c.tokens_on and not (c.tokens or admin):
        raise SettingsError(
            f"REGISTRY_AUTH={c.mode} needs tokens: set REGISTRY_TOKENS or REGISTRY_TOKENS_FILE"
        )
    if c.mtls_on and c.tls_client_ca is None and not c.trusted_proxies:
        raise SettingsError(
            f"REGISTRY_AUTH={c.mode} needs REGISTRY_TLS_CLIENT_CA (with REGISTRY_TLS_CERT and "
            "REGISTRY_TLS_KEY) or REGISTRY_TRUSTED_PROXIES (TLS ended at a proxy)"
        )
    if c.mode == "off" and not real_store and host not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(
            f"REGISTRY_AUTH=off on the embedded store binds 127.0.0.1 only (REGISTRY_HOST={host})"
        )


def _read_tokens(e: EnvReader) -> tuple[TokenEntry, ...]:
    raw = e.secret("REGISTRY_TOKENS")
    if raw is None:
        return ()
    try:
        entries = _tokens.decode(raw.encode())
    except msgspec.ValidationError as exc:
        raise SettingsError(f"REGISTRY_TOKENS: {exc}") from None
    except msgspec.DecodeError as exc:
        raise SettingsError(f"REGISTRY_TOKENS: not a JSON list of tokens ({exc})") from None
    problems = token_problems(entries)
    if problems:
        raise SettingsError("REGISTRY_TOKENS" + "; REGISTRY_TOKENS".join(problems))
    return tuple(entries)


def _path(e: EnvReader, name: str) -> Path | None:
    raw = e.text(name)
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"{name}: {raw} is not a readable file")
    return path


def _list(e: EnvReader, name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in (e.text(name) or "").split(",") if p.strip())


def _cidrs(e: EnvReader, name: str) -> tuple[str, ...]:
    out = _list(e, name)
    for item in out:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an address or CIDR") from None
    return out


def _classes(e: EnvReader, real_store: bool) -> tuple[str, ...]:
    raw = e.text("REGISTRY_REFUSE_ENDPOINTS")
    if raw is None:
        # Production (a real Redis): never hand consumers a link-local or metadata address.
        return ("link-local", "metadata") if real_store else ()
    if raw.lower() == "none":
        return ()
    out = _list(e, "REGISTRY_REFUSE_ENDPOINTS")
    bad = [c for c in out if c not in ENDPOINT_CLASSES]
    if bad:
        raise SettingsError(
            f"REGISTRY_REFUSE_ENDPOINTS: {', '.join(bad)} not among "
            f"{', '.join(ENDPOINT_CLASSES)} (or none)"
        )
    return out


def _open(e: EnvReader) -> tuple[str, ...]:
    raw = e.text("REGISTRY_OPEN_ENDPOINTS")
    if raw is None:
        return OPEN_GROUPS
    if raw.lower() == "none":
        return ()
    out = _list(e, "REGISTRY_OPEN_ENDPOINTS")
    bad = [g for g in out if g not in OPEN_GROUPS]
    if bad:
        raise SettingsError(
            f"REGISTRY_OPEN_ENDPOINTS: {', '.join(bad)} not among {', '.join(OPEN_GROUPS)}"
        )
    return out
