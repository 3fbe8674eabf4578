"""Alembic environment. Aegra passes an open connection in `config.attributes["connection"]`
(see aegra/db/migrate.py); running `alembic` by hand is not supported — use `aegra db`."""

from __future__ import annotations

from alembic import context

from aegra.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `aegra db upgrade` (aegra.db.migrate), not the alembic CLI")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
