"""Incidents from the police feed, their dispatch (the plan), its candidates and the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime
from dispatch.states import AssignmentStatus, PageKind, PagingState, Stage

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Incident(Base):
    """What the police feed told us, minimised: roles and ages, never names or addresses."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_incidents_source_external"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    basisteam_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    case_type: Mapped[str] = mapped_column(String(4))
    persons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON)
    police_unit: Mapped[str] = mapped_column(String(64))
    police_callback: Mapped[str] = mapped_column(String(20))
    # Who sent it (an API key or account, as "key:name"): a feed reads only its own.
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # When retention removed the personal data (dispatch.retention); the row stays with
    # the anonymous facts the evaluation needs.
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    dispatch: Mapped[Dispatch] = relationship(back_populates="incident", uselist=False)


class Dispatch(Base):
    """The answer to one incident: the stored plan, with a reason for every decision."""

    __tablename__ = "dispatches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    region_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    staff_needed: Mapped[int] = mapped_column(Integer, default=0)
    config_version: Mapped[int] = mapped_column(Integer)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    # Where paging stands: pending, consult, respond, accepted, partial, no_responder.
    paging_state: Mapped[str] = mapped_column(
        String(16), default=PagingState.PENDING, server_default="pending", index=True
    )
    # Frozen at intake: the escalation policy and people needed per phase, and the
    # facts a page may carry (reference, municipality name, case type, mode).
    paging: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The joint response (dispatch.lifecycle): the current step and what each step recorded.
    stage: Mapped[str] = mapped_column(
        String(24), default=Stage.MELDING, server_default="melding", index=True
    )
    stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    safe_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consult_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)  # phone | video
    consult_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    police_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    agreements: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    handover: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # When "Nog niemand aangenomen" is raised if no responder accepted by then; cleared
    # (NULL) once it is raised or someone accepts, so the sweeper's question stays small.
    accept_alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # The control room's answer to "Half bezet": alone | phone.
    half_staffed_decision: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The control room's "Veiligheid voorop" ticks: item -> {"at", "by"} (dispatch.lifecycle).
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What helped and what was missing, by who closed: role -> {"helped", "missing", "at"}.
    # Free text: never in an event, a message or a log; cleared by retention.
    evaluation_note: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    incident: Mapped[Incident] = relationship(back_populates="dispatch")
    assignments: Mapped[list[Assignment]] = relationship(
        order_by="Assignment.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Assignment(Base):
    """One person (or line) to ask, in order: the queue escalation walks through."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispatch_id: Mapped[str] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))  # respond | consult | team_line
    team_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    mode: Mapped[str] = mapped_column(String(16))
    layer: Mapped[str] = mapped_column(String(16))
    # planned, paging, accepted, declined, unreached, cancelled
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.PLANNED)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enroute_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Page(Base):
    """One message to one phone: a call or an SMS, in one round of one assignment.

    The row is the truth about a page; queues only wake work it describes. ``due_at``
    says when it should go out, ``deadline_at`` when the attempt it belongs to runs
    out of time, ``lease_until`` how long a sender may hold its claim before another
    process may take it over (after asking the provider what already went out).
    """

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("assignment_id", "round", "channel", name="uq_pages_attempt_channel"),
        # The sweeper's questions, asked every fraction of a second: what is due by now,
        # which deadlines passed, whose claim lapsed. Old pages must not slow them down.
        Index("ix_pages_status_due_at", "status", "due_at"),
        Index("ix_pages_status_deadline_at", "status", "deadline_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dispatch_id: Mapped[str] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), index=True
    )
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))  # voice | sms
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order of the channel in its attempt
    # "page" asks a person (escalation walks these); "confirmation" is the SMS telling the
    # worker who accepted whom to call (dispatch.contact): delivered the same way, never
    # part of escalation, round -1 so the attempt constraint allows one per assignment.
    kind: Mapped[str] = mapped_column(String(16), default=PageKind.PAGE, server_default="page")
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # scheduled, sending, sent, delivered, answered | accepted, declined, failed, expired,
    # cancelled (the last five are final)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    validity_seconds: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    # A send whose outcome is unknown (a timeout) began at this time, through
    # ``provider``: before anything is sent again, that provider is asked what went out.
    uncertain_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Since when sending this page has failed because no provider could be reached;
    # cleared when a provider takes it. The outage alarm is raised from it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # The provider that carried the page (or that may have it, while uncertain).
    provider: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    provider_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alarm(Base):
    """An alarm on a dispatch the control room must act on, one row per kind: raised and
    cleared (and raised again) in place; the events keep its history."""

    __tablename__ = "alarms"
    __table_args__ = (UniqueConstraint("dispatch_id", "kind", name="uq_alarms_dispatch_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispatch_id: Mapped[str] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookReceipt(Base):
    """Webhooks already applied, by idempotency key: a redelivery changes nothing."""

    __tablename__ = "webhook_receipts"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # What we answered the first time, so a redelivery gets the same answer.
    response: Mapped[str | None] = mapped_column(Text, nullable=True)


class InboundSms(Base):
    """SMS replies from workers' phones: for rate limiting and the record."""

    __tablename__ = "inbound_sms"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    body: Mapped[str] = mapped_column(String(320))
    result: Mapped[str] = mapped_column(String(24))


class Event(Base):
    """Outbox: every state change writes one in the same transaction; ids only grow."""

    __tablename__ = "events"
    # Never reuse an id on SQLite, even after the newest row is deleted.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    dispatch_id: Mapped[str | None] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), nullable=True, index=True
    )
    type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


AUDIT_LOG_COMMENT = "Append-only: triggers refuse UPDATE, DELETE and TRUNCATE (migration 0007)"


class AuditLog(Base):
    """Who read or changed what: reads of incident details are logged (AVG).

    Append-only: on PostgreSQL a trigger (migration 0007) refuses UPDATE, DELETE and
    TRUNCATE, so not even the application can rewrite it. Ids only, no personal data.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
        {"sqlite_autoincrement": True, "comment": AUDIT_LOG_COMMENT},
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    # account | key | worker | demo | cli | system, and the role it acted in.
    actor_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    actor_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Where the request came from (X-Forwarded-For only behind a trusted proxy).
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class EvaluationFact(Base):
    """One incident as the evaluation counts it: a projection of its events (never a
    counter kept by hand), written in the transaction that writes the events
    (``dispatch.evaluation_store``) and rebuildable from them (``samenop evaluation
    rebuild``). Anonymous by construction (ids, times, counts), so retention leaves it."""

    __tablename__ = "evaluation_facts"
    # A region's period is read through this index alone (it holds every column the
    # report reads): a year of a region is thousands of rows spread over the table.
    __table_args__ = (
        Index(
            "ix_evaluation_facts_region_received",
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
        ),
    )

    dispatch_id: Mapped[str] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    basisteam_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_type: Mapped[str | None] = mapped_column(String(4), nullable=True)
    plan_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    police_call: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_accept_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    declines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Times paging ended with nobody accepting (dispatch.no_responder events).
    unanswered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
