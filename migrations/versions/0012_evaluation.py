"""Evaluation facts: one row per dispatch, derived from its events (the evaluation
report reads these instead of a year of raw events), filled from the existing log

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_facts",
        sa.Column("dispatch_id", sa.String(length=36), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("basisteam_id", sa.String(length=64), nullable=True),
        sa.Column("case_type", sa.String(length=4), nullable=True),
        sa.Column("plan_status", sa.String(length=24), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("police_call", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("received_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_accept_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("declines", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unanswered", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_evaluation_facts_dispatch_id_dispatches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dispatch_id", name=op.f("pk_evaluation_facts")),
    )
    with op.batch_alter_table("evaluation_facts", schema=None) as batch_op:
        # covering: the report reads a region's period from the index alone
        batch_op.create_index(
            "ix_evaluation_facts_region_received",
            [
                "region_id",
                "received_at",
                "team_id",
                "outcome",
                "police_call",
                "first_accept_at",
                "arrived_at",
                "declines",
                "unanswered",
                "dispatch_id",
            ],
            unique=False,
        )
    # Incidents already in the log get their facts now, folded by the same code the
    # live projection and `samenop evaluation rebuild` use (nothing to do on a new
    # database).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM events LIMIT 1")).first() is not None:
        from dispatch import evaluation_store

        evaluation_store.rebuild(Session(bind=bind))


def downgrade() -> None:
    with op.batch_alter_table("evaluation_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_facts_region_received")
    op.drop_table("evaluation_facts")
