"""A2A (Agent2Agent) at `/a2a/{assistant_id}`: every assistant an agent (docs/mcp-a2a.md)."""
