"""`aegra db export` / `aegra db import`, run for real: SQLite -> PostgreSQL -> SQLite.

A real server on SQLite makes assistants, threads (chats, a pending interrupt, a subgraph),
runs and store items through langgraph-sdk; after it stops, the console script exports the file
and imports it into a fresh PostgreSQL database, where a second server must show the same
resources, the same thread states and histories, and resume the interrupt. The PostgreSQL data
then goes back into a fresh SQLite file and must match record for record.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from sqlalchemy import func, select

from aegra.cli.transfer.codec import unpack
from aegra.config import database_from_env
from aegra.db.engine import Database
from aegra.db.models import Assistant, Cron
from aegra.store import AsyncSqliteStore, build_embeddings
from tests.e2e.test_cli import aegra, clean_env, one_error_line
from tests.graphs import TEST_GRAPHS_CONFIG
from tests.support.server import granian_server
from tests.support.webhook_receiver import webhook_receiver

NAMESPACE = ("users", "alice")


@dataclass
class Source:
    """The exported SQLite database: the export file and what the API showed before export."""

    folder: Path
    export: Path
    seen: dict[str, Any]
    interrupted_thread: str


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def server_env(database_url: str) -> dict[str, str]:
    return {"AEGRA_CONFIG": str(TEST_GRAPHS_CONFIG), "DATABASE_URL": database_url}


def cli_env(database_url: str) -> dict[str, str]:
    return clean_env(DATABASE_URL=database_url)


async def populate(client: LangGraphClient, webhook: str) -> str:
    """Resources of every kind (a run's webhook delivery included); returns the thread left
    waiting on an interrupt."""
    assistant = await client.assistants.create(graph_id="agent", name="chatty", metadata={"team": "a"})
    await client.assistants.update(assistant["assistant_id"], name="chatty v2", context={"tone": "dry"})
    chat = await client.threads.create(metadata={"topic": "chat"})
    for text in ("hello", "again"):
        await client.runs.wait(chat["thread_id"], assistant["assistant_id"], input=user(text), webhook=webhook)
    for run in await client.runs.list(chat["thread_id"]):
        for _ in range(200):
            if await delivered(client, chat["thread_id"], run["run_id"]):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the run's webhook was not delivered")
    paused = await client.threads.create(metadata={"topic": "hitl"})
    await client.runs.wait(paused["thread_id"], "interrupting", input={"request": "deploy"})
    nested = await client.threads.create()  # checkpoints in the subgraph's namespace too
    await client.runs.wait(nested["thread_id"], "subgraph_parent", input={"topic": "maps"})
    await client.store.put_item(NAMESPACE, "prefs", {"theme": "dark"})
    await client.store.put_item(NAMESPACE, "note", {"text": "expires"}, ttl=60)
    await client.store.put_item(("global",), "motto", {"text": "be kind"}, index=False)
    return str(paused["thread_id"])


async def delivered(client: LangGraphClient, thread_id: str, run_id: str) -> bool:
    found = await client.http.get(f"/threads/{thread_id}/runs/{run_id}/webhooks")
    return bool(found) and all(delivery["status"] == "delivered" for delivery in found)  # type: ignore[union-attr]


async def snapshot(client: LangGraphClient) -> dict[str, Any]:
    """Everything the API shows about the data, in an order that does not depend on the backend."""
    assistants = sorted(await client.assistants.search(limit=100), key=lambda a: str(a["assistant_id"]))
    threads = sorted(await client.threads.search(limit=100), key=lambda t: str(t["thread_id"]))
    seen: dict[str, Any] = {"assistants": assistants, "threads": threads, "versions": {}, "states": {}}
    for assistant in assistants:
        versions = await client.assistants.get_versions(assistant["assistant_id"])
        seen["versions"][assistant["assistant_id"]] = sorted(versions, key=lambda v: v["version"])
    for thread in threads:
        thread_id = thread["thread_id"]
        seen["states"][thread_id] = {
            "state": await client.threads.get_state(thread_id, subgraphs=True),
            "history": await client.threads.get_history(thread_id, limit=100),
            "runs": sorted(await client.runs.list(thread_id, limit=100), key=lambda r: str(r["run_id"])),
        }
    found = await client.store.search_items((), limit=100)
    seen["store"] = sorted(found["items"], key=lambda item: (item["namespace"], item["key"]))
    return seen


async def add_cron(database_url: str, assistant_id: str) -> None:
    """A crons row written straight to the database (the HTTP API has no crons yet)."""
    database = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    try:
        async with database.session() as session:
            session.add(
                Cron(
                    cron_id=uuid.uuid4(),
                    assistant_id=uuid.UUID(assistant_id),
                    schedule="0 3 * * *",
                    payload={"input": {"messages": []}},
                    next_run_date=datetime(2030, 1, 1, 3, tzinfo=UTC),
                )
            )
    finally:
        await database.close()


async def count_rows(database_url: str, model: type[Any]) -> int:
    database = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    try:
        async with database.read_session() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await database.close()


def read_export(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        header, *records = (json.loads(line) for line in file)
    return header, records


@pytest.fixture(scope="module")
async def source(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Source]:
    folder = tmp_path_factory.mktemp("transfer")
    database_url = f"sqlite:///{folder / 'source.db'}"
    with webhook_receiver() as receiver, granian_server(folder, server_env(database_url)) as server:
        client = get_client(url=server.url)
        paused = await populate(client, receiver.url)
        seen = await snapshot(client)
    await add_cron(database_url, seen["assistants"][0]["assistant_id"])
    export = folder / "source.jsonl.gz"
    result = aegra(
        "db", "export", str(export), "--config", str(TEST_GRAPHS_CONFIG), cwd=folder, env=cli_env(database_url)
    )
    assert result.returncode == 0, result.stderr
    yield Source(folder=folder, export=export, seen=seen, interrupted_thread=paused)


def test_the_export_file_has_a_header_with_counts(source: Source) -> None:
    header, records = read_export(source.export)
    assert header["format"] == "aegra-export" and header["format_version"] == 1
    assert header["source_backend"] == "sqlite"
    kinds = [record["kind"] for record in records]
    counts = header["counts"]
    kinds_of_rows = ("assistants", "assistant_versions", "threads", "runs", "crons", "webhook_deliveries")
    for kind in (*kinds_of_rows, "checkpoint", "store_item"):
        assert counts[kind] == kinds.count(kind), kind
    # Every graph's default assistant, and ours with its two versions.
    assert (
        counts["assistants"]
        == len(source.seen["assistants"])
        == 1 + len(json.loads(TEST_GRAPHS_CONFIG.read_text())["graphs"])
    )
    assert (
        counts["assistant_versions"]
        == sum(len(v) for v in source.seen["versions"].values())
        == counts["assistants"] + 1
    )
    assert (counts["threads"], counts["runs"], counts["crons"], counts["store_item"]) == (3, 4, 1, 3)
    # The webhook deliveries travel with their runs: an importing server sends those still pending.
    assert counts["webhook_deliveries"] == 2
    namespaces = {record["checkpoint_ns"] for record in records if record["kind"] == "checkpoint"}
    assert "" in namespaces and any(ns.startswith("child:") for ns in namespaces)
    assert counts["pending_writes"] > 0


async def test_sqlite_to_postgres_and_back(source: Source, postgres_url: str, tmp_path: Path) -> None:
    result = aegra("db", "import", str(source.export), cwd=tmp_path, env=cli_env(postgres_url))
    assert result.returncode == 0, result.stderr
    assert "Verified" in result.stdout and "checkpoint" in result.stdout
    assert await count_rows(postgres_url, Cron) == 1
    # Times and TTLs as the SQLite store had them (checked before a server's reads refresh any expiry).
    exported = {r["key"]: r for r in read_export(source.export)[1] if r["kind"] == "store_item"}
    assert store_times(postgres_url) == {
        key: (
            datetime.fromisoformat(r["created_at"]),
            datetime.fromisoformat(r["updated_at"]),
            r["expires_at"] and datetime.fromisoformat(r["expires_at"]),
            r["ttl_minutes"],
        )
        for key, r in exported.items()
    }
    assert exported["note"]["expires_at"] is not None

    with granian_server(tmp_path, server_env(postgres_url)) as server:
        client = get_client(url=server.url)
        assert await snapshot(client) == source.seen
        # The interrupt waiting in the SQLite thread is still there to resume on PostgreSQL.
        thread_id = source.interrupted_thread
        assert source.seen["states"][thread_id]["state"]["next"] == ["review"]
        done = await client.runs.wait(thread_id, "interrupting", command={"resume": "yes"})
        assert done == {"request": "deploy", "answer": "yes", "result": "deploy: yes"}
        assert (await client.threads.get_state(thread_id))["next"] == []

    back = tmp_path / "back.jsonl"
    result = aegra("db", "export", str(back), cwd=tmp_path, env=cli_env(postgres_url))
    assert result.returncode == 0, result.stderr
    sqlite_again = f"sqlite:///{tmp_path / 'again.db'}"
    result = aegra("db", "import", str(back), cwd=tmp_path, env=cli_env(sqlite_again))
    assert result.returncode == 0, result.stderr
    again = tmp_path / "again.jsonl"
    assert aegra("db", "export", str(again), cwd=tmp_path, env=cli_env(sqlite_again)).returncode == 0

    (back_header, back_records), (again_header, again_records) = read_export(back), read_export(again)
    assert back_header["source_backend"] == "postgres" and again_header["source_backend"] == "sqlite"
    assert back_header["counts"] == again_header["counts"]
    first = read_export(source.export)[0]["counts"]
    # The resumed run added one run and its checkpoints; nothing else changed.
    assert back_header["counts"]["runs"] == first["runs"] + 1
    assert back_header["counts"]["checkpoint"] > first["checkpoint"]
    assert {k: v for k, v in back_header["counts"].items() if k not in ("runs", "checkpoint", "pending_writes")} == {
        k: v for k, v in first.items() if k not in ("runs", "checkpoint", "pending_writes")
    }
    assert comparable(back_records) == comparable(again_records)
    assert len(comparable(back_records)) == len(back_records)
    # What the resumed run did not touch came through SQLite -> PostgreSQL -> file unchanged. (Store items
    # differ in what PostgreSQL does not keep, a put's `index`, and in expiry times refreshed by reads.)
    untouched = ("assistants", "assistant_versions", "crons", "store_item", "webhook_deliveries")
    first_records = read_export(source.export)[1]
    assert comparable(without_refreshed(r for r in back_records if r["kind"] in untouched)) == comparable(
        without_refreshed(r for r in first_records if r["kind"] in untouched)
    )


def without_refreshed(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("index", "expires_at")} for r in records]


def store_times(postgres_url: str) -> dict[str, tuple[datetime, datetime, datetime | None, int | None]]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT key, created_at, updated_at, expires_at, ttl_minutes FROM store").fetchall()
    return {key: tuple(times) for key, *times in rows}


def comparable(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Records by identity, payloads decoded and times in UTC: backends store the same data in a
    different byte order (PostgreSQL's jsonb sorts keys) and return times in the session's zone."""
    serde = JsonPlusSerializer()
    found: dict[str, Any] = {}
    for record in map(dict, records):  # a copy: the payloads are replaced by what they decode to
        if record["kind"] == "checkpoint":
            key = [record["thread_id"], record["checkpoint_ns"], record["checkpoint_id"]]
            writes = sorted(record.pop("writes"), key=lambda write: (write["task_id"], write["channel"]))
            record["writes"] = [(w["task_id"], w["channel"], unpack(serde, w["value"])) for w in writes]
            record["checkpoint"] = unpack(serde, record["checkpoint"])
            record["metadata"] = unpack(serde, record["metadata"])
        elif record["kind"] == "store_item":
            key = [record["namespace"], record["key"]]
        else:
            key = [utc_times(record["data"])]
        found[json.dumps([record["kind"], key], sort_keys=True)] = utc_times(record)
    return found


def utc_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: utc_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [utc_times(item) for item in value]
    if isinstance(value, str) and len(value) >= 25 and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value).astimezone(UTC).isoformat()
        except ValueError:
            return value
    return value


