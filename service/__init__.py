"""Agent registry: stateless Litestar replicas over Redis, wire-compatible with MCP Mesh."""

#: The package version, the same as ``[project] version`` in pyproject.toml (a test checks):
#: a literal, so a cold start does not pay for an ``importlib.metadata`` scan.
__version__ = "0.1.0"
