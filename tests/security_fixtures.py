"""Identities for the security tests: hashed tokens handed to a real replica."""

from __future__ import annotations

import json

from service.domain.identity import token_digest

TOKENS = {
    "agent_a": "tok-agent-a-1",
    "agent_a_rotated": "tok-agent-a-2",  # a second token of the same subject
    "agent_b": "tok-agent-b",
    "reader": "tok-reader",
    "admin": "tok-admin",
    "expired": "tok-expired",
}


def tokens_json() -> str:
    """``REGISTRY_TOKENS`` for the identities above (only their sha256 digests)."""
    return json.dumps(
        [
            {
                "subject": "team-a",
                "sha256": token_digest(TOKENS["agent_a"]),
                "scopes": ["agent"],
                "agents": ["a-*", "vx-*", "c-*"],
            },
            {
                "subject": "team-a",
                "sha256": token_digest(TOKENS["agent_a_rotated"]),
                "scopes": ["agent"],
                "agents": ["a-*", "vx-*", "c-*"],
            },
            {"subject": "team-b", "sha256": token_digest(TOKENS["agent_b"]), "scopes": ["agent"]},
            {"subject": "reader", "sha256": token_digest(TOKENS["reader"]), "scopes": ["read"]},
            {"subject": "ops", "sha256": token_digest(TOKENS["admin"]), "scopes": ["admin"]},
            {
                "subject": "gone",
                "sha256": token_digest(TOKENS["expired"]),
                "scopes": ["agent", "read", "admin"],
                "expires": "2021-01-01T00:00:00Z",
            },
        ]
    )


def bearer(who: str | None) -> dict[str, str]:
    """The headers of identity ``who`` (``None``: no credentials, ``"wrong"``: a bad token)."""
    if who is None:
        return {}
    token = "tok-nobody-issued" if who == "wrong" else TOKENS[who]
    return {"Authorization": f"Bearer {token}"}
