"""The body of `wait` and `join`: what the run's stream says it ended with (langgraph-api's
`wait`/`join` routes).

Fed the run's events in order: an `error` event makes `{"__error__": <error>}`; a chunk with
interrupts (`values` carry them, with the state) is the result as it is, and several such chunks
merge into `{"__interrupt__": [...]}` (each interrupt once); otherwise the last `values`.
Nothing at all (an old run whose stream is gone) falls back to the thread's stored values,
status and interrupts.
"""

from __future__ import annotations

from typing import Any

import msgspec

_INTERRUPT = "__interrupt__"


class RunResult:
    def __init__(self) -> None:
        self._error: Any = None
        self._interrupt_chunks: list[dict[str, Any]] = []
        self._latest: Any = None
        self.seen_any = False

    def absorb(self, event: str, data: bytes) -> None:
        mode = event.split("|", 1)[0]
        if mode == "error":
            self._error = msgspec.json.decode(data)
            self.seen_any = True
        elif mode in ("values", "updates"):
            payload = msgspec.json.decode(data)
            interrupts = payload.get(_INTERRUPT) if isinstance(payload, dict) else None
            if "|" in event:
                return  # subgraph state is not the run's result
            if interrupts:
                self._interrupt_chunks.append(payload)
                self.seen_any = True
            elif mode == "values":
                self._latest = payload
                self.seen_any = True

    def body(self) -> Any:
        if self._error is not None:
            return {"__error__": self._error}
        if len(self._interrupt_chunks) == 1:
            return self._interrupt_chunks[0]
        if self._interrupt_chunks:
            merged: dict[str, Any] = {}
            for chunk in self._interrupt_chunks:
                for interrupt in chunk[_INTERRUPT]:
                    key = interrupt.get("id") if isinstance(interrupt, dict) else None
                    merged[key or msgspec.json.encode(interrupt).decode()] = interrupt
            return {_INTERRUPT: list(merged.values())}
        return self._latest if self._latest is not None else {}


def thread_fallback(status: str, values: Any, interrupts: dict[str, list[Any]], error: Any = None) -> Any:
    if status == "error" and error is not None:
        return {"__error__": error}
    if status == "interrupted":
        flat = [item for items in interrupts.values() for item in items]
        if flat:
            return {_INTERRUPT: flat}
    return values or {}
