"""MCP and A2A under an auth file (test_auth.py's: users alice and bob, each owning what they
create), SQLite and PostgreSQL: a client presents the same bearer token as to the HTTP API and
sees and calls only what the handlers let it; and MCP sessions (`http.mcp_sessions`) keep a
thread per session and tool."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import GetTaskRequest, Message, Part, Role, SendMessageRequest, TaskState
from a2a.utils.errors import A2AError, TaskNotFoundError
from langgraph_sdk import get_client
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from tests.e2e.test_auth import headers, write_project
from tests.support.postgres import database_for
from tests.support.server import RunningServer, granian_server

CHAT_GRAPH = """
from langgraph.graph import END, START, MessagesState, StateGraph
from langchain_core.messages import AIMessage


def chat(state: MessagesState):
    return {"messages": [AIMessage(content=f"{len(state['messages'])} messages so far")]}


graph = StateGraph(MessagesState).add_node("chat", chat).add_edge(START, "chat").add_edge("chat", END).compile()
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """test_auth.py's project (auth file, `whoami` graph) with a `chat` graph and MCP sessions on."""
    folder = tmp_path_factory.mktemp(f"mcp-a2a-auth-{request.param}")
    env = {**write_project(folder, http={"mcp_sessions": True}), "DATABASE_URL": database_for(request, folder)}
    (folder / "chat.py").write_text(CHAT_GRAPH)
    config = json.loads((folder / "aegra.json").read_text())
    config["graphs"]["chat"] = "./chat.py:graph"
    (folder / "aegra.json").write_text(json.dumps(config))
    with granian_server(folder, env) as running:
        yield running


async def own_assistant(server: RunningServer, user: str, name: str, graph_id: str = "chat") -> str:
    """An assistant of `user` (the handler stamps its owner)."""
    client = get_client(url=server.url, headers=headers(user))
    return str((await client.assistants.create(graph_id, name=name))["assistant_id"])


async def mcp_tools(server: RunningServer, user: str) -> tuple[set[str], Any]:
    async with (
        httpx.AsyncClient(headers=headers(user), timeout=60) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        called = await session.call_tool(f"{user}s_tool", {})
        try:
            await session.call_tool("alices_tool" if user == "bob" else "bobs_tool", {})
            other: Any = "called"
        except McpError as exc:
            other = str(exc)
        return names, (called, other)


async def test_mcp_users_see_and_call_only_their_own_assistants(server: RunningServer) -> None:
    await own_assistant(server, "alice", "alices tool")
    await own_assistant(server, "bob", "bobs tool")
    alice_tools, (called, other) = await mcp_tools(server, "alice")
    assert "alices_tool" in alice_tools and "bobs_tool" not in alice_tools
    assert not called.isError
    assert other == "Unknown tool: bobs_tool"
    bob_tools, (_, other) = await mcp_tools(server, "bob")
    assert "bobs_tool" in bob_tools and "alices_tool" not in bob_tools
    assert other == "Unknown tool: alices_tool"


async def test_mcp_calls_run_as_the_caller(server: RunningServer) -> None:
    await own_assistant(server, "alice", "alice whoami", "whoami")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "alice_whoami", "arguments": {}}}
    async with httpx.AsyncClient(timeout=60) as http:
        answer = await http.post(f"{server.url}/mcp", json=body, headers={**headers("alice"), "accept": "*/*"})
        assert json.loads(answer.json()["result"]["content"][0]["text"])["user_id"] == "alice"
        anonymous = await http.post(f"{server.url}/mcp", json=body, headers={"accept": "*/*"})
    assert anonymous.status_code == 401 and "detail" in anonymous.json()


async def test_an_mcp_session_keeps_a_thread_per_tool_until_it_ends(server: RunningServer) -> None:
    chat = get_client(url=server.url, headers=headers("alice"))
    await chat.assistants.create("chat", name="alices chat")
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "alices_chat",
            "arguments": {"messages": "hi"}}}  # fmt: skip
    async with httpx.AsyncClient(timeout=60, headers={**headers("alice"), "accept": "*/*"}) as http:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
        session_id = (await http.post(f"{server.url}/mcp", json=init)).headers["mcp-session-id"]
        session = {"mcp-session-id": session_id}
        replies = []
        for _ in range(2):
            answer = (await http.post(f"{server.url}/mcp", json=call, headers=session)).json()
            replies.append(json.loads(answer["result"]["content"][0]["text"])["messages"][-1]["content"])
        assert replies == ["1 messages so far", "3 messages so far"]
        # Without the session each call starts afresh (stateless).
        answer = (await http.post(f"{server.url}/mcp", json=call)).json()
        assert json.loads(answer["result"]["content"][0]["text"])["messages"][-1]["content"] == "1 messages so far"
        # Bob cannot use alice's session (her thread is hidden from him).
        bobs = await http.post(f"{server.url}/mcp", json=call, headers={**session, **headers("bob")})
        assert bobs.json()["error"]["code"] == -32602
        sessions_threads = await chat.threads.search(metadata={"mcp_session_id": session_id})
        assert len(sessions_threads) == 1
        assert (await http.delete(f"{server.url}/mcp", headers=session)).status_code == 204
        assert await chat.threads.search(metadata={"mcp_session_id": session_id}) == []
        bad = await http.post(f"{server.url}/mcp", json=call, headers={"mcp-session-id": "not-a-session"})
        assert bad.json()["error"]["data"]["status"] == 404


def a2a_message(text: str) -> SendMessageRequest:
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    return SendMessageRequest(message=message)


async def test_a2a_users_reach_only_their_own_agents_and_tasks(server: RunningServer) -> None:
    chat = get_client(url=server.url, headers=headers("alice"))
    assistant_id = str((await chat.assistants.create("chat", name="alices agent"))["assistant_id"])
    url = f"{server.url}/a2a/{assistant_id}"
    async with httpx.AsyncClient(timeout=60, headers=headers("alice")) as http:
        card = await A2ACardResolver(http, url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        (event,) = [e async for e in client.send_message(a2a_message("hello"))]
        task = event.task
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert (await client.get_task(GetTaskRequest(id=task.id))).id == task.id
    async with httpx.AsyncClient(timeout=60, headers=headers("bob")) as http:
        assert (await http.get(f"{url}/.well-known/agent-card.json")).status_code == 404
        bobs = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        with pytest.raises(A2AError, match="not found"):
            [e async for e in bobs.send_message(a2a_message("hello"))]
        with pytest.raises((TaskNotFoundError, A2AError)):
            await bobs.get_task(GetTaskRequest(id=task.id))
        # Even on his own agent, alice's task is not found for bob.
        own_id = str(
            (await get_client(url=server.url, headers=headers("bob")).assistants.create("chat"))["assistant_id"]
        )
        body = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": task.id}}
        answer = await http.post(f"{server.url}/a2a/{own_id}", json=body, headers={"accept": "*/*"})
        assert answer.json()["error"]["code"] == -32001
    async with httpx.AsyncClient(timeout=60) as anonymous:
        assert (await anonymous.get(f"{url}/.well-known/agent-card.json")).status_code == 401
