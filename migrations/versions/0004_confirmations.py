"""Contact exchange: pages gain a kind, so the SMS confirming an accept is delivered
like a page without taking part in escalation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="page")
        )


def downgrade() -> None:
    op.execute("DELETE FROM pages WHERE kind != 'page'")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_column("kind")
