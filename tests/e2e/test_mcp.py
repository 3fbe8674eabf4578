"""MCP at `/mcp` through the official `mcp` client (Streamable HTTP + ClientSession), SQLite and
PostgreSQL: every assistant is a tool with its graph's input schema, a call is a run, failures
are `isError` results, and bad JSON-RPC input gets JSON-RPC errors (never a 500).
Auth and sessions: tests/e2e/test_mcp_a2a_auth.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from tests.support.server import RunningServer

JSON = {"accept": "application/json, text/event-stream"}


async def rpc(server: RunningServer, body: Any, *, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{server.url}/mcp", content=content, headers={**JSON, **(headers or {})})


async def test_the_sdk_client_lists_the_assistants_as_tools_and_calls_one(server: RunningServer) -> None:
    async with streamable_http_client(f"{server.url}/mcp") as (read, write, _), ClientSession(read, write) as session:
        initialized = await session.initialize()
        assert initialized.protocolVersion == "2025-11-25"
        assert initialized.capabilities.tools is not None
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"agent", "interrupting", "custom_schema", "failing"} <= tools.keys()
        agent = tools["agent"]
        assert agent.description == "Chat with a fake model that streams its reply"
        # The LangChain message list is one string for a model to fill in.
        assert agent.inputSchema["properties"]["messages"]["type"] == "string"
        assert "$defs" not in agent.inputSchema
        assert tools["custom_schema"].inputSchema["properties"].keys() == {"name"}

        result = await session.call_tool("agent", {"messages": "hello over MCP"})
        assert not result.isError
        output = json.loads(result.content[0].text)  # type: ignore[union-attr]
        assert output["messages"][-1]["content"] == "You said: hello over MCP"
        assert result.structuredContent == output

        await session.send_ping()


async def test_a_failing_graph_is_an_error_result_and_an_unknown_tool_a_protocol_error(server: RunningServer) -> None:
    async with streamable_http_client(f"{server.url}/mcp") as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        failed = await session.call_tool("failing", {})
        assert failed.isError
        assert failed.content[0].text == "ValueError: deliberate failure"  # type: ignore[union-attr]
        with pytest.raises(McpError, match="Unknown tool: no_such_tool"):
            await session.call_tool("no_such_tool", {})


async def test_an_interrupt_comes_back_as_the_tool_output(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "interrupting", "arguments": {"request": "deploy"}}}  # fmt: skip
    answer = (await rpc(server, body)).json()
    assert answer["id"] == 7
    output = json.loads(answer["result"]["content"][0]["text"])
    assert output["__interrupt__"][0]["value"] == {"question": "Approve deploy?"}
    # Without an MCP-Protocol-Version header the client is taken to speak 2025-03-26: no structuredContent.
    assert "structuredContent" not in answer["result"]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
async def test_each_supported_protocol_version_is_agreed_to(server: RunningServer, version: str) -> None:
    body = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"protocolVersion": version}}
    answer = (await rpc(server, body)).json()
    assert answer["result"]["protocolVersion"] == version
    assert answer["result"]["serverInfo"]["name"] == "Aegra"
    listed = await rpc(server, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       headers={"mcp-protocol-version": version})  # fmt: skip
    assert listed.status_code == 200 and listed.json()["result"]["tools"]


async def test_an_unknown_protocol_version_gets_the_latest(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1999-01-01"}}
    assert (await rpc(server, body)).json()["result"]["protocolVersion"] == "2025-11-25"
    refused = await rpc(server, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers={"mcp-protocol-version": "1999"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32600


CALL = {"jsonrpc": "2.0", "id": 5, "method": "tools/call"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, -32700),
        (b"", 400, -32700),
        (b"[" * 10_000 + b"]" * 10_000, 400, -32700),  # nested too deep for the parser
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], 400, -32600),  # batches are gone since 2025-06-18
        ("ping", 400, -32600),
        ({"id": 1, "method": "ping"}, 400, -32600),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, 400, -32600),
        ({"jsonrpc": "2.0", "id": {"no": 1}, "method": "ping"}, 400, -32600),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, 400, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": 12}, 400, -32600),
        ({"jsonrpc": "2.0", "id": 1}, 400, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, 400, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "resources/list"}, 200, -32601),
        ({**CALL, "params": {}}, 200, -32602),
        ({**CALL, "params": {"name": 12}}, 200, -32602),
        ({**CALL, "params": {"name": "agent", "arguments": [1, 2]}}, 200, -32602),
        ({**CALL, "params": {"name": "agent", "arguments": {}, "context": "x"}}, 200, -32602),
        ({**CALL, "params": {"name": "x" * 100_000, "arguments": {"n": 10**400}}}, 200, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "abc"}}, 200, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": str(10**30)}}, 200, -32602),
    ],
)
async def test_bad_jsonrpc_input_gets_a_jsonrpc_error(server: RunningServer, body: Any, status: int, code: int) -> None:
    answer = await rpc(server, body)
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["jsonrpc"] == "2.0" and payload["error"]["code"] == code and payload["error"]["message"]


async def test_notifications_and_responses_are_acknowledged_without_a_body(server: RunningServer) -> None:
    notified = await rpc(server, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notified.status_code == 202 and notified.content == b""
    answered = await rpc(server, {"jsonrpc": "2.0", "id": 3, "result": {}})
    assert answered.status_code == 202


async def test_the_transport_refuses_what_it_does_not_serve(server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        no_accept = await http.post(f"{server.url}/mcp", content=ping, headers={"accept": "text/html"})
        assert no_accept.status_code == 400 and no_accept.json()["error"]["code"] == -32600
        assert (await http.get(f"{server.url}/mcp", headers=JSON)).status_code == 405  # no server-sent stream
        assert (await http.delete(f"{server.url}/mcp")).status_code == 405  # stateless: no session to end
