"""Metadata/values containment: SQLite's unrolled SQL and PostgreSQL's `@>` both equal `contains()`."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from advanced_alchemy.types import JsonB
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from aegra.config import database_from_env
from aegra.db.engine import Database
from aegra.db.json_filters import contains, json_contains

SCALARS: list[Any] = [0, 1, 2, 1.5, -3, "a", "b", "1", "", "x y", True, False, None]
KEYS = ["k", "owner", "a.b", "tags", "n", "with space"]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def random_document(rng: random.Random) -> dict[str, Any]:
    return {rng.choice(KEYS): random_json(rng, 1) for _ in range(rng.randint(0, 4))}


def sub_filter(rng: random.Random, value: Any) -> Any:
    """A filter made from part of a document, so that many filters match something."""
    if isinstance(value, dict) and value:
        keys = rng.sample(sorted(value), rng.randint(1, len(value)))
        return {k: sub_filter(rng, value[k]) for k in keys}
    if isinstance(value, list) and value:
        return [sub_filter(rng, v) for v in rng.sample(value, rng.randint(1, len(value)))]
    return value


def test_reference_follows_jsonb_rules() -> None:
    assert contains({"a": 1, "b": 2}, {"a": 1})
    assert contains({"a": {"b": [1, 2, 3]}}, {"a": {"b": [3, 1]}})
    assert contains({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]})
    assert not contains({"a": 1}, {"a": 1, "b": 2})
    assert not contains({"a": True}, {"a": 1})
    assert not contains({"a": "1"}, {"a": 1})
    assert contains({"a": 1.0}, {"a": 1})
    assert not contains({"a": None}, {"a": False})
    assert not contains({"a": [1]}, {"a": [[1]]})
    assert not contains({"a": [1, 2]}, {"a": 1})
    assert not contains({"a": [[1]]}, {"a": [1]})


@pytest.mark.parametrize("seed", [1, 2])
async def test_sql_matches_reference(database_url: str, seed: int) -> None:
    rng = random.Random(seed)
    documents = [random_document(rng) for _ in range(150)]
    filters = [sub_filter(rng, rng.choice(documents)) for _ in range(120)] + [random_document(rng) for _ in range(60)]
    filters = [f for f in filters if isinstance(f, dict)]

    db = await Database.open(database_from_env({"DATABASE_URL": database_url}, Path.cwd()))
    metadata = MetaData()
    table = Table(f"json_docs_{seed}", metadata, Column("id", Integer, primary_key=True), Column("body", JsonB))
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(table), [{"id": i, "body": d} for i, d in enumerate(documents)])
        dialect = db.engine.dialect.name
        mismatches = []
        async with db.engine.connect() as conn:
            for wanted in filters:
                rows = await conn.execute(select(table.c.id).where(json_contains(table.c.body, wanted, dialect)))
                got = {row[0] for row in rows}
                expected = {i for i, d in enumerate(documents) if contains(d, wanted)}
                if got != expected:
                    mismatches.append((wanted, sorted(got ^ expected)[:5]))
        assert not mismatches, mismatches[:5]
        assert sum(1 for f in filters if any(contains(d, f) for d in documents)) > len(filters) // 2
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
        await db.close()