def test_an_unknown_format_version_is_refused(source: Source, tmp_path: Path) -> None:
    header, records = read_export(source.export)
    future = tmp_path / "future.jsonl"
    lines = [{**header, "format_version": 99}, *records]
    future.write_text("".join(json.dumps(line) + "\n" for line in lines))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    line = one_error_line(aegra("db", "import", str(future), cwd=tmp_path, env=cli_env(target)))
    assert "format version 99" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"not": "an export"}\n', "does not start with an `aegra db export` header"),
        ("id,name\n1,x\n", "does not start with an `aegra db export` header"),
        ("", "is empty"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused(content: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "other.jsonl").write_text(content)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert expected in one_error_line(aegra("db", "import", "other.jsonl", cwd=tmp_path, env=cli_env(target)))


def test_an_unreachable_postgres_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text("")
    env = cli_env("postgresql://aegra:secret@127.0.0.1:1/aegra")
    for args in (("export", "out.jsonl"), ("import", "x.jsonl")):
        line = one_error_line(aegra("db", *args, cwd=tmp_path, env=env))
        assert "cannot reach PostgreSQL at postgresql://aegra:***@127.0.0.1:1/aegra" in line and "secret" not in line


async def test_a_truncated_file_is_refused_and_changes_nothing(source: Source, tmp_path: Path) -> None:
    header, records = read_export(source.export)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(json.dumps(line) + "\n" for line in [header, *records[:-1]]))
    target = f"sqlite:///{tmp_path / 'target.db'}"
    line = one_error_line(aegra("db", "import", str(cut), cwd=tmp_path, env=cli_env(target)))
    assert "incomplete" in line
    assert await count_rows(target, Assistant) == 0
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(line) + "\n" for line in [header, *records[:3]]) + "{oops\n")
    line = one_error_line(aegra("db", "import", str(broken), cwd=tmp_path, env=cli_env(target)))
    assert "line 5: not JSON" in line


