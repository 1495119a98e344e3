"""The registry's error hierarchy; the API maps each class to one RFC 9457 status."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class for errors the API turns into problem+json responses."""

    status_code = 500
    title = "Registry error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(RegistryError):
    """The request is well-formed JSON but a field is out of bounds or malformed."""

    status_code = 422
    title = "Invalid input"


class NotFound(RegistryError):
    """The named agent, capability or version does not exist."""

    status_code = 404
    title = "Not found"


class Conflict(RegistryError):
    """The request conflicts with stored state."""

    status_code = 409
    title = "Conflict"


class StoreUnavailable(RegistryError):
    """Redis did not answer; clients should back off and retry (never re-register)."""

    status_code = 503
    title = "Store unavailable"


class StoreSaturated(StoreUnavailable):
    """Too many store calls in flight and queued: refused at once (load shedding)."""

    title = "Store saturated"


class Unauthorized(RegistryError):
    """An admin call without ``Authorization: Bearer <token>``."""

    status_code = 401
    title = "Unauthorized"


class Forbidden(RegistryError):
    """A wrong admin token, or admin endpoints disabled (no ``REGISTRY_ADMIN_TOKEN``)."""

    status_code = 403
    title = "Forbidden"


class SlowBody(RegistryError):
    """The request body did not arrive within ``REGISTRY_BODY_READ_TIMEOUT``."""

    status_code = 408
    title = "Request body timeout"
