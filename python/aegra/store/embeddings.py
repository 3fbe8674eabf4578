"""Embedders named by `store.index.embed`, as LangChain `Embeddings` for the store's index config.

- `fastembed:MODEL`: a local ONNX model through fastembed, loaded on first use from the cache (a
  model not cached yet is downloaded by the store's background embedder, never by a request),
  texts embedded in batches off the event loop;
- `openai:MODEL`: OpenAI's API through `langchain-openai` or the `openai` client, whichever is
  installed; needs OPENAI_API_KEY;
- `./file.py:fn` (relative to the config file) or `package.module:fn`: the user's own function,
  sync or async, `list[str] -> list[list[float]]`.

Every embedder is wrapped (`CheckedEmbeddings`) so that its output is checked against `dims` on
every call: a model that returns vectors of another size is a clear error naming the setting to
change (`ValueError`, a 400). Anything the embedder itself raises (no model, no network, no API
key, the user's function failing) becomes `EmbeddingUnavailableError`: the stores then save the
item at once, marked as waiting for its vectors, and their background embedder (`backfill.py`)
embeds it once the embedder answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base.embed import EmbeddingsLambda

from aegra.local_models import is_cached, load_text_embedding
from aegra.store.quick_embed import quick_when_sync
from aegra.telemetry import metrics, tracing
from aegra.vec.packing import check_embeddings

logger = logging.getLogger(__name__)

PROVIDERS = ("fastembed", "openai")


class EmbeddingConfigError(ValueError):
    """`store.index.embed` cannot be turned into an embedder (bad string, missing package or key)."""


class EmbeddingUnavailableError(RuntimeError):
    """The embedder raised: its model could not be loaded or reached, or it failed."""


# Set while the store's background embedder calls: it may wait for a model's load or download,
# which a request must never do.
_IN_BACKGROUND: ContextVar[bool] = ContextVar("aegra_embedding_in_background", default=False)


@contextmanager
def in_background() -> Iterator[None]:
    """Calls made in this block (and the threads they start with `asyncio.to_thread`) may load or
    download the model, however long that takes."""
    token = _IN_BACKGROUND.set(True)
    try:
        yield
    finally:
        _IN_BACKGROUND.reset(token)


def build_embeddings(
    embed: str,
    dims: int,
    *,
    base_dir: Path | None = None,
    fastembed_options: dict[str, Any] | None = None,
) -> Embeddings:
    """The `Embeddings` for a `store.index.embed` string, checked against `dims`."""
    target, sep, name = embed.rpartition(":")
    if not sep or not target or not name:
        raise EmbeddingConfigError(f"store.index.embed must be 'provider:model' or './file.py:function', got {embed!r}")
    inner: Embeddings
    if target == "fastembed":
        inner = FastEmbedEmbeddings(name, **(fastembed_options or {}))
    elif target == "openai":
        inner = _openai_embeddings(name, dims)
    else:
        # A sync function's queries are embedded on the event loop once it proves quick (`quick_embed.py`).
        inner = quick_when_sync(EmbeddingsLambda(_load_function(target, name, base_dir or Path.cwd(), embed)))
    return CheckedEmbeddings(inner, dims, f"store.index.embed {embed!r}")


class CheckedEmbeddings(Embeddings):
    """Passes calls through and checks every vector's size against the configured `dims`."""

    def __init__(self, inner: Embeddings, dims: int, source: str) -> None:
        self.inner = inner
        self.dims = dims
        self.source = source

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._observed(len(texts)), self._unavailable_on_error():
            out = self.inner.embed_documents(texts)
        return self._checked(out)

    def embed_query(self, text: str) -> list[float]:
        with self._observed(1), self._unavailable_on_error():
            out = self.inner.embed_query(text)
        return self._checked([out])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._observed(len(texts)), self._unavailable_on_error():
            out = await self.inner.aembed_documents(texts)
        return self._checked(out)

    async def aembed_query(self, text: str) -> list[float]:
        with self._observed(1), self._unavailable_on_error():
            out = await self.inner.aembed_query(text)
        return self._checked([out])[0]

    @contextlib.contextmanager
    def _observed(self, texts: int) -> Iterator[None]:
        """The call's metrics, and its span when tracing is on."""
        started = time.perf_counter()
        with tracing.span("store.embed", **{"aegra.store.texts": texts}):
            yield
        metrics.embedding(texts, time.perf_counter() - started)

    @contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        """Whatever the embedder raises (a model, a network, an API, the user's function) means it
        cannot embed now: the store keeps the item waiting for its vectors rather than failing."""
        try:
            yield
        except EmbeddingUnavailableError:
            raise
        except Exception as exc:
            raise EmbeddingUnavailableError(f"{self.source} failed: {type(exc).__name__}: {exc}") from exc

    def _checked(self, out: list[list[float]]) -> list[list[float]]:
        check_embeddings(out, self.dims, self.source)
        return out


RETRY_AFTER_SECONDS = 300.0


