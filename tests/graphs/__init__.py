"""Tiny, deterministic, LLM-free graphs for tests at every layer, configured in `aegra.json`.

| graph id          | what it does                                                             |
|-------------------|--------------------------------------------------------------------------|
| agent             | MessagesState chat; a fake model streams `You said: <last message>`      |
| interrupting      | `interrupt({"question": ...})`, then `result = "<request>: <resume>"`    |
| subgraph_parent   | `prepare` -> compiled subgraph `child` -> `finish`                        |
| factory           | async factory(config): greets with `configurable.greeting`               |
| factory_context   | the same as an `@asynccontextmanager` factory (`factory.LIFECYCLE`)      |
| custom_schema     | input `{name}`, output `{greeting}`, dataclass context                   |
| failing           | raises `ValueError("deliberate failure")`                                |
| slow              | sleeps `seconds` in 0.05 s steps, writing progress to the custom stream  |
| store_user        | writes `{value}` under `key` in the runtime store and reads it back      |
| module_style      | `aegra_testpkg.chain:graph` from the `deps` dependency folder            |

`broken/` holds files that must fail to load (see `tests/unit/test_graphs_errors.py`).
TypedDicts come from `typing_extensions`: pydantic cannot build schemas from `typing.TypedDict`
on Python 3.11.
"""

from __future__ import annotations

from pathlib import Path

from aegra.config import read_config_file
from aegra.graphs import GraphRegistry

TEST_GRAPHS_DIR = Path(__file__).resolve().parent
TEST_GRAPHS_CONFIG = TEST_GRAPHS_DIR / "aegra.json"


def load_test_graphs() -> GraphRegistry:
    return GraphRegistry.load(read_config_file(TEST_GRAPHS_CONFIG), TEST_GRAPHS_DIR)
