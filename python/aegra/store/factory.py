"""The store the server runs, built from the `store` section of aegra.json / langgraph.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.store.base import IndexConfig, TTLConfig

from aegra.config_schema import StoreConfig, StoreIndexConfig, StoreTTLConfig
from aegra.store.embeddings import build_embeddings
from aegra.store.sqlite_store import AsyncSqliteStore


def index_config(config: StoreIndexConfig, base_dir: Path) -> IndexConfig:
    """LangGraph's index config with the `embed` string turned into a (lazy) embedder."""
    index: IndexConfig = {"dims": config.dims, "embed": build_embeddings(config.embed, config.dims, base_dir=base_dir)}
    if config.fields is not None:
        index["fields"] = list(config.fields)
    return index


def ttl_config(config: StoreTTLConfig) -> TTLConfig:
    ttl: TTLConfig = {"refresh_on_read": config.refresh_on_read}
    if config.default_ttl is not None:
        ttl["default_ttl"] = config.default_ttl
    if config.sweep_interval_minutes is not None:
        ttl["sweep_interval_minutes"] = config.sweep_interval_minutes
    return ttl


def sqlite_store(db_path: str | Path, config: StoreConfig | None, base_dir: Path, **options: Any) -> AsyncSqliteStore:
    """An `AsyncSqliteStore` on the server's database file (call `await store.setup()` to open it);
    `base_dir` is the config file's folder, against which `./file.py:fn` embedders resolve."""
    index = index_config(config.index, base_dir) if config and config.index else None
    ttl = ttl_config(config.ttl) if config and config.ttl else None
    return AsyncSqliteStore(db_path, index=index, ttl=ttl, **options)
