"""Initial schema: assistants (with versions), threads, runs, crons.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, **kwargs: Any) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), **kwargs)


def _json(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("'{}'")
    return sa.Column(name, JSONB(), nullable=nullable, server_default=default)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "assistants",
        _id("assistant_id", nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _json("config"),
        _json("context"),
        _json("metadata"),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("assistant_id", name="pk_assistants"),
    )
    op.create_index("ix_assistants_graph_id", "assistants", ["graph_id"])
    op.create_index("ix_assistants_name", "assistants", ["name"])
    op.create_index("ix_assistants_created_at", "assistants", ["created_at"])
    op.create_index("ix_assistants_updated_at", "assistants", ["updated_at"])
    op.create_index("ix_assistants_metadata_gin", "assistants", ["metadata"], postgresql_using="gin")

    op.create_table(
        "assistant_versions",
        _id("assistant_id", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("graph_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _json("config"),
        _json("context"),
        _json("metadata"),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["assistants.assistant_id"],
            name="fk_assistant_versions_assistant_id_assistants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assistant_id", "version", name="pk_assistant_versions"),
    )

    op.create_table(
        "threads",
        _id("thread_id", nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("state_updated_at", nullable=True),
        _json("metadata"),
        _json("config"),
        sa.Column("status", sa.String(16), nullable=False),
        _json("values", nullable=True),
        _json("interrupts"),
        sa.Column("ttl_minutes", sa.Float(), nullable=True),
        sa.Column("ttl_strategy", sa.String(16), nullable=True),
        _time("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("thread_id", name="pk_threads"),
    )
    op.create_index("ix_threads_status", "threads", ["status"])
    op.create_index("ix_threads_created_at", "threads", ["created_at"])
    op.create_index("ix_threads_updated_at", "threads", ["updated_at"])
    op.create_index("ix_threads_expires_at", "threads", ["expires_at"])
    op.create_index("ix_threads_metadata_gin", "threads", ["metadata"], postgresql_using="gin")

    op.create_table(
        "runs",
        _id("run_id", nullable=False),
        _id("thread_id", nullable=False),
        _id("assistant_id", nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _json("metadata"),
        _json("kwargs"),
        sa.Column("multitask_strategy", sa.String(16), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        _json("error", nullable=True),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.thread_id"], name="fk_runs_thread_id_threads", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_assistant_id", "runs", ["assistant_id"])
    op.create_index("ix_runs_status_created_at", "runs", ["status", "created_at"])
    op.create_index("ix_runs_thread_id_created_at", "runs", ["thread_id", "created_at"])

    op.create_table(
        "crons",
        _id("cron_id", nullable=False),
        _id("assistant_id", nullable=False),
        _id("thread_id", nullable=True),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        _time("end_time", nullable=True),
        _json("payload"),
        _json("metadata"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("on_run_completed", sa.String(16), nullable=True),
        _time("next_run_date", nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["assistants.assistant_id"],
            name="fk_crons_assistant_id_assistants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.thread_id"], name="fk_crons_thread_id_threads", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cron_id", name="pk_crons"),
    )
    op.create_index("ix_crons_assistant_id", "crons", ["assistant_id"])
    op.create_index("ix_crons_thread_id", "crons", ["thread_id"])
    op.create_index("ix_crons_enabled_next_run_date", "crons", ["enabled", "next_run_date"])


def downgrade() -> None:
    for table in ("crons", "runs", "threads", "assistant_versions", "assistants"):
        op.drop_table(table)
