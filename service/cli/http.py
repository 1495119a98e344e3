"""The operator CLI's only way to the registry: its HTTP API, through httpx.

Every failure becomes a :class:`CliError` carrying one line for the operator and the exit
code documented in ``docs/operators.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

# Exit codes (docs/operators.md lists them; tests check each one).
OK = 0
REJECTED = 1  # the registry answered 4xx other than 404 (a bad filter, a missing token, 409)
USAGE = 2  # argparse's own code for a bad command line
NOT_FOUND = 3  # the agent, capability, profile or version does not exist
UNREACHABLE = 4  # no answer: connection refused, DNS, timeout, not the registry
UNAVAILABLE = 5  # the registry answered 5xx (Redis down: 503)

DEFAULT_URL = "http://127.0.0.1:8000"


class CliError(Exception):
    """One line for the operator and the process exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def path_part(value: str) -> str:
    """``value`` quoted for use as one path segment."""
    return quote(value, safe="")


class Api:
    """A synchronous client of one replica's HTTP API."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and return its decoded JSON, or raise :class:`CliError`."""
        return self._call("GET", path, params)

    def post(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """POST ``path`` (no body) and return its decoded JSON, or raise :class:`CliError`."""
        return self._call("POST", path, params)

    def _call(self, method: str, path: str, params: dict[str, Any] | None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, [], "")}
        try:
            response = self._http.request(method, path, params=clean)
        except httpx.TimeoutException:
            raise CliError(
                f"{self.url} did not answer in time ({method} {path})", UNREACHABLE
            ) from None
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the registry at {self.url}: {exc}", UNREACHABLE) from None
        if response.status_code >= 400:
            raise _error(response, method, path)
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.url}{path} answered {response.status_code} without JSON: is --url the "
                "registry?",
                UNREACHABLE,
            ) from None

    def pages(
        self, path: str, key: str, params: dict[str, Any], limit: int | None
    ) -> Iterator[dict[str, Any]]:
        """Items of a cursor-paginated list, following ``next_cursor`` up to ``limit`` items."""
        cursor: str | None = None
        seen = 0
        while True:
            page = self.get(path, {**params, "cursor": cursor})
            for item in page.get(key, []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _error(response: httpx.Response, method: str, path: str) -> CliError:
    """One line from an RFC 9457 problem body (``detail`` and ``field``), or the status."""
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
        if body.get("field"):
            detail = f"{detail} (field: {body['field']})"
    status = response.status_code
    message = f"{method} {path} answered {status}" + (f": {detail}" if detail else "")
    if status == 404:
        return CliError(message, NOT_FOUND)
    if status >= 500:
        return CliError(message, UNAVAILABLE)
    return CliError(message, REJECTED)
