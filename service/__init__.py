"""Agent registry: stateless Litestar replicas over Redis, wire-compatible with MCP Mesh."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agent-registry")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
