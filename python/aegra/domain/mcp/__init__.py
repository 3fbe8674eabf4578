"""MCP (Model Context Protocol) at `/mcp`: every assistant a caller may read is a tool (docs/mcp-a2a.md)."""
