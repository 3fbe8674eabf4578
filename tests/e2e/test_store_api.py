"""`client.store.*` of langgraph-sdk against a real server, on SQLite and PostgreSQL.

Tests on the shared server put items under a namespace of their own (`ns()`), so they never see
each other's items. Semantic search and TTL need a `store` config, so those tests start servers
of their own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import BadRequestError, UnprocessableEntityError

from aegra.store import filters
from tests.graphs import TEST_GRAPHS_DIR
from tests.support.server import RunningServer, granian_server
from tests.support.tiny_model import DIMS

REPO_ROOT = Path(__file__).resolve().parents[2]

# The user's own embed function, as a file next to the config: the tests' hashing embedder, with
# ways to misbehave on demand (NaN components, a wrong vector size, a model that cannot be fetched).
EMBED_FILE = """
import math

from aegra.store import EmbeddingUnavailableError
from tests.support.tiny_model import DIMS, embed as hashing_embed


def embed(texts):
    if any("make-unavailable" in text for text in texts):
        raise EmbeddingUnavailableError("the model 'tiny' could not be fetched")
    vectors = hashing_embed(texts)
    for i, text in enumerate(texts):
        if "make-nan" in text:
            vectors[i] = [math.nan] * DIMS
        elif "make-short" in text:
            vectors[i] = vectors[i][: DIMS - 1]
    return vectors
