"""Paging under provider trouble: uncertain and failing sends on pages, alarms per
dispatch, when "Nog niemand aangenomen" is due (a region may set its own minutes), and
a team's own paging providers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

UTCDateTime = core.db.UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uncertain_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("failing_since", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_pages_failing_since", ["failing_since"], unique=False)
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accept_alarm_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("half_staffed_decision", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_dispatches_accept_alarm_at", ["accept_alarm_at"], unique=False)
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispatch_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name="fk_alarms_dispatch_id_dispatches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
        sa.UniqueConstraint("dispatch_id", "kind", name="uq_alarms_dispatch_kind"),
    )
    op.create_index("ix_alarms_dispatch_id", "alarms", ["dispatch_id"], unique=False)
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_accept_alarm_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("providers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("providers")
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_column("no_accept_alarm_minutes")
    op.drop_index("ix_alarms_dispatch_id", table_name="alarms")
    op.drop_table("alarms")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatches_accept_alarm_at")
        batch_op.drop_column("half_staffed_decision")
        batch_op.drop_column("accept_alarm_at")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index("ix_pages_failing_since")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("uncertain_since")
