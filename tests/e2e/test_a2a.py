"""A2A at `/a2a/{assistant_id}` through the official `a2a-sdk` clients (its A2A 1.0 JSON-RPC
transport, and its A2A 0.3 compat transport, which speaks langgraph-api's dialect), on SQLite and
PostgreSQL: the agent card, send, stream, get, cancel, interrupts answered by the next message,
file parts, the refusal of graphs without messages, and JSON-RPC errors for bad input.
Auth: tests/e2e/test_mcp_a2a_auth.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import A2AError, TaskNotCancelableError, UnsupportedOperationError
from google.protobuf.json_format import MessageToDict

from aegra.graphs import system_assistant_id
from tests.support.server import RunningServer


def agent_url(server: RunningServer, graph_id: str) -> str:
    return f"{server.url}/a2a/{system_assistant_id(graph_id)}"


@asynccontextmanager
async def a2a_client(server: RunningServer, graph_id: str, *, streaming: bool = False, version: str = "1.0",
                     headers: dict[str, str] | None = None) -> AsyncIterator[Any]:  # fmt: skip
    """An SDK client for the graph's system assistant, resolved from its card; `version` picks
    the interface the card offers for it ("0.3": the SDK's compat transport)."""
    async with httpx.AsyncClient(timeout=60, headers=headers) as http:
        card = await A2ACardResolver(http, agent_url(server, graph_id)).get_agent_card()
        kept = [i for i in card.supported_interfaces if i.protocol_version == version]
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(kept)
        client = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(card)
        yield client


def user_message(*parts: Part, context_id: str = "", task_id: str = "") -> SendMessageRequest:
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=list(parts), context_id=context_id,
                      task_id=task_id)  # fmt: skip
    return SendMessageRequest(message=message)


def data(value: dict[str, Any]) -> Part:
    part = Part()
    part.data.struct_value.update(value)
    return part


async def send(client: Any, request: SendMessageRequest) -> list[StreamResponse]:
    return [event async for event in client.send_message(request)]


async def sent_task(client: Any, request: SendMessageRequest) -> Task:
    (event,) = await send(client, request)
    assert event.HasField("task")
    return event.task


@pytest.mark.parametrize("path", ["/.well-known/agent-card.json", "/.well-known/agent.json", ""])
def test_each_assistant_has_an_agent_card(server: RunningServer, path: str) -> None:
    card = httpx.get(agent_url(server, "agent") + path).json()
    assert card["name"] == "agent"
    assert card["description"] == "Chat with a fake model that streams its reply"
    assert card["url"] == agent_url(server, "agent")
    assert {i["protocolVersion"] for i in card["supportedInterfaces"]} == {"1.0", "0.3"}
    assert card["capabilities"]["streaming"] is True
    (skill,) = card["skills"]
    assert skill["metadata"]["inputSchema"]["supportsA2A"] is True
    assert httpx.get(f"{server.url}/a2a/{uuid.uuid4()}/.well-known/agent-card.json").status_code == 404
    root = httpx.get(f"{server.url}/.well-known/agent-card.json", params={"assistant_id": "interrupting"}).json()
    assert root["name"] == "interrupting" and root["skills"][0]["metadata"]["inputSchema"]["supportsA2A"] is False


