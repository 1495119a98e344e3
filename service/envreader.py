"""Typed reading of ``REGISTRY_*`` environment variables; every error names the variable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class EnvReader:
    """Typed accessors over an environment mapping; every error names the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> str | None:
        """A secret comes from NAME, or from the file named by NAME_FILE (mounted Secrets)."""
        path = self.text(f"{name}_FILE")
        if path is not None:
            try:
                return Path(path).read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise SettingsError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
        return self.text(name)

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer (got {raw!r})") from None
        _check_range(name, value, minimum, maximum)
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds (got {raw!r})") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{name} must be a finite number (got {raw!r})")
        _check_range(name, value, minimum, None)
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        raw = (self.text(name) or default).lower()
        if raw not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)} (got {raw!r})")
        return raw

    def hostports(self, name: str) -> tuple[tuple[str, int], ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        out = []
        for item in raw.split(","):
            host, sep, port = item.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise SettingsError(
                    f"{name} must be a comma-separated host:port list (bad {item!r})"
                )
            out.append((host, int(port)))
        return tuple(out)


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be >= {minimum} (got {value})")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be <= {maximum} (got {value})")
