"""Assistants' input JSON Schemas, kept per assistant version: MCP lists one per tool and A2A
checks one before every message, and rendering it means building the graph (a factory may run)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from aegra.graphs import GraphRegistry, input_jsonschema

_UNRENDERABLE: dict[str, Any] = {}


class InputSchemas:
    def __init__(self, graphs: GraphRegistry, *, max_entries: int = 1024) -> None:
        self.graphs = graphs
        self.max_entries = max_entries
        # (assistant_id, version) -> schema; a new version of an assistant is a new key.
        self._cache: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    async def get(self, assistant: dict[str, Any]) -> dict[str, Any] | None:
        """The input schema of `assistant` (an assistant as the API returns it); None if unrenderable."""
        key = (str(assistant["assistant_id"]), int(assistant.get("version") or 0))
        schema = self._cache.get(key)
        if schema is None:
            async with self.graphs.graph(assistant["graph_id"], dict(assistant.get("config") or {})) as graph:
                schema = await asyncio.to_thread(input_jsonschema, graph) or _UNRENDERABLE
            self._cache[key] = schema
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return None if schema is _UNRENDERABLE else schema
