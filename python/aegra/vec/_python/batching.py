"""De-duplication and length-bucketed embedder batches (`batching.rs`) in Python."""

from __future__ import annotations

from collections.abc import Sequence


def dedupe_texts(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    seen: dict[str, int] = {}
    first: list[int] = []
    inverse: list[int] = []
    for position, text in enumerate(texts):
        unique = seen.setdefault(text, len(first))
        if unique == len(first):
            first.append(position)
        inverse.append(unique)
    return first, inverse


def length_batches(texts: Sequence[str], budget: int, max_batch: int) -> list[list[int]]:
    if budget <= 0 or max_batch <= 0:
        raise ValueError(f"budget and max_batch must be positive, got budget={budget} and max_batch={max_batch}")
    lengths = [len(text) for text in texts]
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(texts)), key=lambda i: (lengths[i], i)):
        padded = max(lengths[i], 1)  # the longest of the batch it joins: texts come sorted
        if current and (len(current) >= max_batch or (len(current) + 1) * padded > budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
