"""A store whose embedder is unavailable (issue 19): puts are saved at once and wait for their
vectors, searches answer with what is indexed and say how many items wait, and the items are
embedded in the background once the embedder answers - also after a restart. Through a real server
on SQLite and on PostgreSQL (pgvector), with the user's own embed function, which refuses until a
flag file exists, and with fastembed offline on a model that is not in its cache."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.fake_hub import repo_files, seed_cache
from tests.support.postgres import create_database, pgvector_server
from tests.support.projects import write_project
from tests.support.server import granian_server
from tests.support.tiny_model import DIMS, build_onnx_model

REPO = Path(__file__).resolve().parents[2]
UNINDEXED = "X-Aegra-Unindexed"
# The user's embed function: unreachable until the flag file exists; one text it always refuses.
EMBED_FILE = """
import os
import time
from pathlib import Path

from tests.support.tiny_model import embed as hashing_embed


def embed(texts):
    if not Path(os.environ["AEGRA_TEST_EMBED_READY"]).exists():
        raise ConnectionError("the embedding service cannot be reached")
    if any("poison" in text for text in texts):
        raise ValueError("this text is refused by the embedding service")
    if os.environ.get("AEGRA_TEST_EMBED_LOG"):  # which process embedded what (one line a text)
        log_path = os.environ["AEGRA_TEST_EMBED_LOG"]
        if any(text.startswith("item ") for text in texts):  # a batch of items (not a probe, a query)
            with open(log_path, "a") as log:
                log.write(f"{os.getpid()}\\tclaimed\\n")
            while Path(log_path + ".hold").exists():  # the test holds every batch until both hosts have one
                time.sleep(0.05)
        with open(log_path, "a") as log:
            log.write("".join(f"{os.getpid()}\\t{text}\\n" for text in texts))
    return hashing_embed(texts)
"""
FACTS = {
    "ui": "the user prefers dark mode in every editor",
    "pet": "their cat is called Miso",
    "work": "quarterly revenue grew eight percent",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'aegra.db'}"
    return create_database(pgvector_server(request.config))


def user_function_project(folder: Path, database_url: str) -> tuple[dict[str, str], Path]:
    store = {"index": {"embed": "./embed.py:embed", "dims": DIMS, "fields": ["text"]}}
    write_project(folder, {"graphs": {"agent": "./graph.py:graph"}, "store": store})
    (folder / "embed.py").write_text(EMBED_FILE)
    flag = folder / "embedder-ready"
    return {"PYTHONPATH": str(REPO), "DATABASE_URL": database_url, "AEGRA_TEST_EMBED_READY": str(flag)}, flag


def put(url: str, namespace: list[str], key: str, text: str) -> float:
    """PUT an item; the seconds it took to be acknowledged."""
    start = time.monotonic()
    response = httpx.put(
        f"{url}/store/items", json={"namespace": namespace, "key": key, "value": {"text": text}}, timeout=60
    )
    assert response.status_code == 204, response.text
    return time.monotonic() - start


def search(url: str, namespace: list[str], query: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"namespace_prefix": namespace, "limit": 10}
    if query is not None:
        body["query"] = query
    response = httpx.post(f"{url}/store/items/search", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90) -> None:
    # The background embedder retries 1 s, 2 s, 4 s... after failures: well within the timeout.
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def vectors_under(database_url: str, prefix: str) -> set[str]:
    """The keys of the items in `prefix` that have a vector, read from the store's own tables."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            sql = "SELECT i.key FROM store_items i JOIN store_item_vectors v ON v.item_id = i.id WHERE i.prefix = ?"
            rows = conn.execute(sql, (prefix,)).fetchall()
    else:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT key FROM store_vectors WHERE prefix = %s", (prefix,)).fetchall()
    return {row[0] for row in rows}


def unindexed(url: str, namespace: list[str]) -> int:
    return int(search(url, namespace, query="anything").headers[UNINDEXED])


def test_puts_are_saved_at_once_while_the_embedder_is_down_and_indexed_once_it_answers(
    tmp_path: Path, database_url: str
) -> None:
    env, flag = user_function_project(tmp_path, database_url)
    space = ["notes", uuid.uuid4().hex[:8]]
    with granian_server(tmp_path, env) as server:
        # Acknowledged at once (the first put hung 39 s and answered 503, losing the item).
        took = [put(server.url, space, key, text) for key, text in FACTS.items()]
        put(server.url, space, "bad", "poison pill")
        assert max(took) < 5, took
        item = httpx.get(f"{server.url}/store/items", params={"namespace": ".".join(space), "key": "ui"}).json()
        assert item["value"] == {"text": FACTS["ui"]}

        # Search answers with what is indexed (nothing yet: unscored) and says how many items wait.
        waiting = search(server.url, space, query="dark mode")
        assert waiting.headers[UNINDEXED] == "4"
        assert sorted(i["key"] for i in waiting.json()["items"]) == sorted([*FACTS, "bad"])
        assert all(i["score"] is None for i in waiting.json()["items"])
        assert UNINDEXED not in search(server.url, space).headers, "a listing is not about the index"
        assert search(server.url, ["elsewhere"], query="dark mode").headers[UNINDEXED] == "0", "counted per prefix"
        assert "wait for their vectors" in server.log()

        flag.touch()  # the embedder answers: no other write is needed
        wait_for("the waiting items to be embedded", lambda: unindexed(server.url, space) == 1)
        found = search(server.url, space, query="which mode does the user prefer?").json()["items"]
        assert found[0]["key"] == "ui" and found[0]["score"] is not None, found
        # The one text the embedder refuses waits on, after the others, without holding them back.
        assert found[-1]["key"] == "bad" and found[-1]["score"] is None
        assert [i["score"] is None for i in found].count(True) == 1

        # Up again: a put embeds inline as usual, searchable at once.
        put(server.url, space, "late", "dark mode everywhere")
        assert search(server.url, space, query="dark mode").json()["items"][0]["key"] in {"late", "ui"}
        assert unindexed(server.url, space) == 1


