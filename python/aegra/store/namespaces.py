"""Namespaces as stored text, and the namespace rules of LangGraph's stores.

A namespace tuple is stored as its labels joined by `.`; LangGraph forbids `.` in labels, so the
mapping is one-to-one. Matching and sorting happen on tuples, exactly as `InMemoryStore` does,
so that `("a", "b")` sorts before `("a-b",)` even though `"a.b" > "a-b"` as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langgraph.store.base import ListNamespacesOp, MatchCondition

SEPARATOR = "."
# The byte after "." - every text starting with "a.b." sorts in ["a.b.", "a.b/").
AFTER_SEPARATOR = chr(ord(SEPARATOR) + 1)


def to_text(namespace: Sequence[str]) -> str:
    return SEPARATOR.join(namespace)


def from_text(text: str) -> tuple[str, ...]:
    return tuple(text.split(SEPARATOR))


def prefix_condition(prefix: Sequence[str], column: str) -> tuple[str, list[str]]:
    """SQL for "namespace equals `prefix` or lies below it", as index-friendly range tests."""
    if not prefix:
        return "1", []
    text = to_text(prefix)
    return (
        f"({column} = ? OR ({column} >= ? AND {column} < ?))",
        [text, text + SEPARATOR, text + AFTER_SEPARATOR],
    )


def matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """Element-wise prefix/suffix match; `*` matches any one label."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


def literal_prefix(op: ListNamespacesOp) -> tuple[str, ...]:
    """The wildcard-free head of the op's prefix condition, usable to narrow the SQL scan."""
    for condition in op.match_conditions or ():
        if condition.match_type == "prefix":
            head: list[str] = []
            for label in condition.path:
                if label == "*":
                    break
                head.append(label)
            return tuple(head)
    return ()


def list_namespaces(op: ListNamespacesOp, namespaces: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Apply match conditions, `max_depth` truncation, sorting and paging to existing namespaces."""
    kept = [ns for ns in namespaces if all(matches(c, ns) for c in op.match_conditions or ())]
    if op.max_depth is not None:
        kept = list({ns[: op.max_depth] for ns in kept})
    return sorted(set(kept))[op.offset : op.offset + op.limit]
