"""The showcase's tables (SQLAlchemy Core); the migrations create them."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ("activity", "digests", "metadata", "tasks")

metadata = sa.MetaData()

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tasks_tenant_created", "tenant", "created_at"),
)
"""One row per task; every query names the tenant."""

activity = sa.Table(
    "activity",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("task_id", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("replica", sa.String(200), nullable=False),
    sa.Index("ix_activity_tenant_seq", "tenant", "seq"),
)
"""What the event subscriber recorded: one row per event (its id is unique, so a
redelivered event is recorded once)."""

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("tick", sa.DateTime(timezone=True), nullable=False),
    sa.Column("open", sa.Integer, nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("overdue", sa.Integer, nullable=False),
    sa.Column("replica", sa.String(200), nullable=False),
    sa.Index("ix_digests_tenant_tick", "tenant", "tick"),
)
"""One row per tenant per run of the digest job (no unique key on purpose: a tick that
ran twice would show as two rows)."""
