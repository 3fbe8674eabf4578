"""Field paths: both backends give exactly LangGraph's `get_text_at_path` output."""

from __future__ import annotations

import math
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.store.base.embed import get_text_at_path as reference_texts
from langgraph.store.base.embed import tokenize_path as reference_tokens

from aegra import vec
from aegra.vec._backend import available

BACKENDS = available()

# Keys and path pieces drawn from one small alphabet, so random paths hit random values.
KEYS = ["a", "b", "c", "x", "y", "[0]", "*", " a", "$", "é", "{a}", "1"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    max_leaves=25,
)
# Store values are dicts; lists right under them make indexes and wildcards matter.
documents = st.dictionaries(
    st.sampled_from(KEYS), st.lists(json_values, min_size=1, max_size=4) | json_values, min_size=1, max_size=5
)
PIECES = [*KEYS, ".", "[0]", "[1]", "[-1]", "[-9]", "[*]", "[x]", "[]", "[ 1 ]", "[+1]", "[1_0]", "[٣]"]
PIECES += ["[99999999999999999999]", "{a,b}", "{a, b.c}", "{ x ,[0]}", "{a,{b}}", "{}", "*", "[", "{", "]", "}"]
PIECES += [",", "\x1c", "\u3000"]
path_pieces = st.sampled_from(PIECES)
random_paths = st.lists(path_pieces, max_size=6).map("".join) | st.text(alphabet="ab.[]{}*,-0123 $x", max_size=12)


@st.composite
def paths_into(draw: st.DrawFn, value: Any) -> str:
    """A path that follows `value`'s own keys and indexes down, with wildcards and random detours."""
    path, node = "", value
    for _ in range(6):
        if isinstance(node, dict) and node:
            keys = sorted(node)
            deeper = [key for key in keys if isinstance(node[key], list | dict) and node[key]]
            key = draw(st.sampled_from(deeper if deeper and draw(st.booleans()) else keys))
            step = draw(st.sampled_from([f".{key}", f".{key}", ".*", "{" + ",".join(keys[:2]) + "}"]))
            node = node[key] if step == f".{key}" else None
        elif isinstance(node, list) and node:
            i = draw(st.integers(-len(node), len(node) - 1))
            step = draw(st.sampled_from([f"[{i}]", f"[{i}]", "[*]", ".*"]))
            node = node[i] if step == f"[{i}]" else None
        else:
            break
        path += step
        if draw(st.integers(0, 7)) == 0:
            path += draw(path_pieces)
            break
    return path.removeprefix(".")


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=600, deadline=None)
@given(data=st.data(), value=documents | json_values)
def test_texts_equal_langgraph_on_random_json_and_paths(backend: str, data: st.DataObject, value: Any) -> None:
    path = data.draw(paths_into(value) | random_paths)
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.tokenize_path(path) == reference_tokens(path)
        assert vec.get_text_at_path(value, path) == reference_texts(value, path)
        tokens = reference_tokens(path)
        assert vec.get_text_at_path(value, tokens) == reference_texts(value, tokens)


DEEP = {
    "a": {"b": {"c": "deep", "n": None, "l": [1, 2.5, True, None, {"z": "é"}]}},
    "list": ["first", {"k": [10, 20]}, "last"],
    "tags": ["x", "y"],
    "num": 3,
    "t": (1, 2),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "path",
    [
        "$",
        "",
        "a.b.c",
        "a.b.n",
        "a.b.l",
        "a.b.l[*]",
        "a.b.l[-1].z",
        "list[0]",
        "list[-1]",
        "list[1].k[*]",
        "list[7]",
        "tags[*]",
        "*",
        "a.*.c",
        "{num, tags, a.b.c, missing, t}",
        "a.b.{c,l}",
        "t",
        "t[0]",
        "..",
        "num[0]",
    ],
)
def test_texts_equal_langgraph_on_chosen_paths(backend: str, path: str) -> None:
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.get_text_at_path(DEEP, path) == reference_texts(DEEP, path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaves_are_formatted_by_python(backend: str) -> None:
    value = {"f": 0.1, "big": 10**40, "nan": math.nan, "b": False, "d": {"z": 1, "a": ["ü", None]}}
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.get_text_at_path(value, "{f,big,nan,b}") == ["0.1", str(10**40), "nan", "False"]
        assert vec.get_text_at_path(value, "d") == ['{"a": ["ü", null], "z": 1}']
        assert vec.get_text_at_path(value, "$") == reference_texts(value, "$")


@pytest.mark.parametrize("backend", BACKENDS)
def test_mappings_are_converted_at_the_top_only(backend: str) -> None:
    value = MappingProxyType({"a": OrderedDict(b="x"), "c": MappingProxyType({"d": "y"})})
    with vec.using(backend):  # type: ignore[arg-type]
        for path in ["a.b", "c.d", "*"]:
            assert vec.get_text_at_path(value, path) == reference_texts(value, path)
        assert vec.get_text_at_path(value, "a.b") == ["x"]  # an OrderedDict is a dict
        assert vec.get_text_at_path(value, "c.d") == []  # a nested mappingproxy is not


@pytest.mark.parametrize("backend", BACKENDS)
def test_unserializable_values_fail_as_in_langgraph(backend: str) -> None:
    value = {"a": [object()]}
    with pytest.raises(TypeError), vec.using(backend):  # type: ignore[arg-type]
        vec.get_text_at_path(value, "a")
    with vec.using(backend):  # type: ignore[arg-type]
        assert vec.get_text_at_path(value, "a[0]") == reference_texts(value, "a[0]") == []
