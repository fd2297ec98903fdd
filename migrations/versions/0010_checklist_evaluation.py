"""Control-room checklist ("Veiligheid voorop" ticks) and evaluation notes on a dispatch

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.add_column(sa.Column("checklist", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("evaluation_note", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.drop_column("evaluation_note")
        batch.drop_column("checklist")
