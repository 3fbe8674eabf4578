"""Deliberately invalid Python (excluded from ruff by ./ruff.toml)."""

graph = (
