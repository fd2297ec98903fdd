"""Shift swaps, and the roster's own SMS (reminders, change notices, swap notices)
with the cursors that say how far they were planned

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "roster_cursors",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("until", UTC, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roster_cursors")),
    )
    op.create_table(
        "roster_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("shift_start", UTC, nullable=True),
        sa.Column("swap_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("uncertain_since", UTC, nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_messages")),
        sa.UniqueConstraint("key", name="uq_roster_messages_key"),
    )
    op.create_index(
        op.f("ix_roster_messages_lease_until"), "roster_messages", ["lease_until"], unique=False
    )
    op.create_index(
        op.f("ix_roster_messages_person_id"), "roster_messages", ["person_id"], unique=False
    )
    op.create_index(
        "ix_roster_messages_status_due_at", "roster_messages", ["status", "due_at"], unique=False
    )
    op.create_index(
        op.f("ix_roster_messages_swap_id"), "roster_messages", ["swap_id"], unique=False
    )
    op.create_table(
        "swaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=True),
        sa.Column("layer", sa.String(length=16), nullable=False),
        sa.Column("start", UTC, nullable=False),
        sa.Column("end", UTC, nullable=False),
        sa.Column("offerer_id", sa.String(length=64), nullable=False),
        sa.Column("taker_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("offered_by", sa.String(length=128), nullable=False),
        sa.Column("taken_by", sa.String(length=128), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("override_id", sa.String(length=64), nullable=True),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swaps")),
        sa.UniqueConstraint("open_key", name=op.f("uq_swaps_open_key")),
    )
    op.create_index(op.f("ix_swaps_offerer_id"), "swaps", ["offerer_id"], unique=False)
    op.create_index(op.f("ix_swaps_taker_id"), "swaps", ["taker_id"], unique=False)
    op.create_index("ix_swaps_region_state", "swaps", ["region_id", "state"], unique=False)
    op.create_index("ix_swaps_state_expires_at", "swaps", ["state", "expires_at"], unique=False)
    op.create_index("ix_swaps_team_state", "swaps", ["team_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_table("swaps")
    op.drop_table("roster_messages")
    op.drop_table("roster_cursors")
