"""Broken graph entries fail at load with one short GraphLoadError naming graph, file and cause."""

from __future__ import annotations

import sys

import pytest

from aegra.config import ConfigError
from aegra.config_schema import AegraConfig
from aegra.graphs import GraphLoadError, GraphRegistry
from tests.graphs import TEST_GRAPHS_DIR

BROKEN = TEST_GRAPHS_DIR / "broken"


def load_error(spec: str) -> str:
    """The message of the error loading `spec` as graph 'broken'."""
    with pytest.raises(GraphLoadError) as caught:
        GraphRegistry.load(AegraConfig(graphs={"broken": spec}), TEST_GRAPHS_DIR)
    message = str(caught.value)
    assert message.startswith(f"Graph 'broken' ({spec}): ")
    assert len(message.splitlines()) <= 2
    return message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("./broken/syntax_error.py:graph", ["cannot import ./broken/syntax_error.py", "SyntaxError", "line 3"]),
        (
            "./broken/import_error.py:graph",
            ["ModuleNotFoundError: No module named 'aegra_no_such_module'", f"{BROKEN / 'import_error.py'}:3"],
        ),
        (
            "./broken/raises_at_import.py:graph",
            ["RuntimeError: missing API key", f"(at {BROKEN / 'raises_at_import.py'}:5)"],
        ),
        ("./broken/missing.py:graph", [f"file not found: {BROKEN / 'missing.py'}"]),
        ("aegra_no_such_package.graph:graph", ["cannot import aegra_no_such_package.graph", "ModuleNotFoundError"]),
        ("./broken/wrong_type.py:nope", ["has no attribute 'nope'", "graphs it defines: uncompilable, valid_graph"]),
        ("./broken/wrong_type.py:number", ["'number' is of type int, not a compiled graph"]),
        ("./broken/wrong_type.py:NotAGraph", ["'NotAGraph' is a class, not a compiled graph"]),
        ("./broken/wrong_type.py:two_argument_factory", ["takes no argument or one", "(config, other)"]),
        ("./broken/wrong_type.py:uncompilable", ["cannot compile the StateGraph", "entrypoint"]),
        ("./broken/wrong_type.py", ["expected './file.py:attr' or 'package.module:attr'"]),
    ],
)
def test_broken_entry_message(spec: str, expected: list[str]) -> None:
    message = load_error(spec)
    for fragment in expected:
        assert fragment in message


def test_graph_load_error_is_shown_like_any_config_error() -> None:
    assert issubclass(GraphLoadError, ConfigError)


def test_a_failed_import_leaves_no_half_module_behind() -> None:
    load_error("./broken/raises_at_import.py:graph")
    assert not [name for name in sys.modules if "raises_at_import" in name]


def test_one_broken_entry_fails_the_whole_load() -> None:
    config = AegraConfig(graphs={"fine": "./broken/wrong_type.py:valid_graph", "bad": "./broken/wrong_type.py:number"})
    with pytest.raises(GraphLoadError, match="Graph 'bad'"):
        GraphRegistry.load(config, TEST_GRAPHS_DIR)


async def test_factory_returning_a_non_graph_fails_when_called() -> None:
    config = AegraConfig(graphs={"broken": "./broken/wrong_type.py:factory_returning_string"})
    registry = GraphRegistry.load(config, TEST_GRAPHS_DIR)
    with pytest.raises(GraphLoadError, match=r"factory_returning_string returned str, not a graph"):
        async with registry.graph("broken"):
            pass


async def test_keep_broken_serves_the_others_and_answers_the_load_error(caplog: pytest.LogCaptureFixture) -> None:
    from aegra.graphs.errors import GraphUnavailableError

    config = AegraConfig(graphs={"fine": "./broken/wrong_type.py:valid_graph", "bad": "./broken/syntax_error.py:graph"})
    registry = GraphRegistry.load(config, TEST_GRAPHS_DIR, keep_broken=True)
    assert registry.graph_ids == ["fine", "bad"]
    registry.require_loaded("fine")
    async with registry.graph("fine") as graph:
        assert graph is not None
    with pytest.raises(GraphUnavailableError) as unavailable:
        registry.require_loaded("bad")
    assert unavailable.value.status_code == 503 and "SyntaxError" in unavailable.value.detail
    with pytest.raises(GraphUnavailableError, match="Graph 'bad'"):
        async with registry.graph("bad"):
            pass
    [logged] = [r.getMessage() for r in caplog.records if "Graph 'bad'" in r.getMessage()]
    assert "SyntaxError" in logged and "\n" not in logged
