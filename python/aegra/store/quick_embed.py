"""A sync embedding function called on the event loop once it has proven quick.

LangChain runs a sync embedder's `aembed_query` in a worker thread, which is right for a model
(milliseconds of CPU) or a network call. For a function that answers in microseconds (a lookup, a
hashing embedder, a cache) the hop to the thread and back is most of a small search's cost: at 1M
items a 1% prefix's search took ~0.5-0.6 ms of CPU for the hop of its query's embedding, of
~2.4 ms. So the calls are timed: after `PROVEN_CALLS` calls in a row that each took under
`QUICK_SECONDS` (in their thread, so waiting for the GIL counts against them), the function is
called inline. One inline call slower than that sends it back to the thread for the process's
life: a function that is quick on a cache hit and slow on a miss blocks the loop once at most.
A batch of puts' texts goes the same way, timed apart from the queries (a batch is many texts):
for a function that returns precomputed vectors, the thread's hop (the executor's submit, its
wake-ups and the loop's) cost ~1 us an item of a fill in batches of 100; a model's batch takes
milliseconds and stays in the thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from langgraph.store.base.embed import EmbeddingsLambda

logger = logging.getLogger(__name__)

QUICK_SECONDS = 0.5e-3  # what a call may take to count as quick (and to stay inline)
PROVEN_CALLS = 16  # quick calls in a row before the function is called inline


class QuickCalls:
    """Whether a sync function is called inline or in a thread, from how long its calls took."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.quick_in_a_row = 0
        self.never_inline = False

    @property
    def inline(self) -> bool:
        return not self.never_inline and self.quick_in_a_row >= PROVEN_CALLS

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.inline:
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                if time.perf_counter() - started > QUICK_SECONDS:
                    self.never_inline = True
                    logger.info(
                        "%s took over %.1f ms on the event loop: called in a thread from now on",
                        self.name,
                        QUICK_SECONDS * 1e3,
                    )
        return await asyncio.to_thread(self._timed, fn, *args)

    def _timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args)  # an exception leaves the count as it was: the caller sees it either way
        quick = time.perf_counter() - started <= QUICK_SECONDS
        self.quick_in_a_row = self.quick_in_a_row + 1 if quick else 0
        return out


class SyncFunctionEmbeddings(EmbeddingsLambda):
    """LangGraph's `EmbeddingsLambda` of a sync function (`list[str] -> list[list[float]]`, as
    `quick_when_sync` gives it; an async one is left to LangGraph), with its queries, and apart
    from them its batches of texts, embedded inline once they have proven quick (`QuickCalls`)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        super().__init__(func)
        name = f"the embedding function {getattr(func, '__name__', func)!r}"
        self.query_calls = QuickCalls(name)
        self.document_calls = QuickCalls(f"{name} (a batch of texts)")

    async def aembed_query(self, text: str) -> list[float]:
        out: list[float] = await self.query_calls.call(self.embed_query, text)
        return out

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = await self.document_calls.call(self.embed_documents, texts)
        return out


def quick_when_sync(embeddings: Any) -> Any:
    """`embeddings` with a LangGraph `EmbeddingsLambda` of a sync function made a `SyncFunctionEmbeddings`."""
    func = getattr(embeddings, "func", None)
    if type(embeddings) is EmbeddingsLambda and func is not None:
        return SyncFunctionEmbeddings(func)
    return embeddings
