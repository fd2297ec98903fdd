"""Configuration versions (every write kept with author, time, diff and the whole
configuration); the audit log append-only (who, in which role, from where, which
region; on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE); when retention
anonymised an incident

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:35:01.794044
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As on the model (dispatch.models.AuditLog), written out: a migration never changes.
AUDIT_LOG_COMMENT = "Append-only: triggers refuse UPDATE, DELETE and TRUNCATE (migration 0007)"

# The audit log is append-only. On PostgreSQL these triggers refuse every UPDATE,
# DELETE and TRUNCATE of audit_log, for every role the application may use (only a
# superuser who disables the trigger on purpose could get round it). SQLite has no
# roles to protect against; there the application simply never updates or deletes.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=160), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_config_versions")),
    )
    with op.batch_alter_table("config_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_versions_at"), ["at"], unique=False)

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("actor_role", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("source_address", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("region_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_log_actor_at", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_log_object", ["object_type", "object_id"], unique=False)

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymized_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(f"COMMENT ON TABLE audit_log IS '{AUDIT_LOG_COMMENT}'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("COMMENT ON TABLE audit_log IS NULL")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("anonymized_at")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_object")
        batch_op.drop_index("ix_audit_log_actor_at")
        batch_op.drop_column("region_id")
        batch_op.drop_column("source_address")
        batch_op.drop_column("actor_role")
        batch_op.drop_column("actor_kind")

    with op.batch_alter_table("config_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_versions_at"))

    op.drop_table("config_versions")
