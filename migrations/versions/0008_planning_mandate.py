"""Teams' planning rules (rest, fairness, swaps, reminders) and first-hour mandate;
an account's e-mail address for the planners' daily digest

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("planning", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("mandate", sa.JSON(), nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("mandate")
        batch.drop_column("planning")
