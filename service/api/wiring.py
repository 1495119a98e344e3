"""What every controller shares: the injected registry, typed bodies, documented problems."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from litestar import HttpMethod, route
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.dto._backend import DTOBackend
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Reference, Schema
from litestar.typing import FieldDefinition

from service.domain.identity import Identity
from service.registry.admin import require_fleet
from service.registry.context import Registry
from service.registry.decoding import decode_json

T = TypeVar("T")

PROBLEM = "application/problem+json"


class ProblemDetails(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An RFC 9457 problem: every 4xx and 5xx body. ``field`` names the offending input."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None


_DESCRIPTIONS = {
    400: "Malformed request: not JSON, or a query parameter of the wrong type or value",
    401: "No bearer token",
    403: "A wrong token, or the operation is disabled",
    404: "The named agent, capability, profile or version does not exist",
    408: "The body did not arrive within REGISTRY_BODY_READ_TIMEOUT",
    413: "The body exceeds REGISTRY_MAX_BODY_BYTES",
    422: "A field is out of bounds or malformed; `field` names it",
    409: "The request conflicts with stored state (a rollout in another state, say)",
    503: "The store (Redis) is unavailable: back off and retry (Retry-After)",
}


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a route can give."""
    return {
        code: ResponseSpec(
            data_container=ProblemDetails,
            description=_DESCRIPTIONS[code],
            media_type=PROBLEM,
            generate_examples=False,
        )
        for code in codes
    }


def _registry(state: State) -> Registry:
    reg: Registry = state.registry
    return reg


#: ``reg``: the replica's registry context, injected into every handler that names it.
DEPENDENCIES = {"reg": Provide(_registry, sync_to_thread=False)}
Reg = NamedDependency[Registry]


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller's identity, worked out once per request (by the route group's guard)."""
    found = connection.scope.get("auth")
    if isinstance(found, Identity):
        return found
    reg = _registry(connection.app.state)
    identity = reg.access.identify(
        connection.headers.get("authorization"), connection.headers, connection.scope
    )
    connection.scope["auth"] = identity
    return identity


async def read_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Discovery reads: the ``read``, ``agent`` or ``admin`` scope."""
    _registry(connection.app.state).access.require(
        identity_of(connection), "read", "agent", "admin"
    )


async def agent_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """An agent's own calls: the ``agent`` scope, and for a path id, one of its patterns.

    Ownership (is this identity the one the id is bound to?) is checked by the store in the
    same round trip as the call itself.
    """
    access = _registry(connection.app.state).access
    identity = identity_of(connection)
    agent_id = connection.path_params.get("agent_id")
    if agent_id is None:
        access.require(identity, "agent")
    else:
        access.require_agent(identity, str(agent_id), None)


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Admin routes: the ``admin`` scope (``REGISTRY_ADMIN_TOKEN`` or an admin token)."""
    _registry(connection.app.state).access.require(identity_of(connection), "admin")


async def bundle_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Routes that need the fleet config: 404 naming REGISTRY_BUNDLE_DIR, before any body."""
    require_fleet(_registry(connection.app.state))


class JsonBody(AbstractDTO[T], Generic[T]):
    """A request body decoded straight from bytes by one cached msgspec decoder.

    Litestar's own path decodes to builtins and converts (two passes, lenient types); this
    keeps one strict pass, our problem details naming the field, and the real schema in the
    OpenAPI document (from the Struct itself).
    """

    _decoders: ClassVar[dict[type[Any], msgspec.json.Decoder[Any]]] = {}
    #: Every body type in the OpenAPI document; :func:`exact_body_schemas` documents them.
    documented: ClassVar[set[type[Any]]] = set()

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        """Unused: there is no transfer model."""
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        """Unused: there is no transfer model."""
        return False

    @classmethod
    def create_for_field_definition(
        cls,
        field_definition: FieldDefinition,
        handler_id: str,
        backend_cls: type[DTOBackend] | None = None,
    ) -> None:
        """No DTO backend: :meth:`decode_bytes` does all the work."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        """The Struct's own schema."""
        if isinstance(cls.model_type, type) and issubclass(cls.model_type, msgspec.Struct):
            JsonBody.documented.add(cls.model_type)
        schema: Reference | Schema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(cls.model_type)
        )
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        """Decode and validate; errors are 400/422 problems naming the field."""
        decoder = self._decoders.get(self.model_type)
        if decoder is None:
            decoder = self._decoders[self.model_type] = msgspec.json.Decoder(self.model_type)
        return decode_json(value, decoder)


def get(path: str, **options: Any) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """A GET route that also answers HEAD (``curl -I``): the same status and headers, the
    ETag included, without the body (the server drops it)."""
    decorator: Callable[[Callable[..., Any]], HTTPRouteHandler] = route(
        path, http_method=[HttpMethod.GET, HttpMethod.HEAD], **options
    )
    return decorator


class ExactBodiesOpenAPI(OpenAPI):
    """The OpenAPI document, with every request body documented by msgspec's own JSON Schema
    of its Struct (:func:`exact_body_schemas`) when it is written out."""

    def to_schema(self) -> dict[str, Any]:
        exact_body_schemas(self)  # idempotent: the same components, replaced by name
        return super().to_schema()


@dataclass
class ExactBodiesConfig(OpenAPIConfig):
    """:class:`OpenAPIConfig` whose document is an :class:`ExactBodiesOpenAPI`.

    Litestar builds the document on first use (``/schema``, ``app.openapi_schema``), and so
    the exact bodies are applied then, not at start-up: building the document takes about as
    long as all of a replica's imports together, and a replica scaling from zero must serve
    heartbeats first.
    """

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return ExactBodiesOpenAPI(**{f.name: getattr(base, f.name) for f in fields(base)})


def exact_body_schemas(spec: OpenAPI) -> None:
    """Document every request body with msgspec's own JSON Schema of its Struct.

    Litestar's schema of a Struct drops the bounds inside unions and nested lists (a tag's
    ``minLength``, an inner tag list's ``maxItems``), so the document would promise that bodies
    the decoder rejects are valid. msgspec writes the schema of exactly what it decodes.
    """
    types = sorted(JsonBody.documented, key=lambda t: t.__name__)
    if not types or spec.components is None or spec.components.schemas is None:
        return
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    schemas: dict[str, Any] = spec.components.schemas  # plain dicts serialise as they are
    for name, schema in components.items():
        schemas[name] = schema
