"""A stock MCP Mesh provider agent: capability ``greeting`` tagged english, friendly."""

import _loopback  # noqa: F401  (must run before mesh starts any server)
import mesh
from fastmcp import FastMCP

app = FastMCP("Greeter")


@app.tool()
@mesh.tool(capability="greeting", tags=["english", "friendly"], description="Say hello")
def greet(name: str = "World") -> str:
    return f"Hello, {name}!"


@mesh.agent(name="greeter", auto_run=True)
class Greeter:
    pass
