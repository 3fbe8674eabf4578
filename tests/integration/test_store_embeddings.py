"""`store.index.embed` strings turned into embedders: fastembed's real loading path (a tiny ONNX
model built on the spot, no model hub), the user's own functions, and the clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from aegra.store.embeddings import (
    EmbeddingConfigError,
    EmbeddingUnavailableError,
    FastEmbedEmbeddings,
    build_embeddings,
    in_background,
)
from aegra.store.sqlite_store import AsyncSqliteStore
from tests.support.tiny_model import DIMS, TINY_MODEL_DIMS, build_onnx_model, register_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_onnx_model(tmp_path_factory.mktemp("tiny-bert"))
    register_tiny_model()
    return folder


@pytest.fixture
def tiny_embeddings(tiny_model_dir: Path) -> Embeddings:
    return build_embeddings(
        f"fastembed:{register_tiny_model()}",
        TINY_MODEL_DIMS,
        fastembed_options={"specific_model_path": str(tiny_model_dir)},
    )


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


async def test_fastembed_loads_a_local_onnx_model_and_ranks_by_shared_words(tiny_embeddings: Embeddings) -> None:
    docs = ["cats dogs mouse", "coffee bread butter", "train plane boat", "dogs horse cow"]
    vectors = await tiny_embeddings.aembed_documents(docs)
    assert len(vectors) == 4 and all(len(v) == TINY_MODEL_DIMS for v in vectors)
    assert all(np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5) for v in vectors)  # fastembed normalized
    query = await tiny_embeddings.aembed_query("dogs and cats")
    scores = [cosine(query, v) for v in vectors]
    assert scores[0] == max(scores)
    assert min(scores[0], scores[3]) > max(scores[1], scores[2])


async def test_fastembed_embeds_in_batches(tiny_model_dir: Path) -> None:
    embedder = FastEmbedEmbeddings(register_tiny_model(), batch_size=7, specific_model_path=str(tiny_model_dir))
    texts = [f"red car number {i}" for i in range(30)]
    out = await embedder.aembed_documents(texts)
    assert len(out) == 30
    assert out[0] == pytest.approx(embedder.embed_documents(["red car number 0"])[0], abs=1e-6)


async def test_store_with_fastembed_semantic_search(tiny_embeddings: Embeddings, tmp_path: Path) -> None:
    index = {"dims": TINY_MODEL_DIMS, "embed": tiny_embeddings, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index) as store:  # type: ignore[arg-type]
        await store.aput(("m",), "pets", {"text": "my cats and dogs sleep in the garden"})
        await store.aput(("m",), "food", {"text": "coffee with bread and butter"})
        await store.aput(("m",), "travel", {"text": "a train to the mountain lake"})
        results = await store.asearch(("m",), query="cats dogs", limit=3)
    assert results[0].key == "pets"
    assert results[0].score is not None and results[0].score > (results[1].score or 0)


async def test_dims_mismatch_is_a_clear_error(tiny_model_dir: Path) -> None:
    embedder = build_embeddings(
        f"fastembed:{register_tiny_model()}", 384, fastembed_options={"specific_model_path": str(tiny_model_dir)}
    )
    with pytest.raises(ValueError, match=r"128 dimensions.*dims=384.*`store.index.dims` to 128"):
        await embedder.aembed_query("hello")


@pytest.fixture
async def offline_store(tmp_path: Path) -> AsyncIterator[AsyncSqliteStore]:
    """A store whose fastembed model cannot be fetched (empty cache, no downloads allowed)."""
    embedder = build_embeddings(
        "fastembed:BAAI/bge-small-en-v1.5",
        384,
        fastembed_options={"cache_dir": str(tmp_path / "empty-cache"), "local_files_only": True},
    )
    index = {"dims": 384, "embed": embedder, "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index) as store:  # type: ignore[arg-type]
        yield store


async def test_unfetchable_model_names_the_model_and_keyword_search_keeps_working(
    offline_store: AsyncSqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    # The put is saved at once, waiting for its vectors; the log names the model.
    await offline_store.aput(("m",), "a", {"text": "needs a vector"})
    assert "BAAI/bge-small-en-v1.5" in caplog.text and "wait for their vectors" in caplog.text
    assert await offline_store.acount_waiting(("m",)) == 1
    await offline_store.aput(("m",), "b", {"text": "plain", "kind": "note"}, index=False)
    item = await offline_store.aget(("m",), "b")
    assert item is not None and item.value["kind"] == "note"
    assert [i.key for i in await offline_store.asearch(("m",), filter={"kind": "note"})] == ["b"]
    assert await offline_store.alist_namespaces() == [("m",)]
    # A query that cannot be embedded: answered unranked rather than failing.
    found = await offline_store.asearch(("m",), query="anything")
    assert sorted(i.key for i in found) == ["a", "b"] and all(i.score is None for i in found)


def test_openai_without_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingConfigError, match="OPENAI_API_KEY"):
        build_embeddings("openai:text-embedding-3-small", 1536)


def test_openai_without_a_client_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("langchain_openai") or importlib.util.find_spec("openai"):
        pytest.skip("an OpenAI client is installed here")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(EmbeddingConfigError, match="pip install langchain-openai"):
        build_embeddings("openai:text-embedding-3-small", 1536)


async def test_user_function_from_a_file_sync_and_async(tmp_path: Path) -> None:
    (tmp_path / "my_embed.py").write_text(
        "def embed(texts):\n"
        "    return [[float(len(t)), 1.0] for t in texts]\n\n"
        "async def aembed(texts):\n"
        "    return [[1.0, float(len(t))] for t in texts]\n"
    )
    sync_embedder = build_embeddings("./my_embed.py:embed", 2, base_dir=tmp_path)
    assert await sync_embedder.aembed_documents(["abc", "de"]) == [[3.0, 1.0], [2.0, 1.0]]
    assert sync_embedder.embed_query("abcd") == [4.0, 1.0]
    async_embedder = build_embeddings("./my_embed.py:aembed", 2, base_dir=tmp_path)
    assert await async_embedder.aembed_query("abc") == [1.0, 3.0]
    with pytest.raises(ValueError, match="dims=3"):
        await build_embeddings("./my_embed.py:embed", 3, base_dir=tmp_path).aembed_query("x")


async def test_user_function_from_a_module() -> None:
    embedder = build_embeddings("tests.support.tiny_model:embed", DIMS)
    assert len(await embedder.aembed_query("apple river")) == DIMS


@pytest.mark.parametrize(
    ("embed", "message"),
    [
        ("no-colon", "must be 'provider:model'"),
        ("cohere:embed-english-v3.0", "neither a supported provider"),
        ("./missing.py:fn", "does not exist"),
        ("tests.support.tiny_model:nope", "has no function 'nope'"),
    ],
)
def test_bad_embed_strings(embed: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(EmbeddingConfigError, match=message):
        build_embeddings(embed, 8, base_dir=tmp_path)


async def test_store_built_from_the_config_section(tmp_path: Path) -> None:
    import msgspec

    from aegra.config_schema import StoreConfig
    from aegra.store import sqlite_store

    (tmp_path / "emb.py").write_text("def embed(texts):\n    return [[float('cat' in t), 1.0] for t in texts]\n")
    config = msgspec.convert(
        {"index": {"dims": 2, "embed": "./emb.py:embed", "fields": ["text"]}, "ttl": {"default_ttl": 5}},
        StoreConfig,
    )
    store = sqlite_store(tmp_path / "aegra.db", config, tmp_path)
    await store.setup()
    try:
        assert store.ttl_config == {"refresh_on_read": True, "default_ttl": 5}
        await store.aput(("a",), "cat", {"text": "a cat"})
        await store.aput(("a",), "dog", {"text": "a dog"})
        assert [i.key for i in await store.asearch(("a",), query="cat")] == ["cat", "dog"]
    finally:
        await store.aclose()


async def test_index_embed_given_as_a_string(tmp_path: Path) -> None:
    index = {"dims": DIMS, "embed": "tests.support.tiny_model:embed", "fields": ["text"]}
    async with AsyncSqliteStore.from_path(tmp_path / "s.db", index=index) as store:  # type: ignore[arg-type]
        await store.aput(("a",), "k", {"text": "apple"})
        assert (await store.asearch(("a",), query="apple"))[0].score == pytest.approx(1.0, abs=1e-5)


def test_a_failed_model_load_is_remembered_instead_of_retried_on_every_call(tmp_path: Path) -> None:
    from aegra.store.embeddings import FastEmbedEmbeddings

    embedder = FastEmbedEmbeddings(
        "BAAI/bge-small-en-v1.5", cache_dir=str(tmp_path / "empty-cache"), local_files_only=True
    )
    with pytest.raises(EmbeddingUnavailableError) as first:
        embedder.embed_query("one")
    # The cache folder fastembed would have filled: a second real attempt would touch it again.
    (tmp_path / "empty-cache").rename(tmp_path / "moved")
    with pytest.raises(EmbeddingUnavailableError) as second:
        embedder.embed_query("two")
    assert second.value is first.value, "the same failure answers until the retry interval passes"
    assert "items are saved and wait for their vectors" in str(first.value)
    assert not (tmp_path / "empty-cache").exists(), "no second load was attempted"
    # The store's background embedder is not held back: it tries again on its own schedule.
    with pytest.raises(EmbeddingUnavailableError) as third, in_background():
        embedder.embed_query("three")
    assert third.value is not first.value and (tmp_path / "empty-cache").exists(), "a real attempt"
