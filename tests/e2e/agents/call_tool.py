"""Call one tool on an MCP agent over Streamable HTTP and print its text result."""

import asyncio
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, tool: str) -> None:
    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as s:
        await s.initialize()
        result = await s.call_tool(tool, {})
        print("".join(getattr(c, "text", "") for c in result.content))


asyncio.run(main(sys.argv[1], sys.argv[2]))
