"""A stock MCP Mesh consumer agent: ``welcome`` depends on ``greeting`` tagged english."""

import _loopback  # noqa: F401  (must run before mesh starts any server)
import mesh
from fastmcp import FastMCP

app = FastMCP("Welcomer")


@app.tool()
@mesh.tool(
    capability="welcome",
    dependencies=[{"capability": "greeting", "tags": ["english"]}],
    description="Welcome a visitor using the greeting capability",
)
async def welcome(name: str = "visitor", greeting: mesh.McpMeshTool = None) -> str:
    if greeting is None:
        return "UNWIRED"
    return f"WIRED: {await greeting(name=name)}"


@mesh.agent(name="welcomer", auto_run=True)
class Welcomer:
    pass