"""


def ns(*labels: str) -> list[str]:
    return ["t" + uuid.uuid4().hex[:12], *labels]


def write_store_project(folder: Path, store: dict[str, object]) -> None:
    (folder / "embed.py").write_text(EMBED_FILE)
    config = {"graphs": {"store_user": str(TEST_GRAPHS_DIR / "store_user.py") + ":graph"}, "store": store}
    (folder / "aegra.json").write_text(json.dumps(config))


def project_env(folder: Path, database_url: str) -> dict[str, str]:
    # PYTHONPATH: embed.py imports the hashing embedder from the tests package.
    return {"AEGRA_CONFIG": str(folder / "aegra.json"), "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}


# -- the shared server (no store config) ---------------------------------------------------------


async def test_put_get_overwrite_delete(client: LangGraphClient) -> None:
    namespace = ns("notes")
    await client.store.put_item(namespace, "k1", {"text": "first", "n": 1})
    item = await client.store.get_item(namespace, "k1")
    assert item["namespace"] == namespace and item["key"] == "k1"
    assert item["value"] == {"text": "first", "n": 1}
    assert item["created_at"] == item["updated_at"]

    await client.store.put_item(namespace, "k1", {"text": "second"})
    updated = await client.store.get_item(namespace, "k1")
    assert updated["value"] == {"text": "second"}, "a put replaces the whole value"
    assert updated["created_at"] == item["created_at"] and updated["updated_at"] > item["updated_at"]

    await client.store.delete_item(namespace, "k1")
    assert await client.store.get_item(namespace, "k1") is None
    await client.store.delete_item(namespace, "k1")  # deleting what is gone is fine


def test_missing_item_is_200_null_and_missing_key_is_400(server: RunningServer) -> None:
    namespace = ".".join(ns())
    answer = httpx.get(f"{server.url}/store/items", params={"namespace": namespace, "key": "nope"})
    assert answer.status_code == 200 and answer.json() is None
    answer = httpx.get(f"{server.url}/store/items", params={"namespace": namespace})
    assert answer.status_code == 400 and answer.json() == {"detail": "Key is required"}


def test_bad_namespaces_values_and_bodies_are_refused(server: RunningServer) -> None:
    http = httpx.Client(base_url=server.url)
    for body in (
        {"namespace": ["a", ""], "key": "k", "value": {}},
        {"namespace": ["a.b"], "key": "k", "value": {}},
    ):
        answer = http.put("/store/items", json=body)
        assert answer.status_code == 422, body
        assert "non-empty string without periods" in answer.json()["detail"]
    assert http.get("/store/items", params={"namespace": "a..b", "key": "k"}).status_code == 422
    assert http.post("/store/items/search", json={"namespace_prefix": ["x."]}).status_code == 422
    assert http.post("/store/namespaces", json={"suffix": [""]}).status_code == 422

    namespace = ns()
    for value in (3, "text", [1, 2], None):
        answer = http.put("/store/items", json={"namespace": namespace, "key": "k", "value": value})
        assert answer.status_code == 422 and "value" in answer.json()["detail"], value
    extras: list[dict[str, Any]] = [{"ttl": 0}, {"ttl": -5}, {"index": True}, {"surprise": 1}]
    for extra in extras:
        body = {"namespace": namespace, "key": "k", "value": {"a": 1}, **extra}
        assert http.put("/store/items", json=body).status_code == 422, extra
    answer = http.put("/store/items", json={"namespace": [], "key": "k", "value": {"a": 1}})
    assert answer.status_code == 400 and "empty" in answer.json()["detail"]
    found = http.post("/store/items/search", json={"namespace_prefix": namespace}).json()
    assert found == {"items": []}, "nothing was stored"


async def test_search_ordering_and_pagination(client: LangGraphClient) -> None:
    namespace = ns()
    for i in range(6):
        await client.store.put_item([*namespace, "even" if i % 2 == 0 else "odd"], f"k{i}", {"n": i})
    everything = (await client.store.search_items(namespace, limit=100))["items"]
    assert [item["key"] for item in everything] == [f"k{i}" for i in reversed(range(6))], "latest update first"
    assert all(item["score"] is None for item in everything)

    pages = [(await client.store.search_items(namespace, limit=2, offset=o))["items"] for o in (0, 2, 4, 6)]
    assert [len(page) for page in pages] == [2, 2, 2, 0]
    assert [item["key"] for page in pages for item in page] == [item["key"] for item in everything]
    odd = (await client.store.search_items([*namespace, "odd"]))["items"]
    assert {item["key"] for item in odd} == {"k1", "k3", "k5"}


# Values and filters where LangGraph's PostgreSQL store, left alone, disagrees with InMemoryStore:
# nested keys, numbers compared as text ("12" < "4"), numeric strings and booleans.
FILTER_VALUES: list[dict[str, Any]] = [
    {"n": 12, "tag": {"i": 5, "deep": {"x": "a"}}},
    {"n": 4, "tag": {"i": 4}},
    {"n": "7", "tag": 3},
    {"n": 2.5, "l": [1, 2]},
    {"n": True, "s": "b"},
]
FILTERS: list[dict[str, Any]] = [
    {"n": {"$gte": 5}},
    {"n": {"$gt": 1, "$lte": 7}},
    {"n": {"$gt": "3"}},
    {"n": {"$lt": "x"}},
    {"n": {"$ne": 12}},
    {"n": 2.5},
    {"tag": {"i": 5}},
    {"tag": {"i": {"$gte": 4}}, "n": {"$lt": 10}},
    {"tag": {"deep": {"x": "a"}}},
    {"l": [1, 2]},
    {"s": "b"},
]


async def test_filters_mean_the_same_on_every_backend(client: LangGraphClient) -> None:
    namespace = ns()
    for i, value in enumerate(FILTER_VALUES):
        await client.store.put_item(namespace, f"k{i}", value)
    for filter_ in FILTERS:
        found = await client.store.search_items(namespace, filter=filter_, limit=100)
        expected = {f"k{i}" for i, value in enumerate(FILTER_VALUES) if filters.matches(value, filter_)}
        assert {item["key"] for item in found["items"]} == expected, filter_
    with pytest.raises(BadRequestError, match=r"Unsupported operator: \$regex"):
        await client.store.search_items(namespace, filter={"n": {"$regex": "1"}})


async def test_query_without_an_index_is_refused_with_the_reason(client: LangGraphClient) -> None:
    with pytest.raises(BadRequestError, match=r"needs an embedding index.*store.*index"):
        await client.store.search_items(ns(), query="anything")


async def test_list_namespaces(client: LangGraphClient) -> None:
    root = ns()
    for labels in (["a", "x"], ["a", "y", "x"], ["b", "x"], ["b"]):
        await client.store.put_item([*root, *labels], "k", {"v": 1})

    async def listed(**kwargs: object) -> list[list[str]]:
        return (await client.store.list_namespaces(prefix=root, **kwargs))["namespaces"]  # type: ignore[arg-type]

    assert sorted(await listed()) == sorted(
        [[*root, "a", "x"], [*root, "a", "y", "x"], [*root, "b", "x"], [*root, "b"]]
    )
    assert sorted(await listed(suffix=["x"])) == sorted([[*root, "a", "x"], [*root, "a", "y", "x"], [*root, "b", "x"]])
    assert sorted(await listed(max_depth=2)) == sorted([[*root, "a"], [*root, "b"]])
    first, second = await listed(limit=2), await listed(limit=2, offset=2)
    assert len(first) == 2 and len(second) == 2 and not set(map(tuple, first)) & set(map(tuple, second))
    with pytest.raises(UnprocessableEntityError):
        await client.store.list_namespaces(prefix=root, limit=0)


async def test_a_run_writes_to_the_store_the_api_reads(client: LangGraphClient) -> None:
    user = uuid.uuid4().hex
    result = await client.runs.wait(
        None, "store_user", input={"key": "fav", "value": "tea"}, config={"configurable": {"user_id": user}}
    )
    assert isinstance(result, dict) and result["read_back"] == {"value": "tea"}
    item = await client.store.get_item(["store_user", user], "fav")
    assert item["value"] == {"value": "tea"}


# -- servers with a store config -----------------------------------------------------------------


async def test_semantic_search_on_sqlite_keeps_vectors_in_the_one_db_file(tmp_path: Path) -> None:
    write_store_project(tmp_path, {"index": {"embed": "./embed.py:embed", "dims": DIMS}})
    data = tmp_path / "data"
    with granian_server(tmp_path, project_env(tmp_path, f"sqlite:///{data / 'aegra.db'}")) as server:
        client = get_client(url=server.url)
        docs = {
            "pets": "the cat and the dog sleep in the garden",
            "food": "bread cheese and butter for breakfast",
            "code": "python and rust programs on a database server",
        }
        for key, text in docs.items():
            await client.store.put_item(["mem", "u1"], key, {"text": text})
        await client.store.put_item(["mem", "u1"], "unindexed", {"text": "cat dog garden"}, index=False)
        await client.store.put_item(["mem", "u2"], "other-user", {"text": "the cat and the dog"})

        found = (await client.store.search_items(["mem", "u1"], query="where does the cat sleep", limit=10))["items"]
        scores = [item["score"] for item in found]
        assert found[0]["key"] == "pets" and scores[0] is not None and scores[1] is not None and scores[0] > scores[1]
        assert found[-1]["key"] == "unindexed" and scores[-1] is None
        assert "other-user" not in {item["key"] for item in found}, "the prefix still applies"
        filtered = await client.store.search_items(["mem"], query="cat dog", filter={"text": docs["code"]})
        assert [item["key"] for item in filtered["items"]] == ["code"]

        # Bad vectors from the user's function: a clear 400 each, and nothing stored.
        with pytest.raises(BadRequestError, match="NaN or infinite"):
            await client.store.put_item(["mem", "u1"], "nan", {"text": "make-nan"})
        with pytest.raises(BadRequestError, match=f"{DIMS - 1} dimensions.*dims={DIMS}"):
            await client.store.put_item(["mem", "u1"], "short", {"text": "make-short"})
        with pytest.raises(BadRequestError, match="NaN or infinite"):
            await client.store.search_items(["mem"], query="make-nan")
        assert await client.store.get_item(["mem", "u1"], "nan") is None
        assert await client.store.get_item(["mem", "u1"], "short") is None
        # A model that cannot be loaded does not fail the put: the item is saved, waiting for its vectors.
        await client.store.put_item(["mem", "u1"], "waits", {"text": "make-unavailable"})
        assert (await client.store.get_item(["mem", "u1"], "waits"))["value"] == {"text": "make-unavailable"}

    leftovers = sorted(p.name for p in data.iterdir())
    assert set(leftovers) <= {"aegra.db", "aegra.db-wal", "aegra.db-shm"} and "aegra.db" in leftovers
    tables, vector_count = sqlite_shell_report(data / "aegra.db")
    assert {"store_items", "store_item_vectors", "assistants", "checkpoints"} <= tables
    assert vector_count == len(docs) + 1, "one vector per indexed item (u1's three, u2's one)"


def sqlite_shell_report(db: Path) -> tuple[set[str], int]:
    """The tables in `db` and the number of stored vectors, as the sqlite3 shell sees them."""
    shell = subprocess.run(
        ["sqlite3", str(db), ".tables", "SELECT count(*) FROM store_item_vectors;"],
        capture_output=True,
        text=True,
        check=True,
    )
    *tables, count = shell.stdout.split()
    return set(tables), int(count)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_ttl_default_explicit_and_refreshed_on_read(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    write_store_project(tmp_path, {"ttl": {"default_ttl": 30, "refresh_on_read": True, "sweep_interval_minutes": 1}})
    with granian_server(tmp_path, project_env(tmp_path, database_url)) as server:
        client = get_client(url=server.url)
        await client.store.put_item(["ttl"], "default", {"v": 1})
        await client.store.put_item(["ttl"], "explicit", {"v": 2}, ttl=2)
        before, now = expiry(database_url), time.time()  # the server runs on this machine: one clock
        assert before["default"][0] == 30 and before["explicit"][0] == 2
        assert 1750 < before["default"][1] - now <= 1800 and 100 < before["explicit"][1] - now <= 120

        await client.store.get_item(["ttl"], "explicit", refresh_ttl=False)
        assert expiry(database_url)["explicit"] == before["explicit"]
        await asyncio.sleep(0.05)  # so that a refreshed expiry is measurably later
        await client.store.get_item(["ttl"], "explicit", refresh_ttl=True)
        assert expiry(database_url)["explicit"][1] > before["explicit"][1], "a read with refresh_ttl extends it"
        assert "store TTL sweep failed" not in server.log()


def expiry(database_url: str) -> dict[str, tuple[float, float]]:
    """key -> (ttl minutes, expiry as unix seconds), read from the store's own table."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT key, ttl_minutes, expires_at FROM store_items WHERE prefix = 'ttl'").fetchall()
    else:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT key, ttl_minutes, extract(epoch FROM expires_at)::float8 FROM store WHERE prefix = 'ttl'"
            ).fetchall()
    return {key: (float(ttl), float(expires_at)) for key, ttl, expires_at in rows}


@pytest.mark.postgres
def test_postgres_with_an_index_but_no_pgvector_fails_to_start_clearly(tmp_path: Path, postgres_url: str) -> None:
    write_store_project(tmp_path, {"index": {"embed": "./embed.py:embed", "dims": DIMS}})
    with pytest.raises(RuntimeError, match=r"pgvector") as failed:  # noqa: SIM117 (the server never yields)
        with granian_server(tmp_path, project_env(tmp_path, postgres_url), startup_timeout=30):
            pass
    assert "github.com/pgvector/pgvector" in str(failed.value)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('public.store') IS NULL").fetchone() == (True,), "nothing created"
