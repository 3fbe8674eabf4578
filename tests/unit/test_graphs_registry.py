"""GraphRegistry: entry styles, dependencies, factories, binding persistence, assistant ids."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.memory import InMemoryStore

from aegra.config_schema import AegraConfig, GraphSpec
from aegra.graphs import GraphLoadError, GraphNotFoundError, GraphRegistry, system_assistant_id
from tests.graphs import TEST_GRAPHS_DIR, load_test_graphs

GREETING_GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph

class State(TypedDict, total=False):
    out: str

def answer(state: State) -> State:
    return {"out": ANSWER}

builder = StateGraph(State)
builder.add_node("answer", answer)
builder.set_entry_point("answer")
graph = builder.compile()
"""


def greeting_graph(answer: str) -> str:
    return f"ANSWER = {answer!r}\n{GREETING_GRAPH}"


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))


def load(base_dir: Path, graphs: dict[str, str], dependencies: list[str] | None = None) -> GraphRegistry:
    config = AegraConfig(graphs=dict(graphs), dependencies=dependencies or [])
    return GraphRegistry.load(config, base_dir)


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo what loading a temp project does to `sys.path` and `sys.modules`."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    # Only the project's own modules: dropping library modules would re-import them later as
    # new class objects.
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


async def run(registry: GraphRegistry, graph_id: str, value: dict, config: RunnableConfig | None = None) -> dict:
    async with registry.graph(graph_id, config) as graph:
        return await graph.ainvoke(value, config)


# --- the shared test graph set ---


def test_loads_every_test_graph_in_config_order() -> None:
    registry = load_test_graphs()
    assert registry.graph_ids == [
        "agent",
        "interrupting",
        "subgraph_parent",
        "factory",
        "factory_context",
        "custom_schema",
        "failing",
        "slow",
        "occupancy",
        "store_user",
        "module_style",
        "tool_agent",
        "steps",
    ]
    assert "agent" in registry
    assert "nope" not in registry
    assert registry.description("agent") == "Chat with a fake model that streams its reply"
    assert registry.description("interrupting") is None
    assert registry.is_factory("factory") and registry.is_factory("factory_context")
    assert not registry.is_factory("agent")


async def test_unknown_graph_id_is_a_lookup_error() -> None:
    registry = load_test_graphs()
    with pytest.raises(GraphNotFoundError, match="'nope' is not configured"):
        registry.description("nope")
    with pytest.raises(LookupError):
        async with registry.graph("nope"):
            pass


async def test_graph_binds_checkpointer_and_store_on_a_copy() -> None:
    registry = load_test_graphs()
    saver, store = InMemorySaver(), InMemoryStore()
    async with registry.graph("agent", checkpointer=saver, store=store) as bound:
        assert bound.checkpointer is saver
        assert bound.store is store
        assert bound.name == "agent"  # unnamed graphs take their graph id
    async with registry.graph("agent") as plain:
        assert plain is not bound
        assert plain.checkpointer is None
        assert plain.store is None


async def test_each_copy_has_its_own_config_dicts(tmp_path: Path, isolated_imports: None) -> None:
    write(tmp_path, {"g.py": greeting_graph("x") + 'graph = graph.with_config(metadata={"team": "a"})\n'})
    registry = load(tmp_path, {"g": "./g.py:graph"})
    async with registry.graph("g") as first:
        assert first.config is not None
        first.config["metadata"]["polluted"] = True
    async with registry.graph("g") as second:
        assert second.config is not None
        assert second.config["metadata"] == {"team": "a"}


async def test_named_graph_keeps_its_name(tmp_path: Path, isolated_imports: None) -> None:
    write(tmp_path, {"g.py": greeting_graph("x") + 'graph = builder.compile(name="Custom")\n'})
    async with load(tmp_path, {"g": "./g.py:graph"}).graph("g") as graph:
        assert graph.name == "Custom"


async def test_state_graph_entry_is_compiled() -> None:
    registry = load(TEST_GRAPHS_DIR, {"builder_entry": "./failing.py:builder"})
    assert not registry.is_factory("builder_entry")
    async with registry.graph("builder_entry") as graph:
        assert isinstance(graph, CompiledStateGraph)
        assert set(graph.nodes) == {"__start__", "explode"}


# --- factories ---


@pytest.mark.parametrize(
    ("attr", "greeting"),
    [
        ("make_graph", "hey"),
        ("make_graph_sync", "hey"),
        ("make_graph_without_config", "hi"),
        ("graph_context", "hey"),
        ("graph_sync_context", "hey"),
    ],
)
async def test_factory_styles(attr: str, greeting: str) -> None:
    registry = load(TEST_GRAPHS_DIR, {"f": f"./factory.py:{attr}"})
    assert registry.is_factory("f")
    result = await run(registry, "f", {"name": "Ann"}, {"configurable": {"greeting": "hey"}})
    assert result["greeting"] == f"{greeting}, Ann"


async def test_factory_is_called_per_run_with_that_runs_config() -> None:
    registry = load_test_graphs()
    for greeting in ("one", "two"):
        result = await run(registry, "factory", {"name": "A"}, {"configurable": {"greeting": greeting}})
        assert result["greeting"] == f"{greeting}, A"
    assert (await run(registry, "factory", {"name": "A"}))["greeting"] == "hello, A"


