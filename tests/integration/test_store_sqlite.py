"""What `AsyncSqliteStore` does beyond the reference store: TTL, ordering, vector bookkeeping, the
file it shares with the rest of the server, and use from threads and several connections."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import InvalidNamespaceError, PutOp, SearchOp

from aegra.store.sqlite_store import AsyncSqliteStore
from aegra.store.vector_cache import VectorCache
from tests.support.tiny_model import DIMS, embed

INDEX: dict[str, Any] = {"dims": DIMS, "embed": embed, "fields": ["text"]}


class Clock:
    """A clock the test moves by hand, so TTL expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[AsyncSqliteStore]:
    async with AsyncSqliteStore.from_path(tmp_path / "aegra.db", index=INDEX, clock=clock) as s:  # type: ignore[arg-type]
        yield s


def wal_size(path: str) -> int:
    return Path(path).stat().st_size


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0])


# -- connection and file -----------------------------------------------------------------------------


async def test_pragmas_and_tables(store: AsyncSqliteStore) -> None:
    async with store.conn.execute("PRAGMA journal_mode") as cursor:
        assert (await cursor.fetchone())[0] == "wal"  # type: ignore[index]
    async with store.conn.execute("PRAGMA synchronous") as cursor:
        assert (await cursor.fetchone())[0] == 1  # type: ignore[index]  # NORMAL
    async with store.conn.execute("PRAGMA busy_timeout") as cursor:
        assert (await cursor.fetchone())[0] == 5000  # type: ignore[index]
    async with store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
        tables = {row[0] for row in await cursor.fetchall()}
    assert tables == {"store_items", "store_item_vectors", "store_vector_codes", "store_meta", "store_items_waiting"}
    await store.setup()  # idempotent


async def test_the_writer_keeps_its_wal_file_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's WAL (`sqlite_connections.writer_pragmas`), scaled down: SQLite's checkpoint
    policy kept (every 1,000 pages; here 16), and the WAL truncated back to its size limit (here
    64 kB) when a checkpoint resets it after a reader's snapshot let it grow."""
    from aegra.store import sqlite_connections

    async with AsyncSqliteStore.from_path(tmp_path / "default.db") as store:
        conn = store.writer._conn  # type: ignore[union-attr]
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # SQLite's default
        assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == sqlite_connections.WAL_SIZE_LIMIT
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, as before

    monkeypatch.setattr(sqlite_connections, "WAL_SIZE_LIMIT", 64 * 1024)
    path = tmp_path / "bounded.db"
    wal = f"{path}-wal"
    filler = "x" * 3000  # about a page an item
    async with AsyncSqliteStore.from_path(path) as store:
        store.writer._conn.execute("PRAGMA wal_autocheckpoint = 16")  # type: ignore[union-attr]
        for batch in range(20):
            await store.abatch([PutOp(("w",), f"a{batch}-{i}", {"text": filler}) for i in range(8)])
            assert wal_size(wal) < 40 * 4096  # 16 pages and the batch that crossed them
        reader = sqlite3.connect(path)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM store_items").fetchone()  # a snapshot the WAL must keep
        for batch in range(10):
            await store.abatch([PutOp(("w",), f"b{batch}-{i}", {"text": filler}) for i in range(8)])
        assert wal_size(wal) > 64 * 1024
        reader.execute("COMMIT")
        reader.close()
        for batch in range(4):  # the next checkpoints copy it all, and the reset truncates the file
            await store.abatch([PutOp(("w",), f"c{batch}-{i}", {"text": filler}) for i in range(8)])
        assert wal_size(wal) <= 64 * 1024 + 40 * 4096
        assert len(await store.asearch(("w",), limit=1000)) == 20 * 8 + 10 * 8 + 4 * 8


async def test_second_setup_on_an_existing_file_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    async with AsyncSqliteStore.from_path(path) as first:
        await first.aput(("a",), "k", {"v": 1})
    async with AsyncSqliteStore.from_path(path) as second:
        item = await second.aget(("a",), "k")
    assert item is not None and item.value == {"v": 1}


