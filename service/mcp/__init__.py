"""The registry as an MCP server: its tools and config resources over Streamable HTTP at /mcp."""

from .endpoint import PATH, McpEndpoint

__all__ = ["PATH", "McpEndpoint"]
