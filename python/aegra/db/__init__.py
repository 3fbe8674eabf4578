"""Persistence: engines, models, migrations (PostgreSQL) and the LangGraph checkpointer."""