async def test_factory_sees_config_in_context_and_cannot_change_the_callers(
    tmp_path: Path, isolated_imports: None
) -> None:
    write(
        tmp_path,
        {
            "f.py": greeting_graph("x")
            + dedent("""
                from langgraph.config import get_config

                SEEN = []

                def make(config):
                    SEEN.append(get_config()["configurable"].get("user"))
                    config["configurable"]["added_by_factory"] = True
                    return graph
            """)
        },
    )
    registry = load(tmp_path, {"f": "./f.py:make"})
    config: RunnableConfig = {"configurable": {"user": "ann"}}
    async with registry.graph("f", config):
        pass
    assert config == {"configurable": {"user": "ann"}}
    module = next(m for name, m in sys.modules.items() if name.startswith("aegra_graph_f_"))
    assert module.SEEN == ["ann"]


async def test_context_manager_factory_stays_open_for_the_block() -> None:
    from tests.graphs import factory

    registry = load_test_graphs()
    factory.LIFECYCLE.clear()
    config: RunnableConfig = {"configurable": {"greeting": "cm", "thread_id": "t"}}
    async with registry.graph("factory_context", config, checkpointer=InMemorySaver()) as graph:
        assert factory.LIFECYCLE == ["enter cm"]
        assert (await graph.ainvoke({"name": "Bo"}, config))["greeting"] == "cm, Bo"
    assert factory.LIFECYCLE == ["enter cm", "exit cm"]

    factory.LIFECYCLE.clear()
    with pytest.raises(RuntimeError, match="boom"):
        async with registry.graph("factory_context", config):
            raise RuntimeError("boom")
    assert factory.LIFECYCLE == ["enter cm", "exit cm"]


# --- imports and dependencies ---


def test_dependencies_go_first_on_sys_path(tmp_path: Path, isolated_imports: None) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    load(tmp_path, {}, dependencies=["./one", "two"])
    assert sys.path[:2] == [str((tmp_path / "one").resolve()), str((tmp_path / "two").resolve())]


def test_missing_dependency_folder_is_an_error(tmp_path: Path, isolated_imports: None) -> None:
    with pytest.raises(GraphLoadError, match=r"Dependency folder './gone' not found"):
        load(tmp_path, {}, dependencies=["./gone"])


async def test_module_entry_from_dependency_folder_with_relative_imports() -> None:
    registry = load_test_graphs()
    assert str(TEST_GRAPHS_DIR / "deps") in sys.path
    assert await run(registry, "module_style", {"text": "abc"}) == {"text": "ABC"}


def test_file_in_dependency_folder_imports_under_its_package_name() -> None:
    registry = load(
        TEST_GRAPHS_DIR,
        {"by_file": "./deps/aegra_testpkg/chain.py:graph", "by_module": "aegra_testpkg.chain:graph"},
        dependencies=["./deps"],
    )
    assert registry.graph_ids == ["by_file", "by_module"]
    module = sys.modules["aegra_testpkg.chain"]
    assert Path(module.__file__ or "") == TEST_GRAPHS_DIR / "deps" / "aegra_testpkg" / "chain.py"
    # Imported once, under its real name: no synthetic duplicate of the same file.
    assert not [name for name in sys.modules if name.startswith("aegra_graph_chain_")]


async def test_same_file_name_in_two_folders_does_not_clash(tmp_path: Path, isolated_imports: None) -> None:
    write(tmp_path, {"a/graph.py": greeting_graph("from a"), "b/graph.py": greeting_graph("from b")})
    registry = load(tmp_path, {"a": "./a/graph.py:graph", "b": "./b/graph.py:graph"})
    assert await run(registry, "a", {}) == {"out": "from a"}
    assert await run(registry, "b", {}) == {"out": "from b"}


async def test_module_name_taken_by_another_dependency_falls_back_to_the_file(
    tmp_path: Path, isolated_imports: None
) -> None:
    name = f"same_name_{uuid.uuid4().hex[:8]}"
    write(tmp_path, {f"one/{name}.py": greeting_graph("one"), f"two/{name}.py": greeting_graph("two")})
    registry = load(
        tmp_path,
        {"one": f"./one/{name}.py:graph", "two": f"./two/{name}.py:graph"},
        dependencies=["./one", "./two"],
    )
    assert await run(registry, "one", {}) == {"out": "one"}
    assert await run(registry, "two", {}) == {"out": "two"}


async def test_graph_spec_with_description_struct(tmp_path: Path, isolated_imports: None) -> None:
    write(tmp_path, {"g.py": greeting_graph("x")})
    config = AegraConfig(graphs={"g": GraphSpec(path="./g.py:graph", description="About g")})
    registry = GraphRegistry.load(config, tmp_path)
    assert registry.description("g") == "About g"
    assert await run(registry, "g", {}) == {"out": "x"}


# --- system assistant ids ---


def test_system_assistant_id_is_bit_exact_with_langgraph_platform() -> None:
    assert system_assistant_id("agent") == uuid.UUID("fe096781-5601-53d2-b2f6-0d3403f7e9ca")
    assert system_assistant_id("agent").version == 5
    assert system_assistant_id("agent") != system_assistant_id("agent2")


async def test_graph_compiled_with_its_own_checkpointer_gets_the_servers(
    tmp_path: Path, isolated_imports: None, caplog: pytest.LogCaptureFixture
) -> None:
    own = (
        "from langgraph.checkpoint.memory import InMemorySaver\ngraph = builder.compile(checkpointer=InMemorySaver())\n"
    )
    write(tmp_path, {"g.py": greeting_graph("x") + own})
    registry = load(tmp_path, {"g": "./g.py:graph"})
    assert "Graph 'g' (./g.py:graph) was compiled with its own checkpointer" in caplog.text
    saver = InMemorySaver()
    async with registry.graph("g", checkpointer=saver) as graph:
        assert graph.checkpointer is saver