async def test_the_sdk_client_reads_the_card(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        card: AgentCard = await A2ACardResolver(http, agent_url(server, "agent")).get_agent_card()
    assert card.name == "agent" and card.capabilities.streaming
    assert card.supported_interfaces[0].protocol_binding == "JSONRPC"


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_send_then_get_then_continue_the_context(server: RunningServer, version: str) -> None:
    async with a2a_client(server, "agent", version=version) as client:
        task = await sent_task(client, user_message(Part(text="hello agent")))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert task.artifacts[0].parts[0].text == "You said: hello agent"
        assert [m.role for m in task.history] == [Role.ROLE_USER, Role.ROLE_AGENT]
        assert task.id == f"{task.context_id}:{task.id.split(':')[1]}"

        got = await client.get_task(GetTaskRequest(id=task.id, history_length=1))
        assert got.status.state == TaskState.TASK_STATE_COMPLETED and got.context_id == task.context_id
        assert [p.text for m in got.history for p in m.parts] == ["You said: hello agent"]
        assert got.artifacts[0].parts[0].text == "You said: hello agent"

        # The same context is the same thread: the conversation goes on.
        again = await sent_task(client, user_message(Part(text="second"), context_id=task.context_id))
        assert again.context_id == task.context_id and again.id != task.id
        assert len(again.history) == 4 and again.artifacts[0].parts[0].text == "You said: second"


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_stream_sends_the_task_its_progress_and_its_answer(server: RunningServer, version: str) -> None:
    async with a2a_client(server, "agent", streaming=True, version=version) as client:
        events = await send(client, user_message(Part(text="stream this please")))
    first, *updates = events
    assert first.task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert first.task.history[0].parts[0].text == "stream this please"
    states = [e.status_update.status.state for e in updates if e.HasField("status_update")]
    assert states[0] == TaskState.TASK_STATE_WORKING and states[-1] == TaskState.TASK_STATE_COMPLETED
    said = [e.status_update.status.message.parts[0].text for e in updates
            if e.HasField("status_update") and e.status_update.status.message.parts]  # fmt: skip
    assert said and said[-1] == "You said: stream this please"
    assert len(said) > 1  # the fake model streams word by word
    (artifact,) = [e.artifact_update.artifact for e in updates if e.HasField("artifact_update")]
    assert artifact.parts[0].text == "You said: stream this please"
    assert {e.status_update.task_id for e in updates if e.HasField("status_update")} == {first.task.id}


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_an_interrupt_is_input_required_and_the_next_message_resumes_it(
    server: RunningServer, version: str
) -> None:
    async with a2a_client(server, "interrupting", version=version) as client:
        task = await sent_task(client, user_message(data({"request": "deploy"})))
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        question = MessageToDict(task.artifacts[0].parts[0].data)
        assert question["value"] == {"question": "Approve deploy?"}
        got = await client.get_task(GetTaskRequest(id=task.id))
        assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

        # A task waiting for input can be cancelled too (as langgraph-api: the question is dropped).
        waiting = await sent_task(client, user_message(data({"request": "drop"})))
        assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        canceled = await client.cancel_task(CancelTaskRequest(id=waiting.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        assert (await client.get_task(GetTaskRequest(id=waiting.id))).status.state == TaskState.TASK_STATE_CANCELED
        with pytest.raises(TaskNotCancelableError, match="not cancelable"):
            await client.cancel_task(CancelTaskRequest(id=waiting.id))

        done = await sent_task(client, user_message(data({"resume": "yes"}), task_id=task.id,
                                                    context_id=task.context_id))  # fmt: skip
        assert done.id == task.id and done.status.state == TaskState.TASK_STATE_COMPLETED
        assert MessageToDict(done.artifacts[0].parts[0].data)["result"] == "deploy: yes"
        assert (await client.get_task(GetTaskRequest(id=task.id))).status.state == TaskState.TASK_STATE_COMPLETED
        # A finished task takes no more messages.
        with pytest.raises(UnsupportedOperationError, match="terminal task"):
            await sent_task(client, user_message(data({"resume": "again"}), task_id=task.id))


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_cancel_a_running_task(server: RunningServer, version: str) -> None:
    async with a2a_client(server, "slow", streaming=True, version=version) as client:
        stream = client.send_message(user_message(data({"seconds": 30})))
        first = await anext(stream)
        task_id = first.task.id
        async with a2a_client(server, "slow", version=version) as other:
            canceled = await other.cancel_task(CancelTaskRequest(id=task_id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
            rest = [event async for event in stream]
            assert rest[-1].status_update.status.state == TaskState.TASK_STATE_CANCELED
            got = await other.get_task(GetTaskRequest(id=task_id))
            assert got.status.state == TaskState.TASK_STATE_CANCELED
            with pytest.raises(TaskNotCancelableError, match="not cancelable"):
                await other.cancel_task(CancelTaskRequest(id=task_id))


async def test_text_and_file_parts_become_one_message_with_content_blocks(server: RunningServer) -> None:
    png = b"\x89PNG\r\n\x1a\n fake image"
    async with a2a_client(server, "agent") as client:
        image = Part(raw=png, media_type="image/png", filename="a.png")
        task = await sent_task(client, user_message(Part(text="what is this?"), image))
    user = task.history[0]
    assert user.parts[0].text == "what is this?"
    assert user.parts[1].raw == png and user.parts[1].media_type == "image/png" and user.parts[1].filename == "a.png"
    assert task.status.state == TaskState.TASK_STATE_COMPLETED


async def test_a_graph_without_messages_refuses_text(server: RunningServer) -> None:
    async with a2a_client(server, "custom_schema") as client:
        with pytest.raises(A2AError, match="does not support A2A conversational messages"):
            await sent_task(client, user_message(Part(text="hi")))
        # Its input as a data part is fine.
        task = await sent_task(client, user_message(data({"name": "Ada"})))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert "Ada" in json.dumps(MessageToDict(task.artifacts[0].parts[0].data))


def rpc_message(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "r1", "method": method, "params": params}


TEXT = {"messageId": "m1", "role": "user", "parts": [{"kind": "text", "text": "hi"}]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{oops", 400, -32700),
        (b"[" * 10_000 + b"]" * 10_000, 400, -32700),
        (b"[]", 400, -32600),
        ({"jsonrpc": "2.0", "method": "message/send"}, 400, -32600),
        ({"jsonrpc": "2.0", "id": [1], "method": "message/send"}, 400, -32600),
        (rpc_message("message/sing"), 200, -32601),
        (rpc_message("tasks/resubscribe", id="x"), 200, -32004),
        (rpc_message("ListTasks"), 200, -32004),
        (rpc_message("message/send"), 200, -32602),
        (rpc_message("message/send", message="hi"), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "messageId": 5}), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "role": "robot"}), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "parts": []}), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "parts": [{"kind": "text", "text": 5}]}), 200, -32005),
        (rpc_message("message/send", message={**TEXT, "parts": [{"file": {"bytes": "a", "uri": "b"}}]}), 200, -32005),
        (rpc_message("message/send", message={**TEXT, "parts": [{"data": [1, 2]}]}), 200, -32005),
        (rpc_message("message/send", message={**TEXT, "contextId": "not-a-uuid"}), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "taskId": f"{uuid.uuid4()}:{uuid.uuid4()}"}), 200, -32001),
        (rpc_message("message/send", message=TEXT, configuration={"historyLength": 11}), 200, -32602),
        (rpc_message("message/send", message=TEXT, configuration={"historyLength": -1}), 200, -32602),
        (rpc_message("message/send", message={**TEXT, "parts": [{"data": {"resume": 1}}]}), 200, -32602),
        (rpc_message("tasks/get"), 200, -32602),
        (rpc_message("tasks/get", id="nope"), 200, -32001),
        (rpc_message("GetTask", id=f"{uuid.uuid4()}:{uuid.uuid4()}", historyLength=10**40), 200, -32602),
        (rpc_message("tasks/cancel", id=f"{uuid.uuid4()}:x"), 200, -32001),
    ],
)
async def test_bad_jsonrpc_input_gets_a_jsonrpc_error(server: RunningServer, body: Any, status: int, code: int) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(agent_url(server, "agent"), content=content, headers={"accept": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text


async def test_an_unknown_assistant_is_an_error_not_a_crash(server: RunningServer) -> None:
    body = rpc_message("message/send", message=TEXT)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{server.url}/a2a/{uuid.uuid4()}", json=body, headers={"accept": "*/*"})
        assert answer.status_code == 200 and answer.json()["error"]["code"] == -32602
        streamed = await http.post(agent_url(server, "agent"), json=rpc_message("message/stream", message=TEXT),
                                   headers={"accept": "application/json"})  # fmt: skip
        assert streamed.status_code == 400  # a stream needs text/event-stream in Accept
