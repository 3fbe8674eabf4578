"""Search results a page at a time, and the `X-Pagination-*` headers the SDK reads.

A page fetches one row more than asked, to learn whether another page follows without a
second COUNT query. Headers as langgraph-api sends them on its search routes: with a next
page, `X-Pagination-Next: <offset + limit>` and `X-Pagination-Total: <that + 1>` (a lower
bound); on the last page, `X-Pagination-Total: <offset + rows>` (exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    offset: int
    next_offset: int | None

    @classmethod
    def from_rows(cls, rows: list[T], *, limit: int, offset: int) -> Page[T]:
        """`rows` were fetched with `limit + 1`."""
        has_next = len(rows) > limit
        return cls(items=rows[:limit], offset=offset, next_offset=offset + limit if has_next else None)

    def headers(self) -> dict[str, str]:
        if self.next_offset is None:
            return {"X-Pagination-Total": str(self.offset + len(self.items))}
        return {"X-Pagination-Total": str(self.next_offset + 1), "X-Pagination-Next": str(self.next_offset)}