def test_items_waiting_at_a_crash_are_embedded_after_the_restart(tmp_path: Path, database_url: str) -> None:
    env, flag = user_function_project(tmp_path, database_url)
    space = ["restart", uuid.uuid4().hex[:8]]
    with granian_server(tmp_path, env) as server:
        for key, text in FACTS.items():
            put(server.url, space, key, text)
        assert unindexed(server.url, space) == 3
        server.kill()  # SIGKILL: the waiting list must be in the database, not in memory
    flag.touch()
    with granian_server(tmp_path, env) as server:
        wait_for("the items from before the crash to be embedded", lambda: unindexed(server.url, space) == 0)
        found = search(server.url, space, query="what is the cat called?").json()["items"]
        assert found[0]["key"] == "pet" and all(i["score"] is not None for i in found), found


def test_fastembed_offline_without_its_model_saves_puts_and_indexes_them_once_the_model_is_copied_in(
    tmp_path: Path, database_url: str
) -> None:
    """The issue's own setup: `fastembed:BAAI/bge-small-en-v1.5` (what `aegra init` configures), no
    model in the cache, no hub. Copying the model's folder into the cache, as the guidance says, is
    all it takes (a tiny model with the real one's files and size: tests/support/fake_hub.py)."""
    model = tmp_path / "model"
    build_onnx_model(model, dims=384)
    cache = tmp_path / "fastembed-cache"
    store = {"index": {"embed": "fastembed:BAAI/bge-small-en-v1.5", "dims": 384, "fields": ["text"]}}
    write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "store": store})
    env = {"DATABASE_URL": database_url, "FASTEMBED_CACHE_PATH": str(cache), "HF_HUB_OFFLINE": "1"}
    space = ["offline", uuid.uuid4().hex[:8]]
    with granian_server(tmp_path, env) as server:
        took = [put(server.url, space, key, text) for key, text in FACTS.items()]
        assert max(took) < 5, took
        assert unindexed(server.url, space) == 3
        assert search(server.url, space, query="cat").json()["items"][0]["score"] is None
        seed_cache(cache, "Qdrant/bge-small-en-v1.5-onnx-Q", repo_files(model, {"model.onnx": "model_optimized.onnx"}))
        wait_for("the model to be found and the items embedded", lambda: unindexed(server.url, space) == 0)
        # (The tiny model's vectors are all zeros: no meaningful score; the vectors are what counts.)
        assert vectors_under(database_url, ".".join(space)) == {"ui", "pet", "work"}


@pytest.mark.postgres
def test_two_hosts_embed_the_waiting_items_together_each_once_none_lost(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two `aegra serve` processes on one PostgreSQL database, both with items waiting: their
    background embedders share the marks (a claim per batch, SKIP LOCKED), both embedding at the
    same time, and every item ends up embedded, by one of them, once."""
    database_url = create_database(pgvector_server(request.config))
    env, flag = user_function_project(tmp_path, database_url)
    embed_log = tmp_path / "embedded.log"
    env["AEGRA_TEST_EMBED_LOG"] = str(embed_log)
    space = ["shared", uuid.uuid4().hex[:8]]
    texts = {f"k{n:03d}": f"item {n} of the shared list" for n in range(200)}  # three claims of 64, and more
    with granian_server(tmp_path, env) as first, granian_server(tmp_path, env) as second:
        hosts = [first.url, second.url]
        for n, (key, text) in enumerate(texts.items()):
            put(hosts[n % 2], space, key, text)
        assert unindexed(first.url, space) == len(texts)
        hold = Path(f"{embed_log}.hold")
        hold.touch()
        flag.touch()
        # Each host's background embedder claims a batch and is held in the embed call: two claims
        # at once, which must not overlap.
        wait_for("both hosts to hold a batch", lambda: len(set(claims(embed_log))) == 2, timeout=120)
        hold.unlink()
        for url in hosts:
            wait_for("every waiting item to be embedded", lambda url=url: unindexed(url, space) == 0)
    assert vectors_under(database_url, ".".join(space)) == set(texts), "none lost"
    lines = [line.split("\t", 1) for line in embed_log.read_text().splitlines()]
    embedded = [text for _, text in lines if text.startswith("item ")]
    assert len(set(claims(embed_log))) == 2
    twice = sorted({text for text in embedded if embedded.count(text) > 1})
    assert not twice, f"embedded more than once: {twice[:5]}"
    assert sorted(embedded) == sorted(texts.values())


def claims(embed_log: Path) -> list[str]:
    """The processes that began embedding a batch of items, one entry a batch."""
    if not embed_log.exists():
        return []
    return [line.split("\t")[0] for line in embed_log.read_text().splitlines() if line.endswith("\tclaimed")]
