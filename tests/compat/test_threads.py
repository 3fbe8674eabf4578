"""`client.threads`: CRUD, search and count, copy, prune, state, history, against the official server."""

from __future__ import annotations

import uuid
from typing import Any

from tests.compat.compare import shape
from tests.compat.pair import Pair, Side


def mark(s: Side) -> str:
    """A value unique to this scenario, for metadata to search by (shown as `<mark>`)."""
    return s.name_id(str(uuid.uuid4()), "mark")


async def test_create_get_update_delete(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        created = await s.sdk.threads.create(metadata={"mark": m, "n": 1})
        tid = s.name_id(created["thread_id"], "thread")
        given = s.name_id(str(uuid.uuid4()), "given")
        return {
            "threads.create": created,
            "threads.create.with_id": await s.sdk.threads.create(thread_id=given, metadata={"mark": m}),
            "threads.create.exists_raise": await s.call(s.sdk.threads.create(thread_id=given)),
            "threads.create.exists_do_nothing": await s.sdk.threads.create(thread_id=given, if_exists="do_nothing"),
            "threads.create.ttl": await s.call(s.sdk.threads.create(metadata={"mark": m}, ttl=60)),
            "threads.get": await s.sdk.threads.get(tid),
            "threads.get.include_ttl": await s.call(s.sdk.threads.get(given, include=["ttl"])),
            "threads.update": await s.sdk.threads.update(tid, metadata={"n": 2, "extra": "x"}),
            "threads.update.ttl": await s.call(s.sdk.threads.update(tid, metadata={}, ttl=30)),
            "threads.update.minimal": await s.request(
                "PATCH", f"/threads/{tid}", json={"metadata": {"n": 3}}, headers={"Prefer": "return=minimal"}
            ),
            "threads.delete": await s.sdk.threads.delete(tid),
            "threads.get.deleted": await s.call(s.sdk.threads.get(tid)),
            "threads.get.unknown": await s.call(s.sdk.threads.get(str(uuid.uuid4()))),
            "threads.get.not_uuid": await s.call(s.sdk.threads.get("not-a-uuid")),
            "threads.delete.unknown": await s.call(s.sdk.threads.delete(str(uuid.uuid4()))),
            "threads.update.unknown": await s.call(s.sdk.threads.update(str(uuid.uuid4()), metadata={})),
        }

    await pair.run(scenario)


async def test_search_count_and_pagination(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        ids = []
        for n in range(5):
            thread = await s.sdk.threads.create(metadata={"mark": m, "n": n, "parity": n % 2})
            ids.append(s.new_id(thread["thread_id"], "thread"))
        search = s.sdk.threads.search
        return {
            "threads.search": await search(metadata={"mark": m}),
            "threads.search.filter": await search(metadata={"mark": m, "parity": 1}),
            "threads.search.asc": await search(metadata={"mark": m}, sort_by="created_at", sort_order="asc"),
            "threads.search.page": await search(metadata={"mark": m}, limit=2, offset=1, sort_by="thread_id"),
            "threads.search.ids": await search(ids=ids[:2], sort_by="created_at", sort_order="asc"),
            "threads.search.status": await search(metadata={"mark": m}, status="busy"),
            "threads.search.select": await search(metadata={"mark": m}, select=["thread_id", "metadata"], limit=2),
            "threads.search.extract": await search(metadata={"mark": m}, limit=1, extract={"n": "metadata.n"}),
            "threads.search.headers.first": await s.request(
                "POST", "/threads/search", json={"metadata": {"mark": m}, "limit": 2}
            ),
            "threads.search.headers.last": await s.request(
                "POST", "/threads/search", json={"metadata": {"mark": m}, "limit": 2, "offset": 4}
            ),
            "threads.search.bad_sort": await s.request("POST", "/threads/search", json={"sort_by": "nope"}),
            "threads.count": await s.sdk.threads.count(metadata={"mark": m}),
            "threads.count.filter": await s.sdk.threads.count(metadata={"mark": m, "parity": 0}),
            "threads.count.status": await s.sdk.threads.count(metadata={"mark": m}, status="idle"),
        }

    await pair.run(scenario)


async def test_copy_and_prune(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        m = mark(s)
        thread = await s.sdk.threads.create(metadata={"mark": m})
        tid = s.name_id(thread["thread_id"], "thread")
        await s.sdk.runs.wait(tid, "agent", input={"messages": [{"role": "user", "content": "one"}]})
        await s.sdk.runs.wait(tid, "agent", input={"messages": [{"role": "user", "content": "two"}]})
        copied = await s.sdk.threads.copy(tid)
        copy_id = s.name_id(copied["thread_id"], "copy")
        history_before = await s.sdk.threads.get_history(tid, limit=100)
        other = s.name_id((await s.sdk.threads.create())["thread_id"], "other")
        storage = await s.request("GET", f"/threads/{tid}/storage")
        return {
            "threads.storage": {**storage, "body": shape(storage["body"])},
            "threads.storage.unknown": await s.request("GET", f"/threads/{uuid.uuid4()}/storage"),
            "threads.copy": copied,
            "threads.copy.state": await s.sdk.threads.get_state(copy_id),
            "threads.copy.history": len(await s.sdk.threads.get_history(copy_id, limit=100)) == len(history_before),
            "threads.copy.unknown": await s.call(s.sdk.threads.copy(str(uuid.uuid4()))),
            "threads.prune.keep_latest": await s.call(s.sdk.threads.prune([tid], strategy="keep_latest")),
            "threads.prune.keep_latest.history": len(await s.sdk.threads.get_history(tid, limit=100)),
            "threads.prune.keep_latest.state": await s.sdk.threads.get_state(tid),
            "threads.prune.delete": await s.sdk.threads.prune([copy_id, other, str(uuid.uuid4())]),
            "threads.prune.deleted": await s.call(s.sdk.threads.get(copy_id)),
            "threads.prune.bad_strategy": await s.call(s.sdk.threads.prune([tid], strategy="nope")),  # type: ignore[arg-type]
        }

    await pair.run(scenario)


async def test_state_and_history(pair: Pair) -> None:
    async def scenario(s: Side) -> dict[str, Any]:
        thread = await s.sdk.threads.create()
        tid = s.name_id(thread["thread_id"], "thread")
        empty = {
            "threads.get_state.empty": await s.sdk.threads.get_state(tid),
            "threads.get_history.empty": await s.sdk.threads.get_history(tid),
            "threads.update_state.no_graph": await s.call(s.sdk.threads.update_state(tid, {"topic": "x"})),
        }
        await s.sdk.runs.wait(tid, "subgraph_parent", input={"topic": "cats"})
        history = await s.sdk.threads.get_history(tid, limit=10)
        for n, state in enumerate(reversed(history)):
            s.name_id(state["checkpoint"]["checkpoint_id"], f"checkpoint:{n}")
        latest, middle = history[0], history[2]
        middle_id = middle["checkpoint"]["checkpoint_id"]
        updated = await s.sdk.threads.update_state(tid, {"topic": "dogs"}, as_node="prepare")
        s.name_id(updated["checkpoint"]["checkpoint_id"], "checkpoint:updated")
        return {
            **empty,
            "threads.get_state": await s.sdk.threads.get_state(
                tid, checkpoint_id=latest["checkpoint"]["checkpoint_id"]
            ),
            "threads.get_state.subgraphs": await s.sdk.threads.get_state(tid, subgraphs=True),
            "threads.get_state.checkpoint_id": await s.sdk.threads.get_state(tid, checkpoint_id=middle_id),
            "threads.get_state.checkpoint": await s.sdk.threads.get_state(tid, checkpoint=middle["checkpoint"]),
            "threads.get_state.unknown_checkpoint": await s.call(
                s.sdk.threads.get_state(tid, checkpoint_id=str(uuid.uuid4()))
            ),
            "threads.get_state.unknown_thread": await s.call(s.sdk.threads.get_state(str(uuid.uuid4()))),
            "threads.get_history": history,
            "threads.get_history.limit": await s.sdk.threads.get_history(tid, limit=2),
            "threads.get_history.before_id": await s.call(s.sdk.threads.get_history(tid, limit=2, before=middle_id)),
            "threads.get_history.before_config": await s.call(
                s.sdk.threads.get_history(tid, limit=2, before={"configurable": {"checkpoint_id": middle_id}})
            ),
            "threads.get_history.before_checkpoint": await s.call(
                s.sdk.threads.get_history(tid, limit=2, before=middle["checkpoint"])
            ),
            "threads.get_history.metadata": await s.sdk.threads.get_history(tid, limit=10, metadata={"step": 1}),
            "threads.get_history.get": await s.request("GET", f"/threads/{tid}/history", params={"limit": 2}),
            "threads.update_state": updated,
            "threads.update_state.state": await s.sdk.threads.get_state(tid),
            "threads.update_state.bad_node": await s.call(
                s.sdk.threads.update_state(tid, {"topic": "x"}, as_node="nope")
            ),
            "threads.get.after_runs": await s.sdk.threads.get(tid),
        }

    await pair.run(scenario)
