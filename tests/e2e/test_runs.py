"""`client.runs.*` of langgraph-sdk against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError, ConflictError, NotFoundError, UnprocessableEntityError
from langgraph_sdk.schema import Command

from tests.support.hangups import hang_up, settled_status
from tests.support.server import RunningServer
from tests.support.streams import collect
from tests.support.webhook_receiver import webhook_receiver

USER_HI = {"messages": [{"role": "user", "content": "hi"}]}


async def wait_status(client: LangGraphClient, thread_id: str, run_id: str, wanted: set[str]) -> dict[str, Any]:
    for _ in range(200):
        run = await client.runs.get(thread_id, run_id)
        if run["status"] in wanted:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {wanted}: {run['status']}")


async def test_wait_returns_the_final_values_and_updates_the_thread(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "agent", input=USER_HI)
    assert [m["content"] for m in result["messages"]] == ["hi", "You said: hi"]
    stored = await client.threads.get(thread["thread_id"])
    assert stored["status"] == "idle"
    assert stored["metadata"]["graph_id"] == "agent"
    assert stored["values"]["messages"][-1]["content"] == "You said: hi"
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "You said: hi"
    runs = await client.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success"]
    assert runs[0]["kwargs"]["input"] == USER_HI and runs[0]["multitask_strategy"] == "enqueue"


async def test_stream_values_updates_and_message_tuples(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await collect(
        client.runs.stream(
            thread["thread_id"], "agent", input=USER_HI, stream_mode=["values", "updates", "messages-tuple"]
        )
    )
    events = [event for event, _ in parts]
    assert events[0] == "metadata" and set(parts[0][1]) == {"run_id", "attempt"}
    assert "values" in events and "updates" in events
    tokens = [data[0]["content"] for event, data in parts if event == "messages"]
    assert len(tokens) > 1 and "".join(tokens) == "You said: hi", "the fake model streams token by token"
    assert parts[-1][0] in ("values", "updates")


async def test_stream_messages_mode_sends_metadata_partial_messages(client: LangGraphClient) -> None:
    parts = await collect(client.runs.stream(None, "agent", input=USER_HI, stream_mode="messages"))
    events = [event for event, _ in parts]
    assert "messages/metadata" in events
    partials = [data[0]["content"] for event, data in parts if event == "messages/partial"]
    assert partials[-1] == "You said: hi" and len(partials) > 1, "partials accumulate"


async def test_custom_debug_tasks_and_checkpoints_modes(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await collect(
        client.runs.stream(
            thread["thread_id"], "slow", input={"seconds": 0.15},
            stream_mode=["custom", "debug", "tasks", "checkpoints"],
        )
    )  # fmt: skip
    events = {event for event, _ in parts}
    assert {"custom", "debug", "tasks", "checkpoints"} <= events
    assert [data["step"] for event, data in parts if event == "custom"] == [1, 2, 3]


async def test_stream_subgraphs_names_events_by_namespace(client: LangGraphClient) -> None:
    parts = await collect(
        client.runs.stream(None, "subgraph_parent", input={"topic": "t"}, stream_mode="updates", stream_subgraphs=True)
    )
    names = [event for event, _ in parts]
    assert "updates" in names
    assert any(name.startswith("updates|child:") for name in names), names


async def test_stream_response_headers(server: RunningServer, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(f"/threads/{thread['thread_id']}/runs/stream", json={"assistant_id": "agent"})
    assert response.headers["content-type"].startswith("text/event-stream")
    run_path = response.headers["content-location"]
    assert run_path.startswith(f"/threads/{thread['thread_id']}/runs/")
    assert response.headers["location"] == f"{run_path}/stream"
    assert b"\r\n\r\n" in response.content and response.content.startswith(b"event: metadata\r\n")


async def test_background_run_then_join(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input=USER_HI, metadata={"who": "me"})
    assert run["status"] in ("pending", "running") and run["metadata"]["who"] == "me"
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert result["messages"][-1]["content"] == "You said: hi"
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
    # As langgraph-api: joining a finished run's stream yields nothing; with Last-Event-ID it replays.
    assert await collect(client.runs.join_stream(thread["thread_id"], run["run_id"])) == []
    replay = await collect(client.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="0"))
    assert replay[0][0] == "metadata" and replay[-1][0] == "values", "a finished run's stream replays"


async def test_human_in_the_loop_interrupt_then_resume(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    first = await client.runs.wait(thread["thread_id"], "interrupting", input={"request": "deploy"})
    assert first["__interrupt__"][0]["value"] == {"question": "Approve deploy?"}
    stored = await client.threads.get(thread["thread_id"])
    assert stored["status"] == "interrupted"
    assert next(iter(stored["interrupts"].values()))[0]["value"] == {"question": "Approve deploy?"}
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["review"] and state["interrupts"][0]["value"]["question"] == "Approve deploy?"
    runs = await client.runs.list(thread["thread_id"])
    assert runs[0]["status"] == "success", "an interrupted graph still ends its run successfully"

    resumed = await client.runs.wait(thread["thread_id"], "interrupting", command=Command(resume="yes"))
    assert resumed["result"] == "deploy: yes"
    assert (await client.threads.get(thread["thread_id"]))["status"] == "idle"


async def test_interrupt_is_visible_in_a_values_stream(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await collect(client.runs.stream(thread["thread_id"], "interrupting", input={"request": "x"}))
    interrupts = [data for event, data in parts if event == "values" and "__interrupt__" in data]
    assert interrupts and interrupts[0]["__interrupt__"][0]["value"] == {"question": "Approve x?"}


async def test_failing_graph(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await collect(client.runs.stream(thread["thread_id"], "failing", input={}))
    errors = [data for event, data in parts if event == "error"]
    assert errors == [{"error": "ValueError", "message": "deliberate failure"}]
    runs = await client.runs.list(thread["thread_id"])
    assert runs[0]["status"] == "error"
    assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
    with pytest.raises(Exception, match="deliberate failure"):
        await client.runs.wait(thread["thread_id"], "failing", input={})


async def test_cancel_stops_a_running_graph(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
    await wait_status(client, thread["thread_id"], run["run_id"], {"running"})
    await client.runs.cancel(thread["thread_id"], run["run_id"])
    ended = await wait_status(client, thread["thread_id"], run["run_id"], {"interrupted"})
    assert ended["status"] == "interrupted"
    with pytest.raises(NotFoundError):  # as langgraph-api: only a run in flight can be cancelled
        await client.runs.cancel(thread["thread_id"], run["run_id"])
    # Stopped mid-graph, the thread says so (langgraph-sdk: "the thread's execution was
    # interrupted"), as langgraph-api's does; `next` is what would run on resume.
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"
    assert (await client.threads.get_state(thread["thread_id"]))["next"] == ["sleep_in_steps"]


async def test_cancel_with_wait_returns_the_result(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
    await wait_status(client, thread["thread_id"], run["run_id"], {"running"})
    await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"


async def test_multitask_reject_interrupt_and_enqueue(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"seconds": 30})
    await wait_status(client, tid, first["run_id"], {"running"})
    with pytest.raises(ConflictError):
        await client.runs.create(tid, "slow", input={"seconds": 0.05}, multitask_strategy="reject")

    queued = await client.runs.create(tid, "slow", input={"seconds": 0.05}, multitask_strategy="enqueue")
    await asyncio.sleep(0.3)
    assert (await client.runs.get(tid, queued["run_id"]))["status"] == "pending", "one run at a time per thread"

    # `interrupt` cancels every inflight run of the thread, the queued one included (as langgraph-api).
    second = await client.runs.create(tid, "slow", input={"seconds": 0.05}, multitask_strategy="interrupt")
    await client.runs.join(tid, second["run_id"])
    statuses = {r["run_id"]: r["status"] for r in await client.runs.list(tid)}
    assert statuses == {first["run_id"]: "interrupted", queued["run_id"]: "interrupted", second["run_id"]: "success"}

    third = await client.runs.create(tid, "slow", input={"seconds": 0.3})
    fourth = await client.runs.create(tid, "slow", input={"seconds": 0.05})  # enqueue is the default
    await client.runs.join(tid, fourth["run_id"])
    assert (await client.runs.get(tid, third["run_id"]))["status"] == "success", "enqueued runs run in order"


async def test_if_not_exists(client: LangGraphClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as raised:  # the SDK's wait raises httpx's error as is
        await client.runs.wait(missing, "agent", input=USER_HI)
    assert raised.value.response.status_code == 404
    result = await client.runs.wait(missing, "agent", input=USER_HI, if_not_exists="create")
    assert result["messages"][-1]["content"] == "You said: hi"
    thread = await client.threads.get(missing)
    assert thread["metadata"]["graph_id"] == "agent"


async def test_stateless_runs_delete_their_thread_unless_kept(client: LangGraphClient) -> None:
    result = await client.runs.wait(None, "agent", input=USER_HI)
    assert result["messages"][-1]["content"] == "You said: hi"
    kept_run = await client.runs.create(None, "agent", input=USER_HI, on_completion="keep")
    temp_run = await client.runs.create(None, "agent", input=USER_HI)
    await client.runs.join(kept_run["thread_id"], kept_run["run_id"])
    assert (await client.threads.get(kept_run["thread_id"]))["status"] == "idle"
    for _ in range(50):
        try:
            await client.threads.get(temp_run["thread_id"])
        except NotFoundError:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the temporary thread of a stateless run was not deleted")


async def test_batch_creates_stateless_runs(client: LangGraphClient) -> None:
    runs = await client.runs.create_batch([{"assistant_id": "agent", "input": USER_HI}] * 3)
    assert len(runs) == 3 and len({r["run_id"] for r in runs}) == 3


async def test_resumable_stream_replays_after_last_event_id(server: RunningServer, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            f"/threads/{thread['thread_id']}/runs/stream",
            json={
                "assistant_id": "slow",
                "input": {"seconds": 0.1},
                "stream_mode": ["custom"],
                "stream_resumable": True,
            },
        )
        assert b"\r\nid: 1\r\n" in response.content
        run_path = response.headers["content-location"]
        async with http.stream("GET", f"{run_path}/stream", headers={"Last-Event-ID": "2"}) as replay:
            async for line in replay.aiter_lines():
                if line.startswith("id: "):
                    parts.append(int(line[4:]))
    assert parts and parts[0] == 3, "the replay starts right after the given id"


async def test_bulk_cancel(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
    await wait_status(client, thread["thread_id"], run["run_id"], {"running"})
    await client.runs.cancel_many(thread_id=thread["thread_id"], run_ids=[run["run_id"]])
    await wait_status(client, thread["thread_id"], run["run_id"], {"interrupted"})


async def test_delete_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input=USER_HI)
    await client.runs.join(thread["thread_id"], run["run_id"])
    await client.runs.delete(thread["thread_id"], run["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(thread["thread_id"], run["run_id"])


async def test_runs_list_paginates(server: RunningServer, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    for _ in range(3):
        await client.runs.wait(thread["thread_id"], "agent", input=USER_HI)
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get(f"/threads/{thread['thread_id']}/runs", params={"limit": 2})
    assert len(page.json()) == 2 and page.headers["x-pagination-next"] == "2"


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"assistant_id": "agent", "stream_mode": "tools"}, 422, "stream_mode"),
        ({"assistant_id": "agent", "stream_mode": ["values", "nope"]}, 422, "stream_mode"),
        ({"assistant_id": "agent", "input": {"a": 1}, "command": {"resume": 1}}, 422, "both `input` and `command`"),
        ({"assistant_id": "agent", "checkpoint_id": "not-a-uuid"}, 422, "checkpoint_id"),
        ({"assistant_id": "agent", "multitask_strategy": "sometimes"}, 422, "multitask_strategy"),
        ({"assistant_id": "agent", "on_completion": "keep"}, 422, "on_completion"),
        ({"assistant_id": "agent", "feedback_keys": ["x"]}, 422, "feedback_keys"),
        ({"assistant_id": "agent", "mystery": True}, 422, "mystery"),
        ({"assistant_id": "no-such-assistant"}, 422, "must be a UUID"),
        ({"assistant_id": str(uuid.uuid4())}, 404, "not found"),
        ({"assistant_id": "interrupting", "command": {"resume": "yes"}}, 400, "no pending interrupt"),
        ({"assistant_id": "agent", "config": {"configurable": {"a": 1}}, "context": {"a": 1}}, 400, "both"),
    ],
)
async def test_bad_run_requests(server: RunningServer, client: LangGraphClient, body: dict, status: int,
                                detail: str) -> None:  # fmt: skip
    thread = await client.threads.create()
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(f"/threads/{thread['thread_id']}/runs", json=body)
        assert response.status_code == status, response.text
        assert detail in response.json()["detail"]
        assert (await http.get(f"/threads/{thread['thread_id']}/runs")).json() == [], "no run was stored"


async def test_sdk_surfaces_errors(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(thread["thread_id"], "agent", stream_mode="tools")  # type: ignore[arg-type]
    with pytest.raises(APIStatusError):
        await client.runs.get(thread["thread_id"], "not-a-uuid")


async def test_webhook_gets_the_outcome_and_is_retried(client: LangGraphClient) -> None:
    with webhook_receiver(statuses=[503]) as receiver:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "agent", input=USER_HI, webhook=receiver.url)
        await client.runs.join(thread["thread_id"], run["run_id"])
        for _ in range(100):
            if len(receiver.bodies) >= 2:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.bodies) == 2, "a 503 is retried once, then the 200 ends delivery"
    body = receiver.bodies[-1]
    assert body["run_id"] == run["run_id"] and body["status"] == "success"
    assert body["values"]["messages"][-1]["content"] == "You said: hi"
    assert body["run_started_at"] and body["run_ended_at"] and body["webhook_sent_at"]


async def test_webhook_of_a_failed_run_carries_the_error(client: LangGraphClient) -> None:
    with webhook_receiver() as receiver:
        await client.runs.create(None, "failing", input={}, webhook=receiver.url)
        for _ in range(100):
            if receiver.bodies:
                break
            await asyncio.sleep(0.05)
    assert receiver.bodies[0]["status"] == "error"
    assert receiver.bodies[0]["error"] == {"error": "ValueError", "message": "deliberate failure"}


async def test_after_seconds_delays_the_start(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input=USER_HI, after_seconds=1)
    await asyncio.sleep(0.4)
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "pending"
    await client.runs.join(thread["thread_id"], run["run_id"])
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_run_from_a_checkpoint_forks_the_thread(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input=USER_HI)
    first_state = await client.threads.get_state(thread["thread_id"])
    await client.runs.wait(thread["thread_id"], "agent", input={"messages": [{"role": "user", "content": "two"}]})
    forked = await client.runs.wait(
        thread["thread_id"], "agent", input={"messages": [{"role": "user", "content": "again"}]},
        checkpoint_id=first_state["checkpoint"]["checkpoint_id"],
    )  # fmt: skip
    assert [m["content"] for m in forked["messages"]] == ["hi", "You said: hi", "again", "You said: again"]


@pytest.mark.parametrize("webhook", ["ftp://example.com/x", "not a url"])
async def test_bad_webhooks_are_refused(client: LangGraphClient, webhook: str) -> None:
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(None, "agent", input=USER_HI, webhook=webhook)


async def test_cancel_with_rollback_undoes_the_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "slow", input={"seconds": 0.05})
    before = await client.threads.get_state(tid)
    run = await client.runs.create(tid, "slow", input={"seconds": 30})
    await wait_status(client, tid, run["run_id"], {"running"})
    await client.runs.cancel(tid, run["run_id"], action="rollback")
    for _ in range(100):
        try:
            await client.runs.get(tid, run["run_id"])
        except NotFoundError:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("a rolled-back run is deleted")
    after = await client.threads.get_state(tid)
    assert after["checkpoint"]["checkpoint_id"] == before["checkpoint"]["checkpoint_id"]
    history = await client.threads.get_history(tid, limit=100)
    assert all(h["metadata"].get("run_id") != run["run_id"] for h in history), "its checkpoints are gone"
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_multitask_rollback_replaces_the_running_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"seconds": 30})
    await wait_status(client, tid, first["run_id"], {"running"})
    second = await client.runs.create(tid, "slow", input={"seconds": 0.05}, multitask_strategy="rollback")
    await client.runs.join(tid, second["run_id"])
    assert [r["run_id"] for r in await client.runs.list(tid)] == [second["run_id"]]


async def test_events_mode_streams_langchain_events_beside_other_modes(client: LangGraphClient) -> None:
    parts = await collect(client.runs.stream(None, "agent", input=USER_HI, stream_mode=["events", "values"]))
    kinds = {data["event"] for event, data in parts if event == "events"}
    assert "on_chat_model_stream" in kinds and "on_chain_start" in kinds
    assert any(event == "values" for event, _ in parts)


async def test_join_the_thread_stream(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.2}, stream_mode=["custom"])
    parts = []
    # As langgraph-api's, the thread stream stays open for the thread's next runs; each run's end
    # is a `metadata` event with `status: run_done`.
    async for part in await client.threads.join_stream(thread["thread_id"], stream_mode="custom"):
        parts.append((part.event, part.data))
        if part.event == "metadata" and part.data.get("status") == "run_done":
            break
    assert [data["step"] for event, data in parts if event == "custom"] == [1, 2, 3, 4]
    assert parts[-1][1] == {"status": "run_done", "run_id": run["run_id"]}
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"

    async def next_run_done() -> str:
        async for part in await client.threads.join_stream(thread["thread_id"], stream_mode="custom"):
            if part.event == "metadata" and part.data.get("status") == "run_done":
                return str(part.data["run_id"])
        return "the stream ended"

    waiting = asyncio.create_task(next_run_done())  # joined while the thread is idle
    await asyncio.sleep(0.5)
    second = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.1}, stream_mode=["custom"])
    assert await asyncio.wait_for(waiting, 20) == second["run_id"], "a run that starts later is followed too"


async def test_wait_and_join_cancel_on_disconnect_before_the_response_starts(
    server: RunningServer, client: LangGraphClient
) -> None:
    """The client hangs up before the first keep-alive is due (5 s here), so no byte has gone out:
    the server hears it on the request and cancels the run, when asked to."""
    statuses = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for on_disconnect in ("cancel", "continue"):
            thread = (await client.threads.create())["thread_id"]
            body = {"assistant_id": "slow", "input": {"seconds": 1.0}, "on_disconnect": on_disconnect}
            await hang_up(http, "POST", f"/threads/{thread}/runs/wait", json=body, before_response=0.3)
            (run,) = await client.runs.list(thread)
            statuses[f"wait {on_disconnect}"] = await settled_status(client, thread, run["run_id"])
        for cancel in ("true", "false"):
            thread = (await client.threads.create())["thread_id"]
            run = await client.runs.create(thread, "slow", input={"seconds": 1.0})
            path = f"/threads/{thread}/runs/{run['run_id']}/join"
            await hang_up(http, "GET", path, params={"cancel_on_disconnect": cancel}, before_response=0.3)
            statuses[f"join {cancel}"] = await settled_status(client, thread, run["run_id"])
    assert statuses == {
        "wait cancel": "interrupted",
        "wait continue": "success",
        "join true": "interrupted",
        "join false": "success",
    }
