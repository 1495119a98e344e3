"""A bug in a handler is a logged traceback and a plain RFC 9457 500, never internals."""

from __future__ import annotations

import logging

import pytest
from litestar import get
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings


@get("/boom", sync_to_thread=False)
def _boom() -> None:
    raise RuntimeError("secret internals")


def test_unhandled_error_is_logged_and_answered_as_a_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings.from_env({"REGISTRY_AUTH": "off"}))
    app.register(_boom)
    logger = logging.getLogger("service.api")  # "service" does not propagate to the root
    logger.addHandler(caplog.handler)
    try:
        with TestClient(app) as client:
            r = client.get("/boom")
            missing = client.get("/no-such-path")
    finally:
        logger.removeHandler(caplog.handler)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 500 and body["instance"] == "/boom"
    assert "secret" not in r.text
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records
    )
    assert missing.status_code == 404  # HTTP errors keep their own status
