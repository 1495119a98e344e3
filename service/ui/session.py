"""Signing in to the dashboard: a browser cannot send a bearer token, so the token a person
pastes is kept in an HttpOnly, SameSite=Strict cookie scoped to ``/ui`` and checked by the
same :class:`~service.registry.access.Access` as every route. The cookie is honoured only on
the dashboard's read-only pages, so it cannot be used to forge writes (no CSRF surface)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.handlers.base import BaseRouteHandler
from litestar.params import URLEncodedBody
from litestar.response import Redirect

from service.errors import Forbidden, RegistryError, Unauthorized
from service.registry.context import Registry
from service.ui.render import page

COOKIE = "registry_token"
_SCOPES = ("read", "agent", "admin")


def _registry(state: State) -> Registry:
    reg: Registry = state.registry
    return reg


async def ui_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The dashboard's pages: the ``read`` (or ``agent``/``admin``) scope, from a bearer
    header, a client certificate, or the sign-in cookie."""
    reg = _registry(connection.app.state)
    authorization = connection.headers.get("authorization")
    token = connection.cookies.get(COOKIE)
    if authorization is None and token:
        try:
            identity = reg.access.identify(f"Bearer {token}", connection.headers, connection.scope)
        except Forbidden:  # a stale cookie: sign in again
            raise Unauthorized("sign in again", field="Authorization") from None
    else:
        identity = reg.access.identify(authorization, connection.headers, connection.scope)
    reg.access.require(identity, *_SCOPES)


def to_login(request: Request[Any, Any, Any], exc: Unauthorized) -> Response[Any]:
    """A page refused for want of credentials sends the person to the sign-in page."""
    return Redirect("/ui/login/", status_code=303)


class LoginController(Controller):
    """``/ui/login``: sign in with a token (kept in a cookie), ``/ui/login/out`` to leave."""

    path = "/ui/login"
    include_in_schema = False

    @get("/")
    async def form(self, state: State) -> Response[str]:
        """The sign-in form."""
        mode = _registry(state).settings.auth.mode
        return page(
            "login.html",
            title="sign in",
            here="",
            fragment=False,
            refresh=None,
            mode=mode,
            error="",
        )

    @post("/", status_code=200)
    async def sign_in(
        self, request: Request[Any, Any, Any], state: State, data: URLEncodedBody[dict[str, str]]
    ) -> Response[Any]:
        """Check the token like any request would, then keep it for the dashboard."""
        reg = _registry(state)
        token = (data.get("token") or "").strip()
        try:
            identity = reg.access.identify(f"Bearer {token}", request.headers, request.scope)
            reg.access.require(identity, *_SCOPES)
        except RegistryError as exc:
            return page(
                "login.html",
                title="sign in",
                here="",
                fragment=False,
                refresh=None,
                status=exc.status_code,
                mode=reg.settings.auth.mode,
                error=exc.detail,
            )
        secure = request.url.scheme == "https"
        cookie = Cookie(
            key=COOKIE,
            value=token,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=8 * 3600,
        )
        return Redirect("/ui/", status_code=303, cookies=[cookie])

    @get("/out", status_code=303)
    async def sign_out(self) -> Response[Any]:
        """Forget the cookie."""
        gone = Cookie(key=COOKIE, value="", path="/ui", httponly=True, samesite="strict", max_age=0)
        return Redirect("/ui/login/", status_code=303, cookies=[gone])