async def test_a_conflict_is_refused_unless_skip_existing(source: Source, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    env = cli_env(target)
    with granian_server(tmp_path, server_env(target)):
        pass  # a server has run here: the target holds the default assistants, which are no conflict
    result = aegra("db", "import", str(source.export), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    defaults = len(json.loads(TEST_GRAPHS_CONFIG.read_text())["graphs"])
    assert f"skipped {defaults} already present" in result.stdout

    line = one_error_line(aegra("db", "import", str(source.export), cwd=tmp_path, env=env))
    assert "already holds" in line and "--skip-existing" in line and "3 threads" in line
    result = aegra("db", "import", str(source.export), "--skip-existing", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "threads              0 (skipped 3 already present)" in result.stdout and "Verified" in result.stdout
    assert await count_rows(target, Assistant) == defaults + 1


def test_export_of_a_missing_sqlite_file_is_refused(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'nothing.db'}"
    line = one_error_line(aegra("db", "export", str(tmp_path / "out.jsonl"), cwd=tmp_path, env=cli_env(target)))
    assert "does not exist" in line
    assert not (tmp_path / "nothing.db").exists()


async def test_import_embeds_store_items_with_the_targets_index(source: Source, tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text("def embed(texts):\n    return [[1.0, float(len(t))] for t in texts]\n")
    index = {"dims": 2, "embed": "./emb.py:embed", "fields": ["text"]}
    config = {"graphs": {"agent": f"{TEST_GRAPHS_CONFIG.parent / 'agent.py'}:graph"}, "store": {"index": index}}
    (tmp_path / "aegra.json").write_text(json.dumps(config))
    target = tmp_path / "target.db"
    result = aegra("db", "import", str(source.export), cwd=tmp_path, env=cli_env(f"sqlite:///{target}"))
    assert result.returncode == 0, result.stderr

    embed = build_embeddings("./emb.py:embed", 2, base_dir=tmp_path)
    async with AsyncSqliteStore.from_path(target, index={**index, "embed": embed}) as store:
        found = {item.key: item for item in await store.asearch((), query="expires", limit=10)}
    # `note` has a `text` to embed; `prefs` has none; `motto` was put with index=False, which travels too.
    assert found["note"].score is not None
    assert found["prefs"].score is None and found["motto"].score is None
    seen = {item["key"]: item for item in source.seen["store"]}
    assert found["note"].created_at == datetime.fromisoformat(seen["note"]["created_at"])
