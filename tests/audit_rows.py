"""Cleaning up audit rows a test committed for real (outside the rolled-back test
transaction). The application can never do this: on PostgreSQL a trigger refuses DELETE
on audit_log. A test, as superuser, sets the session replication role to ``replica`` for
its cleanup transaction only, which skips ordinary triggers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dispatch.models import AuditLog


def delete_audit_rows(conn: Connection | Session, where: ColumnElement[Any] | None = None) -> None:
    """Delete the matching rows (all without ``where``) in the caller's transaction."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    statement = delete(AuditLog)
    conn.execute(statement if where is None else statement.where(where))
