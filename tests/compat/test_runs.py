"""`client.runs`: create, wait, join, get, list, delete, batch, cancel, multitask strategies,
interrupts and resume, errors, against the official server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.compat.pair import Pair, Side, by_mode, parts

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def until_status(s: Side, thread_id: str, run_id: str, *statuses: str, within: float = 20.0) -> str:
    async with asyncio.timeout(within):
        while True:
            status = (await s.sdk.runs.get(thread_id, run_id))["status"]
            if status in statuses:
                return status
            await asyncio.sleep(0.05)


async def new_thread(s: Side, name: str = "thread") -> str:
    """A new thread, shown as `<name>`."""
    return s.name_id((await s.sdk.threads.create())["thread_id"], name)


async def test_create_wait_join_get_list_delete(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        tid = await new_thread(s)
        r = s.sdk.runs
        run = await r.create(tid, "custom_schema", input={"name": "Ann"}, metadata={"m": 1})
        rid = s.new_id(run["run_id"], "run")
        joined = await r.join(tid, rid)
        waited = await r.wait(tid, "custom_schema", input={"name": "Bob"}, context={"punctuation": "!"})
        second = (await r.list(tid, limit=1))[0]
        s.new_id(second["run_id"], "run")
        return {
            "runs.create": run,
            "runs.join": joined,
            "runs.wait.output_schema": waited,
            "runs.get": await r.get(tid, rid),
            "runs.list": await r.list(tid),
            "runs.list.page": await r.list(tid, limit=1, offset=1),
            "runs.list.status": await r.list(tid, status="success"),
            "runs.list.select": await s.call(r.list(tid, select=["run_id", "status"])),
            "runs.list.headers": await s.request("GET", f"/threads/{tid}/runs", params={"limit": 1}),
            "runs.get.unknown": await s.call(r.get(tid, str(uuid.uuid4()))),
            "runs.get.other_thread": await s.call(r.get(await new_thread(s, "other"), rid)),
            "runs.delete": await r.delete(tid, rid),
            "runs.get.deleted": await s.call(r.get(tid, rid)),
            "runs.delete.unknown": await s.call(r.delete(tid, str(uuid.uuid4()))),
            "runs.join.unknown": await s.call(r.join(tid, str(uuid.uuid4()))),
            "threads.get.after": await s.sdk.threads.get(tid),
        }

    await pair.run(scenario)


async def test_creation_options_and_refusals(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        tid = await new_thread(s)
        r = s.sdk.runs
        unknown = s.name_id(str(uuid.uuid4()), "unknown")
        created = await r.wait(unknown, "agent", input=HI, if_not_exists="create")
        return {
            "runs.wait.if_not_exists_create": created,
            "runs.wait.if_not_exists_create.thread": await s.sdk.threads.get(unknown),
            "runs.wait.if_not_exists_reject": await s.call(r.wait(str(uuid.uuid4()), "agent", input=HI)),
            "runs.create.unknown_assistant": await s.call(r.create(tid, str(uuid.uuid4()), input=HI)),
            "runs.create.unknown_graph_name": await s.call(r.create(tid, "no_such_graph", input=HI)),
            "runs.create.input_and_command": await s.call(r.create(tid, "agent", input=HI, command={"resume": "x"})),
            "runs.create.resume_without_interrupt": await s.call(r.create(tid, "agent", command={"resume": "x"})),
            "runs.create.config_and_context": await s.call(
                r.create(tid, "agent", input=HI, config={"configurable": {"a": 1}}, context={"a": 1})
            ),
            "runs.create.bad_stream_mode": await s.request(
                "POST", f"/threads/{tid}/runs", json={"assistant_id": "agent", "stream_mode": "nope"}
            ),
            "runs.create.v2_stream_mode": await s.request(
                "POST", f"/threads/{tid}/runs", json={"assistant_id": "agent", "stream_mode": "lifecycle"}
            ),
            "runs.create.bad_checkpoint_id": await s.call(r.create(tid, "agent", input=HI, checkpoint_id="nope")),
            "runs.create.not_uuid_thread": await s.call(r.create("nope", "agent", input=HI)),
            "runs.create.missing_assistant": await s.request("POST", f"/threads/{tid}/runs", json={}),
            "runs.create.not_json": await s.request("POST", f"/threads/{tid}/runs", content=b"{nope"),
            "runs.create.webhook_loopback": await s.call(
                r.create(tid, "agent", input=HI, webhook="http://127.0.0.1:9/hook")
            ),
            "runs.create.webhook_link_local": await s.call(
                r.create(tid, "agent", input=HI, webhook="http://169.254.169.254/x")
            ),
            "runs.create.webhook_private": await s.call(
                r.create(tid, "agent", input=HI, webhook="http://10.1.2.3/hook")
            ),
            "runs.create.webhook_relative": await s.call(r.create(tid, "agent", input=HI, webhook="/ok")),
            "runs.create.webhook_bad_scheme": await s.call(
                r.create(tid, "agent", input=HI, webhook="ftp://example.com/x")
            ),
        }

    await pair.run(scenario)


async def test_errors_of_a_failing_graph(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        tid = await new_thread(s)
        r = s.sdk.runs
        run = await r.create(tid, "failing", input={"value": "x"})
        rid = s.new_id(run["run_id"], "run")
        return {
            "runs.join.error": await r.join(tid, rid),
            "runs.get.error": await r.get(tid, rid),
            "runs.wait.error": await r.wait(tid, "failing", input={}, raise_error=False),
            "runs.wait.error.raises": await s.call(r.wait(tid, "failing", input={})),
            "runs.stream.error": by_mode(await parts(r.stream(tid, "failing", input={}, stream_mode="updates"))),
            "threads.get.error": await s.sdk.threads.get(tid),
        }

    await pair.run(scenario)


async def test_stateless_and_batch(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        r = s.sdk.runs
        created = await r.create(None, "custom_schema", input={"name": "Ann"})
        s.new_id(created["thread_id"], "thread")
        s.new_id(created["run_id"], "run")
        batch = await r.create_batch([{"assistant_id": "custom_schema", "input": {"name": n}} for n in ("A", "B")])
        for run in batch:
            s.new_id(run["thread_id"], "thread")
            s.new_id(run["run_id"], "run")
        return {
            "runs.create.stateless": created,
            "runs.create_batch": batch,
            "runs.wait.stateless": await r.wait(None, "custom_schema", input={"name": "Cy"}),
            "runs.stream.stateless": by_mode(
                await parts(r.stream(None, "custom_schema", input={"name": "Di"}, stream_mode=["values", "updates"]))
            ),
            "runs.create.stateless_multitask": await s.call(
                r.create(None, "agent", input=HI, multitask_strategy="reject")
            ),
            "runs.create_batch.bad_item": await s.request("POST", "/runs/batch", json=[{"input": {}}]),
        }

    await pair.run(scenario)


async def test_cancel(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        r = s.sdk.runs
        tid = await new_thread(s)
        first = s.new_id((await r.create(tid, "slow", input={"seconds": 10}))["run_id"], "run")
        await until_status(s, tid, first, "running")
        out: dict[str, Any] = {"runs.cancel.wait": await r.cancel(tid, first, wait=True)}
        out["runs.cancel.get"] = await r.get(tid, first)
        out["runs.cancel.thread"] = await s.sdk.threads.get(tid)
        out["runs.cancel.state"] = await s.sdk.threads.get_state(tid)
        out["runs.cancel.finished"] = await s.call(r.cancel(tid, first))
        out["runs.cancel.unknown"] = await s.call(r.cancel(tid, str(uuid.uuid4())))
        out["runs.cancel.bad_action"] = await s.request(
            "POST", f"/threads/{tid}/runs/{first}/cancel", params={"action": "nope"}
        )

        second = s.new_id((await r.create(tid, "slow", input={"seconds": 10}))["run_id"], "run")
        await until_status(s, tid, second, "running")
        out["runs.cancel.no_wait"] = await s.request("POST", f"/threads/{tid}/runs/{second}/cancel")
        out["runs.cancel.no_wait.status"] = await until_status(s, tid, second, "interrupted", "success")

        third = s.new_id((await r.create(tid, "slow", input={"seconds": 10}))["run_id"], "run")
        await until_status(s, tid, third, "running")
        out["runs.cancel.rollback"] = await r.cancel(tid, third, wait=True, action="rollback")
        out["runs.cancel.rollback.get"] = await s.call(r.get(tid, third))

        other = await new_thread(s, "other")
        fourth = s.new_id((await r.create(other, "slow", input={"seconds": 10}))["run_id"], "run")
        await until_status(s, other, fourth, "running")
        out["runs.cancel_many.ids"] = await r.cancel_many(thread_id=other, run_ids=[fourth])
        out["runs.cancel_many.ids.status"] = await until_status(s, other, fourth, "interrupted", "success")
        out["runs.cancel_many.both"] = await s.request(
            "POST", "/runs/cancel", json={"status": "all", "thread_id": other, "run_ids": [fourth]}
        )
        out["runs.cancel_many.neither"] = await s.request("POST", "/runs/cancel", json={})
        out["runs.list.after_cancels"] = [run["status"] for run in await r.list(tid)]
        return out

    await pair.run(scenario)


async def _multitask(s: Side, strategy: str) -> dict[str, Any]:
    r = s.sdk.runs
    tid = await new_thread(s, f"{strategy}:thread")
    first = s.name_id((await r.create(tid, "slow", input={"seconds": 1.5}))["run_id"], f"{strategy}:first")
    await until_status(s, tid, first, "running")
    second = await s.call(r.create(tid, "slow", input={"seconds": 0.1}, multitask_strategy=strategy))
    out: dict[str, Any] = {f"runs.multitask.{strategy}.create": second}
    if "run_id" in second:
        s.name_id(second["run_id"], f"{strategy}:second")
        out[f"runs.multitask.{strategy}.join"] = await r.join(tid, second["run_id"])
    await s.call(r.join(tid, first))
    out[f"runs.multitask.{strategy}.first"] = await s.call(r.get(tid, first))
    out[f"runs.multitask.{strategy}.runs"] = [(run["run_id"], run["status"]) for run in await r.list(tid)]
    out[f"runs.multitask.{strategy}.thread"] = await s.sdk.threads.get(tid)
    return out


async def test_multitask_strategies(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        results = await asyncio.gather(
            *(_multitask(s, strategy) for strategy in ("reject", "interrupt", "rollback", "enqueue"))
        )
        return {key: value for result in results for key, value in result.items()}

    await pair.run(scenario)


async def test_interrupt_and_resume(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        r = s.sdk.runs
        tid = await new_thread(s)
        interrupted = await r.wait(tid, "interrupting", input={"request": "deploy"})
        state = await s.sdk.threads.get_state(tid)
        thread = await s.sdk.threads.get(tid)
        for n, task in enumerate(state["tasks"]):
            s.name_id(task["id"], f"task:{n}")
        streamed = by_mode(
            await parts(r.stream(tid, "interrupting", command={"resume": "yes"}, stream_mode=["values", "updates"]))
        )
        other = await new_thread(s, "other")
        await r.wait(other, "interrupting", input={"request": "again"})
        before = await r.wait(
            other, "interrupting", input={"request": "first"}, interrupt_before=["finish"], command=None
        )
        return {
            "runs.wait.interrupt": interrupted,
            "runs.interrupt.state": state,
            "runs.interrupt.thread": thread,
            "runs.stream.resume": streamed,
            "runs.resume.state": await s.sdk.threads.get_state(tid),
            "runs.resume.thread": await s.sdk.threads.get(tid),
            "runs.wait.interrupt_before": before,
            "runs.wait.resume_no_interrupt": await s.call(r.wait(tid, "interrupting", command={"resume": "x"})),
            "runs.wait.goto": await r.wait(
                await new_thread(s, "goto"),
                "interrupting",
                command={"goto": "finish", "update": {"request": "r", "answer": "a"}},
            ),
        }

    await pair.run(scenario)


async def test_join_stream(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        r = s.sdk.runs
        tid = await new_thread(s)
        done = s.new_id(
            (await r.create(tid, "slow", input={"seconds": 0.1}, stream_mode=["values", "custom"]))["run_id"], "run"
        )
        await r.join(tid, done)
        live = s.new_id(
            (await r.create(tid, "slow", input={"seconds": 1}, stream_mode=["values", "custom"]))["run_id"], "run"
        )
        await until_status(s, tid, live, "running")
        custom = await parts(r.join_stream(tid, live, stream_mode="custom"))
        resumable = await r.create(tid, "slow", input={"seconds": 0.2}, stream_mode="custom", stream_resumable=True)
        rid = s.new_id(resumable["run_id"], "run")
        await r.join(tid, rid)
        return {
            "runs.join_stream.finished": await parts(r.join_stream(tid, done)),
            # From now on: which steps a late join sees depends on timing; that it sees the last ones,
            # and no leading `metadata`, does not.
            "runs.join_stream.live_custom": {event: data[-1:] for event, data in by_mode(custom).items()},
            "runs.join_stream.live_custom.first": custom[0][0] if custom else None,
            "runs.join_stream.resumable_finished": by_mode(await parts(r.join_stream(tid, rid))),
            "runs.join_stream.unknown": await s.call(parts(r.join_stream(tid, str(uuid.uuid4())))),
        }

    await pair.run(scenario)
