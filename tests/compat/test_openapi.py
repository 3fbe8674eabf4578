"""The official server's `/openapi.json` routes against Aegra's: every official route exists here,
except those the deliberate-differences list names (and each such entry still names a real gap)."""

from __future__ import annotations

from typing import Any

from tests.compat.compare import deliberate_differences
from tests.compat.pair import Pair, Side

METHODS = ("get", "post", "put", "patch", "delete")


async def _routes(s: Side) -> dict[str, Any]:
    document = (await s.http.get("/openapi.json")).json()
    routes = {
        f"{method.upper()} {path.rstrip('/') or '/'}": True
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    return {"openapi.paths": routes}


async def test_every_official_route_exists(pair: Pair) -> None:
    official, aegra = await pair.observe(_routes)
    await pair.run(_routes)
    # An entry for a route both have (or neither) is stale: the list must say what is true.
    gaps = {f"openapi.paths:{route}" for route in {*official["openapi.paths"]} ^ {*aegra["openapi.paths"]}}
    stale = [
        e.pattern
        for e in deliberate_differences()
        if e.pattern.startswith("openapi.paths:") and not any(e.matches(gap) for gap in gaps)
    ]
    assert not stale, f"docs/compatibility.md lists route differences that no longer exist: {stale}"
