"""Keep the MCP Mesh SDK's servers on 127.0.0.1 in tests.

The SDK binds its pipeline server to 0.0.0.0 unconditionally (HostResolver), even when
HOST asks for loopback; tests may only listen on loopback, so pin the binding host.
"""

from _mcp_mesh.shared.host_resolver import HostResolver

HostResolver.get_binding_host = staticmethod(lambda: "127.0.0.1")  # type: ignore[method-assign]