async def test_shares_the_file_with_langgraph_checkpoints(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        n: int

    path = tmp_path / "one.db"
    async with (
        AsyncSqliteStore.from_path(path, index=INDEX) as store,
        AsyncSqliteSaver.from_conn_string(str(path)) as saver,
    ):

        async def remember(state: State) -> State:
            await store.aput(("mem",), f"n{state['n']}", {"text": f"value {state['n']}"})
            return {"n": state["n"] + 1}

        builder = StateGraph(State)
        builder.add_node("remember", remember)
        builder.add_edge(START, "remember")
        graph = builder.compile(checkpointer=saver, store=store)
        for thread in range(3):
            await graph.ainvoke({"n": thread}, {"configurable": {"thread_id": str(thread)}})
        assert len(await store.asearch(("mem",), query="value 2")) == 3
    assert count(path, "SELECT COUNT(*) FROM checkpoints") > 0
    assert count(path, "SELECT COUNT(*) FROM store_items") == 3


async def test_two_connections_write_concurrently_without_lock_errors(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX) as a, AsyncSqliteStore.from_path(path) as b:
        writes = [a.aput(("a", str(i % 5)), f"k{i}", {"text": f"item {i}"}) for i in range(150)]
        writes += [b.aput(("b",), f"k{i}", {"i": i}) for i in range(150)]
        reads = [a.asearch(("a",), query="item 3") for _ in range(20)]
        await asyncio.gather(*writes, *reads)
    assert count(path, "SELECT COUNT(*) FROM store_items") == 300
    assert count(path, "SELECT COUNT(*) FROM store_item_vectors") == 150


async def test_sync_methods_work_from_worker_threads_only(store: AsyncSqliteStore) -> None:
    await asyncio.to_thread(store.put, ("t",), "k", {"text": "from a thread"})
    item = await asyncio.to_thread(store.get, ("t",), "k")
    assert item is not None and item.value == {"text": "from a thread"}
    results = await asyncio.to_thread(store.search, ("t",), query="thread")
    assert [r.key for r in results] == ["k"]
    with pytest.raises(asyncio.InvalidStateError, match="thread other than"):
        store.get(("t",), "k")


async def test_invalid_namespaces_are_refused_even_in_raw_batches(store: AsyncSqliteStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        await store.abatch([PutOp(("a.b",), "k", {"v": 1})])
    with pytest.raises(InvalidNamespaceError):
        await store.abatch([SearchOp(("a.b",), None, 10, 0, None)])
    with pytest.raises(InvalidNamespaceError):
        await store.aput(("langgraph",), "k", {})


async def test_labels_with_sql_pattern_characters(store: AsyncSqliteStore) -> None:
    for label in ["50%", "a_b", "x*", "[y]", "a/b", "a-b"]:
        await store.aput((label, "in"), "k", {"label": label})
    for label in ["50%", "a_b", "x*", "[y]", "a/b", "a-b"]:
        assert [i.value["label"] for i in await store.asearch((label,))] == [label]
    assert await store.asearch(("a",)) == []
    assert await store.asearch(("5",)) == []


# -- ordering, vectors ------------------------------------------------------------------------------


async def test_search_without_query_returns_most_recently_updated_first(store: AsyncSqliteStore, clock: Clock) -> None:
    for key in ["a", "b", "c"]:
        await store.aput(("o",), key, {"v": key})
        clock.advance(seconds=1)
    await store.aput(("o",), "a", {"v": "again"})
    assert [i.key for i in await store.asearch(("o",))] == ["a", "c", "b"]
    item = await store.aget(("o",), "a")
    assert item is not None and item.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert item.updated_at == datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)


async def test_overwrite_replaces_vectors(store: AsyncSqliteStore) -> None:
    await store.aput(("v",), "k", {"text": "ocean waves"})
    await store.aput(("v",), "other", {"text": "mountain forest"})
    await store.aput(("v",), "k", {"text": "desert sand"})
    results = await store.asearch(("v",), query="ocean waves")
    assert results[0].score is not None and results[0].score < 0.99
    await store.aput(("v",), "k", {"text": "unindexed now"}, index=False)
    scores = {i.key: i.score for i in await store.asearch(("v",), query="ocean waves")}
    assert scores["k"] is None
    assert count(store.path, "SELECT COUNT(*) FROM store_item_vectors") == 1


async def test_overwrite_of_the_newest_item_in_a_batch_with_new_items(store: AsyncSqliteStore) -> None:
    """A batch's new items skip deleting vectors (their ids are above the largest id before it);
    the newest item before the batch is not new, and loses the vectors of its fields."""
    await store.aput(("n",), "first", {"text": "ocean waves", "title": "sea"}, index=["text", "title"])
    await store.abatch(
        [
            PutOp(("n",), "first", {"text": "desert sand"}, index=["text"]),
            PutOp(("n",), "second", {"text": "mountain forest"}),
        ]
    )
    assert count(store.path, "SELECT COUNT(*) FROM store_item_vectors") == 2
    assert count(store.path, "SELECT COUNT(*) FROM store_vector_codes") == 2
    best = await store.asearch(("n",), query="ocean waves", limit=1)
    assert best[0].score is not None and best[0].score < 0.99


async def test_a_batch_mixing_new_and_overwritten_items_gets_each_its_own_id_and_vectors(
    store: AsyncSqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New items are inserted with the ids they are given (no RETURNING); the overwritten ones keep
    theirs, read by key. Statements of 3 rows, so every chunk boundary is crossed."""
    from aegra.store import sqlite_writes

    monkeypatch.setattr(sqlite_writes, "_ROWS", 3)
    texts = ["ocean waves", "mountain forest", "desert sand", "city lights", "river stones", "snow peak", "red apple"]
    await store.abatch([PutOp(("m", "a"), f"k{i}", {"text": texts[i]}) for i in (1, 4)])
    ids_before = dict(_ids_by_key(store.path))
    # k1 and k4 exist; the others are new: overwrites at the start, middle and end of the batch.
    order = [1, 0, 2, 4, 3, 5, 6]
    spaces = {i: ("m", "a") if i in (1, 4) or i % 2 else ("m", "b") for i in order}
    await store.abatch([PutOp(spaces[i], f"k{i}", {"text": texts[-1 - i]}) for i in order])
    ids = dict(_ids_by_key(store.path))
    assert ids["k1"] == ids_before["k1"] and ids["k4"] == ids_before["k4"]
    assert len(set(ids.values())) == 7
    with sqlite3.connect(store.path) as conn:
        for table in ("store_item_vectors", "store_vector_codes"):
            owners = {row[0] for row in conn.execute(f"SELECT item_id FROM {table}")}
            assert owners == set(ids.values())
    for i in range(7):  # each item's vector is its own text's: it ranks first for that text, exactly
        best = await store.asearch(("m",), query=texts[-1 - i], limit=1)
        assert best[0].key == f"k{i}" and best[0].score is not None and best[0].score > 0.999


def _ids_by_key(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as conn:
        return [(str(key), int(item_id)) for key, item_id in conn.execute("SELECT key, id FROM store_items")]


async def test_namespaces_are_checked_once_and_bad_ones_always_refused(store: AsyncSqliteStore) -> None:
    await store.aput(("ok", "ns"), "k", {"v": 1})
    assert ("ok", "ns") in store._checked_namespaces
    await store.aput(("ok", "ns"), "k2", {"v": 2})
    for bad in [("a.b",), ("",), ("x", ["list"]), ("x", 3)]:
        with pytest.raises(InvalidNamespaceError):
            await store.abatch([PutOp(bad, "k", {"v": 1})])  # type: ignore[arg-type]
    assert [i.key for i in await store.asearch(("ok",))] == ["k2", "k"]


async def test_the_index_follows_puts_in_many_namespaces(store: AsyncSqliteStore) -> None:
    texts = ["ocean waves", "mountain forest", "desert sand", "city lights"]
    for _ in range(2):
        await store.abatch([PutOp(("f", f"n{i}"), "k", {"text": text}) for i, text in enumerate(texts)])
    for i, text in enumerate(texts):
        found = await store.asearch(("f", f"n{i}"), query=text)
        assert [(item.namespace, item.key) for item in found] == [(("f", f"n{i}"), "k")]
        assert found[0].score is not None and found[0].score > 0.999


async def test_listing_past_the_inline_budget_is_answered_by_the_threaded_reader(
    store: AsyncSqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings run inline on a bounded reader; one that runs past its budget is interrupted and
    answered on the aiosqlite reader, with the same page."""
    await store.abatch(
        [PutOp(("l", str(i % 3)), f"k{i}", {"kind": "a" if i % 2 else "b", "n": i}, index=False) for i in range(300)]
    )
    threaded: list[int] = []
    list_threaded = store.reads._list_threaded

    async def counted(*args: Any, **kwargs: Any) -> Any:
        threaded.append(1)
        return await list_threaded(*args, **kwargs)

    monkeypatch.setattr(store.reads, "_list_threaded", counted)
    inline = await store.asearch(("l",), filter={"kind": "a"}, limit=7, offset=3)
    assert not threaded and len(inline) == 7
    bounded = store.reads.bounded
    assert bounded is not None
    bounded.budget_seconds = -1.0  # past the deadline at the handler's first check,
    bounded.conn.set_progress_handler(bounded._past_deadline, 1)  # at the first step
    again = await store.asearch(("l",), filter={"kind": "a"}, limit=7, offset=3)
    assert threaded == [1]
    assert [(i.namespace, i.key, i.value) for i in again] == [(i.namespace, i.key, i.value) for i in inline]
    assert [i.key for i in inline] == [f"k{n}" for n in range(299 - 6, 299 - 20, -2)]


async def test_listings_of_a_large_prefix_follow_writes_under_it_and_at_it(
    store: AsyncSqliteStore, clock: Clock
) -> None:
    """A large prefix is walked newest first and its count remembered for a while (sqlite_reads.py);
    the walk tests only the namespaces that hold items (the prefix itself, those below it), read
    at every listing: an item put at the prefix itself, or below it, after a first listing is on
    the next page at once, as are items of a namespace with none below it."""
    puts = [PutOp(("big", "x", str(i % 3)), f"k{i}", {"n": i, "even": i % 2 == 0}, index=False) for i in range(2100)]
    await store.abatch(puts)
    page = await store.asearch(("big", "x"), limit=3)
    assert [item.key for item in page] == ["k2099", "k2098", "k2097"]
    clock.now += timedelta(seconds=1)
    await store.aput(("big", "x"), "at-prefix", {"n": -1, "even": True}, index=False)
    await store.aput(("big", "xy"), "beside", {"n": -2, "even": True}, index=False)  # not under ("big", "x")
    page = await store.asearch(("big", "x"), limit=3)
    assert [(item.namespace, item.key) for item in page] == [
        (("big", "x"), "at-prefix"),
        (("big", "x", "2"), "k2099"),
        (("big", "x", "1"), "k2098"),
    ]
    filtered = await store.asearch(("big", "x"), filter={"even": True}, limit=2, offset=1)
    assert [item.key for item in filtered] == ["k2098", "k2096"]
    clock.now += timedelta(seconds=1)
    await store.aput(("big", "x", "1", "deeper"), "below", {"n": -3}, index=False)
    assert [item.key for item in await store.asearch(("big", "x", "1"), limit=2)] == ["below", "k2098"]
    assert [item.key for item in await store.asearch(("big", "x", "0"), limit=2)] == ["k2097", "k2094"]


async def test_listing_filters_on_strings_match_the_value_not_its_text(store: AsyncSqliteStore) -> None:
    """A listing's string equality is first looked for in the value's JSON text (a byte search),
    then checked on the value: the text elsewhere in the value does not match, and strings JSON
    escapes (quotes, slashes, non-ASCII) still match."""
    values = {
        "plain": {"kind": "a b-c.d:e"},
        "elsewhere": {"kind": "other", "note": "a b-c.d:e", "tags": ["a b-c.d:e"]},
        "nested": {"kind": {"inner": "a b-c.d:e"}},
        "slash": {"kind": 'x/y "q" \\ é'},
        "prefix-only": {"kind": "a b-c.d:e and more"},
    }
    for key, value in values.items():
        await store.aput(("f",), key, value, index=False)
    assert [i.key for i in await store.asearch(("f",), filter={"kind": "a b-c.d:e"})] == ["plain"]
    assert [i.key for i in await store.asearch((), filter={"kind": {"$eq": "a b-c.d:e"}})] == ["plain"]
    assert [i.key for i in await store.asearch(("f",), filter={"kind": 'x/y "q" \\ é'})] == ["slash"]
    assert [i.key for i in await store.asearch(("f",), filter={"note": "a b-c.d:e", "kind": "other"})] == ["elsewhere"]
    assert await store.asearch(("f",), filter={"kind": "a b-c.d"}) == []


async def test_unscored_items_follow_scored_ones_across_pages(store: AsyncSqliteStore) -> None:
    for i in range(3):
        await store.aput(("p",), f"scored{i}", {"text": f"river stone {i}"})
    for i in range(4):
        await store.aput(("p",), f"plain{i}", {"text": "x"}, index=False)
    pages = [await store.asearch(("p",), query="river", limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    flat = [item for page in pages for item in page]
    assert len(flat) == 7 and len({item.key for item in flat}) == 7
    assert [item.score is None for item in flat] == [False] * 3 + [True] * 4


async def test_whole_value_index_with_dollar(store: AsyncSqliteStore) -> None:
    await store.aput(("d",), "k", {"title": "apple", "body": "river"}, index=["$"])
    results = await store.asearch(("d",), query="apple river")
    assert results[0].score is not None and results[0].score > 0.5


async def test_changed_dims_ignore_old_vectors_until_reindexed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dims.db"
    small = {"dims": 2, "embed": lambda texts: [[1.0, float(len(t))] for t in texts], "fields": ["text"]}
    async with AsyncSqliteStore.from_path(path, index=small) as old:  # type: ignore[arg-type]
        await old.aput(("d",), "k", {"text": "apple river"})
        await old.aput(("d",), "off", {"text": "apple river"}, index=False)
        await old.aput(("d",), "title", {"text": "x", "title": "apple river"}, index=["title"])
    with caplog.at_level(logging.WARNING):
        async with AsyncSqliteStore.from_path(path, index=INDEX) as new:  # type: ignore[arg-type]
            assert "have 2 dimensions" in caplog.text
            assert [i.score for i in await new.asearch(("d",), query="apple river")] == [None] * 3
            assert await new.areindex() == 3
            scores = {i.key: i.score for i in await new.asearch(("d",), query="apple river")}
            assert scores["k"] == pytest.approx(1.0, abs=1e-5)
            assert scores["title"] == pytest.approx(1.0, abs=1e-5)
            assert scores["off"] is None


async def test_rust_and_numpy_indexes_agree_on_one_file(tmp_path: Path) -> None:
    """The file written through one backend's code records is searched the same by the other."""
    path = tmp_path / "agree.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX, vector_backend="rust") as rust_store:  # type: ignore[arg-type]
        assert rust_store.vector_backend == "rust"
        for i in range(60):
            text = " ".join(
                ["apple", "river", "stone", "cloud", "music", "garden"][j] for j in range(6) if (i >> j) & 1
            )
            await rust_store.aput(("s", str(i % 3)), f"k{i}", {"text": text or "empty", "i": i})
        await rust_store.aput(("s", "0"), "zero", {"text": ""})  # embeds to the zero vector: score 0
        async with AsyncSqliteStore.from_path(path, index=INDEX, vector_backend="python") as np_store:  # type: ignore[arg-type]
            assert np_store.vector_backend == "python"
            for query, filter_ in [("apple river", None), ("music", {"i": {"$gt": 30}}), ("cloud garden stone", None)]:
                a = await rust_store.asearch(("s",), query=query, filter=filter_, limit=100)
                b = await np_store.asearch(("s",), query=query, filter=filter_, limit=100)
                assert [(i.key, i.score) for i in a] == [(i.key, i.score) for i in b]
            zero = [i for i in await np_store.asearch(("s", "0"), query="apple", limit=100) if i.key == "zero"]
            assert zero[0].score == 0.0


# -- TTL ---------------------------------------------------------------------------------------------


async def test_ttl_expiry_refresh_and_sweep(store: AsyncSqliteStore, clock: Clock) -> None:
    await store.aput(("t",), "short", {"text": "gone soon"}, ttl=1)
    await store.aput(("t",), "forever", {"text": "stays"})
    clock.advance(seconds=40)
    assert await store.aget(("t",), "short") is not None  # refreshes: expires 1 min from now
    clock.advance(seconds=40)
    assert await store.sweep_ttl() == 0
    assert [i.key for i in await store.asearch(("t",), query="gone", refresh_ttl=False, limit=1)] == ["short"]
    clock.advance(seconds=30)
    assert await store.sweep_ttl() == 1
    assert await store.aget(("t",), "short") is None
    assert await store.aget(("t",), "forever") is not None
    assert count(store.path, "SELECT COUNT(*) FROM store_item_vectors") == 1


async def test_ttl_refresh_on_search_and_opt_out(store: AsyncSqliteStore, clock: Clock) -> None:
    await store.aput(("t",), "k", {"text": "x"}, ttl=1)
    clock.advance(seconds=50)
    await store.asearch(("t",))  # refresh_ttl defaults to True
    clock.advance(seconds=50)
    assert await store.aget(("t",), "k", refresh_ttl=False) is not None
    assert await store.sweep_ttl() == 0
    clock.advance(seconds=15)
    assert await store.sweep_ttl() == 1


async def test_ttl_config_default_ttl_refresh_on_read_and_omit_expired(tmp_path: Path, clock: Clock) -> None:
    ttl = {"default_ttl": 2, "refresh_on_read": False, "omit_expired": True}
    async with AsyncSqliteStore.from_path(tmp_path / "ttl.db", ttl=ttl, clock=clock) as store:  # type: ignore[arg-type]
        await store.aput(("t",), "default", {"v": 1})
        await store.aput(("t",), "never", {"v": 2}, ttl=None)
        clock.advance(seconds=90)
        assert await store.aget(("t",), "default") is not None  # no refresh: config says so
        clock.advance(seconds=60)
        assert await store.aget(("t",), "default") is None  # expired, hidden before any sweep
        assert [i.key for i in await store.asearch(("t",))] == ["never"]
        assert await store.alist_namespaces() == [("t",)]
        assert await store.sweep_ttl() == 1


async def test_ttl_sweeper_task_runs_and_stops(tmp_path: Path, clock: Clock) -> None:
    async with AsyncSqliteStore.from_path(tmp_path / "sweep.db", clock=clock) as store:
        await store.aput(("t",), "k", {"v": 1}, ttl=1)
        clock.advance(minutes=5)
        task = await store.start_ttl_sweeper(sweep_interval_minutes=0.0005)
        assert await store.start_ttl_sweeper() is task  # one sweeper per store
        for _ in range(500):
            if await store.aget(("t",), "k", refresh_ttl=False) is None:
                break
            await asyncio.sleep(0.01)
        assert await store.aget(("t",), "k", refresh_ttl=False) is None
        assert await store.stop_ttl_sweeper(timeout=5) is True
        assert task.done()


async def test_the_index_loads_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    """A file whose codes are not yet marked complete (a new one) loads without writing: a lock held
    elsewhere past the busy timeout must not leave semantic search unavailable."""
    path = tmp_path / "locked-at-load.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX) as store:  # type: ignore[arg-type]
        await store.aput(("r",), "plain", {"text": "apple"})
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM store_meta")  # as a new file's: not marked complete
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    cache = VectorCache(path, DIMS, busy_timeout_ms=50)
    try:
        cache.start_loading()
        await cache.ready()
        assert len(cache.index) == 1
    finally:
        await cache.stop()
        writer.execute("ROLLBACK")
        writer.close()


async def test_reads_of_items_without_ttl_never_take_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with AsyncSqliteStore.from_path(path, index=INDEX, busy_timeout_ms=50) as store:  # type: ignore[arg-type]
        await store.aput(("r",), "plain", {"text": "apple"})
        await store.aput(("r",), "expiring", {"text": "river"}, ttl=10)
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        try:
            assert await store.aget(("r",), "plain") is not None
            assert len(await store.asearch(("r",), query="apple", filter={"text": "apple"})) == 1
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await store.aget(("r",), "expiring")  # this one must refresh its TTL: a write
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert await store.aget(("r",), "expiring") is not None
