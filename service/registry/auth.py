"""Authorization checks shared by every adapter (the HTTP guard and the MCP tools)."""

from __future__ import annotations

import hmac

from service.errors import Forbidden, Unauthorized
from service.settings import Settings


def check_admin(authorization: str | None, settings: Settings) -> None:
    """Check an ``Authorization`` header value against ``REGISTRY_ADMIN_TOKEN``.

    :class:`Unauthorized` without a bearer token, :class:`Forbidden` with a wrong one or
    when no admin token is configured (an unauthenticated way to change what agents run is
    never the default, not even on the embedded store).
    """
    token = settings.admin_token
    if token is None:
        raise Forbidden(
            "admin endpoints are disabled: set REGISTRY_ADMIN_TOKEN", field="Authorization"
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send Authorization: Bearer <admin token>", field="Authorization")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("the admin token is not valid", field="Authorization")
