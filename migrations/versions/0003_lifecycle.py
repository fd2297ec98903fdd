"""Joint-response lifecycle: the dispatch's stage and what each step recorded

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DISPATCH_TIMES = ("stage_at", "safe_at", "consult_at", "arrived_at", "police_left_at", "closed_at")
_ASSIGNMENT_TIMES = ("eta_at", "enroute_at", "arrived_at")


def _time(name: str) -> sa.Column:
    return sa.Column(name, core.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=24), nullable=False, server_default="melding")
        )
        for name in _DISPATCH_TIMES:
            batch_op.add_column(_time(name))
        batch_op.add_column(sa.Column("consult_kind", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("agreements", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("handover", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_dispatches_stage"), ["stage"], unique=False)

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        for name in _ASSIGNMENT_TIMES:
            batch_op.add_column(_time(name))


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        for name in reversed(_ASSIGNMENT_TIMES):
            batch_op.drop_column(name)

    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatches_stage"))
        batch_op.drop_column("closed_by")
        batch_op.drop_column("handover")
        batch_op.drop_column("agreements")
        batch_op.drop_column("consult_kind")
        for name in reversed(_DISPATCH_TIMES):
            batch_op.drop_column(name)
        batch_op.drop_column("stage")
