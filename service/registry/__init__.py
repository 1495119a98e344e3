"""The application layer: every use-case of the registry, free of HTTP and MCP.

HTTP controllers (:mod:`service.api`), MCP tools (:mod:`service.mcp`) and the dashboard are
thin adapters over these functions; each takes the :class:`~service.registry.context.Registry`
context first. Nothing here imports an adapter (the import-linter contracts in
``pyproject.toml`` check it).
"""

from service.registry.context import Registry

__all__ = ["Registry"]