class FastEmbedEmbeddings(Embeddings):
    """A fastembed `TextEmbedding`, created on first use; `options` go to its constructor
    (e.g. `cache_dir`, `threads`, `local_files_only`, `specific_model_path`)."""

    def __init__(self, model_name: str, *, batch_size: int = 64, **options: Any) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.options = options
        self._model: Any = None
        self._lock = threading.Lock()  # one load even when several threads ask at once
        self._failure: EmbeddingUnavailableError | None = None
        self._failed_at = 0.0

    def model(self) -> Any:
        if self._model is not None:
            return self._model
        background = _IN_BACKGROUND.get()
        # A request never waits for a load running in another thread (a download takes minutes).
        if not self._lock.acquire(blocking=background):
            raise EmbeddingUnavailableError(f"the embedding model {self.model_name!r} is still loading")
        try:
            if self._model is None:
                if not background:
                    self._check_loadable_now()
                logger.info("loading fastembed model %s", self.model_name)
                try:
                    # From the cache with no network; else downloaded first, failing in seconds offline.
                    self._model = load_text_embedding(self.model_name, **self.options)
                except Exception as exc:
                    self._failed_at = time.monotonic()
                    self._failure = EmbeddingUnavailableError(
                        f"fastembed could not load the embedding model {self.model_name!r}: {exc}. Until it "
                        "can, items are saved and wait for their vectors, and semantic searches are answered "
                        "unranked; get, list, and filter search work as usual."
                    )
                    raise self._failure from exc
            return self._model
        finally:
            self._lock.release()

    def _check_loadable_now(self) -> None:
        """For a request: fail at once rather than wait. A failure is remembered for
        RETRY_AFTER_SECONDS (each load attempt offline costs seconds); a model that is not cached is
        left to the background embedder to download."""
        if self._failure is not None and time.monotonic() - self._failed_at < RETRY_AFTER_SECONDS:
            raise self._failure
        explicit = self.options.get("specific_model_path") or self.options.get("local_files_only")
        if not explicit and not is_cached(self.model_name, self.options.get("cache_dir")):
            raise EmbeddingUnavailableError(
                f"the embedding model {self.model_name!r} is not downloaded yet: items wait for their "
                "vectors until the store's background embedder has fetched it (`aegra models pull` fetches it now)"
            )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [vector.tolist() for vector in self.model().embed(texts, batch_size=self.batch_size)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in next(iter(self.model().query_embed(text)))]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        # ONNX inference is CPU-bound: keep it off the event loop.
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)


def _openai_embeddings(model: str, dims: int) -> Embeddings:
    if not os.environ.get("OPENAI_API_KEY"):
        raise EmbeddingConfigError(
            f"store.index.embed 'openai:{model}' needs the OPENAI_API_KEY environment variable "
            "(set it in .env), or use a local model such as 'fastembed:BAAI/bge-small-en-v1.5'"
        )
    # text-embedding-3-* can shorten their vectors to `dims`; older models cannot take the argument.
    shorten = {"dimensions": dims} if model.startswith("text-embedding-3") else {}
    if importlib.util.find_spec("langchain_openai") is not None:
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(model=model, **shorten)
    if importlib.util.find_spec("openai") is not None:
        return OpenAIClientEmbeddings(model, shorten.get("dimensions"))
    raise EmbeddingConfigError(
        f"store.index.embed 'openai:{model}' needs an OpenAI client: pip install langchain-openai "
        "(or: pip install openai)"
    )


class OpenAIClientEmbeddings(Embeddings):
    """OpenAI embeddings through the bare `openai` client, for installs without langchain-openai."""

    def __init__(self, model: str, dimensions: int | None) -> None:
        import openai

        self.model = model
        self.extra: dict[str, Any] = {"dimensions": dimensions} if dimensions else {}
        self.client = openai.OpenAI()
        self.aclient = openai.AsyncOpenAI()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        response = self.client.embeddings.create(model=self.model, input=texts, **self.extra)
        return [list(data.embedding) for data in response.data]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        response = await self.aclient.embeddings.create(model=self.model, input=texts, **self.extra)
        return [list(data.embedding) for data in response.data]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


def _load_function(target: str, name: str, base_dir: Path, embed: str) -> Callable[..., Any]:
    """`./file.py` + `fn` (file relative to `base_dir`) or `package.module` + `fn`."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = (base_dir / target).resolve()
        if not path.is_file():
            raise EmbeddingConfigError(f"store.index.embed {embed!r}: {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"aegra_user_embed_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise EmbeddingConfigError(f"store.index.embed {embed!r}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise EmbeddingConfigError(
                f"store.index.embed {embed!r}: {target!r} is neither a supported provider "
                f"({', '.join(PROVIDERS)}) nor an importable module ({exc})"
            ) from exc
    function = getattr(module, name, None)
    if not callable(function):
        raise EmbeddingConfigError(f"store.index.embed {embed!r}: {target} has no function {name!r}")
    return function
