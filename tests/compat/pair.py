"""Sending the same calls to both servers and comparing what they answered.

A test writes one scenario, `async def scenario(s: Side) -> dict[str, Any]`, in terms of one
server (`s.sdk` is a langgraph-sdk client, `s.http` an httpx client on the same base URL) and
returns its observations by name. `Pair.run` runs it against the official server and Aegra at
once, normalizes both sides' observations and fails the test on any difference that the
deliberate-differences list (docs/compatibility.md) does not explain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError

from tests.compat.compare import Deliberate, Difference, Names, differences, normalize, shape, unexplained

Scenario = Callable[["Side"], Awaitable[dict[str, Any]]]


@dataclass
class Side:
    name: str  # "official" or "aegra"
    url: str
    names: Names = field(default_factory=Names)
    _counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._connect()

    def _connect(self) -> None:
        self.raw: LangGraphClient = get_client(url=self.url, timeout=60)
        self.http = httpx.AsyncClient(base_url=self.url, timeout=60)

    @property
    def sdk(self) -> Any:
        """The SDK client, its calls answering errors as `{"status", "body"}` instead of raising."""
        return _Answering(self.raw, self)

    def name_id(self, value: Any, name: str) -> Any:
        """Show this id as `<name>` in the comparison (names are given in the same order on both sides)."""
        self.names.add(value, name)
        return value

    def new_id(self, value: Any, kind: str) -> Any:
        """Name an id `<kind:N>`, N counting per kind in the order the scenario meets them."""
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self.name_id(value, f"{kind}:{self._counts[kind]}")

    async def call(self, awaitable: Awaitable[Any]) -> Any:
        """The call's result, or its error as `{"status", "body"}` with the body's shape."""
        try:
            return await awaitable
        except (APIStatusError, httpx.HTTPStatusError) as exc:
            if exc.response.status_code >= 500:
                await self._reconnect()
            return error_of(exc.response)
        except httpx.TransportError as exc:
            await self._reconnect()
            return {"status": "no response", "body": type(exc).__name__}
        except Exception as exc:  # what the SDK raises itself, e.g. for a run's `__error__`
            return {"raised": type(exc).__name__, "message": str(exc)}

    async def _reconnect(self) -> None:
        """After a crash (the official server has a few: a 500, then the connection is dead), start
        afresh, or the next call reads from the dead connection."""
        await self.close()
        self._connect()

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A raw request: `{"status", "body"}` (an error's body as its shape), and pagination headers."""
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            return error_of(response)
        observed: dict[str, Any] = {"status": response.status_code, "body": _body(response)}
        paging = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-pagination-")}
        if paging:
            observed["headers"] = paging
        return observed

    async def close(self) -> None:
        await self.http.aclose()
        await self.raw.http.client.aclose()


class _Answering:
    """A proxy of an SDK client (or one of its parts) whose coroutine methods go through `Side.call`."""

    def __init__(self, target: Any, side: Side) -> None:
        self._target, self._side = target, side

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return _Answering(value, self._side)

        def method(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return self._side.call(result) if asyncio.iscoroutine(result) else result

        return method


def error_of(response: httpx.Response) -> dict[str, Any]:
    return {"status": response.status_code, "body": shape(_body(response))}


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


async def parts(stream: AsyncIterator[Any]) -> list[tuple[str, Any]]:
    return [(part.event, part.data) async for part in stream]


def by_mode(events: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    """A stream's events grouped by their name, each group in order (modes interleave differently)."""
    grouped: dict[str, list[Any]] = {}
    for event, data in events:
        grouped.setdefault(event, []).append(data)
    return grouped


class CompatibilityError(AssertionError):
    pass


@dataclass
class Pair:
    official_url: str
    aegra_url: str
    deliberate: list[Deliberate]
    seen: set[str] = field(default_factory=set)  # observations compared (for the coverage check)

    async def observe(self, scenario: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both sides' normalized observations."""
        sides = [Side("official", self.official_url), Side("aegra", self.aegra_url)]
        try:
            results = await asyncio.gather(*(scenario(side) for side in sides))
        finally:
            for side in sides:
                await side.close()
        official, aegra = (normalize(result, side.names) for result, side in zip(results, sides, strict=True))
        return official, aegra

    async def run(self, scenario: Scenario) -> dict[str, Any]:
        """Run the scenario on both servers; fail on unexplained differences. Returns Aegra's observations."""
        official, aegra = await self.observe(scenario)
        found: list[Difference] = []
        for observation in sorted({*official, *aegra}):
            self.seen.add(observation)
            found += differences(observation, official.get(observation, "<absent>"), aegra.get(observation, "<absent>"))
        problems = unexplained(found, self.deliberate)
        if problems:
            listing = "\n".join(str(d) for d in problems)
            raise CompatibilityError(
                f"{len(problems)} difference(s) from the official server not in docs/compatibility.md:\n{listing}"
            )
        return aegra
