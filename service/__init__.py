"""Agent registry: stateless Litestar replicas over Redis, wire-compatible with MCP Mesh."""

#: The package version, read by setuptools from here (pyproject ``dynamic``): a literal, so
#: a cold start does not pay for ``importlib.metadata`` (tens of ms of imports).
__version__ = "0.1.0"
