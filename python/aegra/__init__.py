"""Aegra: a self-hosted LangGraph agent server (the LangGraph Platform API on SQLite or PostgreSQL)."""

__version__ = "0.12.0"
