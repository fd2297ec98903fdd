"""Tables for who can be asked. Nested rule details (windows, age, exceptions) are JSON;
everything that is referenced (regions, teams, people, municipalities) is relational,
so the database refuses a rule for a team that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    office_hours: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    no_accept_alarm_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Municipality(Base):
    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Basisteam(Base):
    __tablename__ = "basisteams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[str] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class BasisteamMunicipality(Base):
    __tablename__ = "basisteam_municipalities"

    basisteam_id: Mapped[str] = mapped_column(
        ForeignKey("basisteams.id", ondelete="CASCADE"), primary_key=True
    )
    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipalities.code", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[str | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    office_hours: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    providers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    planning: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    mandate: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    contact_points: Mapped[list[ContactPoint]] = relationship(
        order_by="ContactPoint.position", cascade="all, delete-orphan", lazy="selectin"
    )
    memberships: Mapped[list[Membership]] = relationship(
        order_by="Membership.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ContactPoint(Base):
    """A way to reach a person; phone numbers are stored as E.164."""

    __tablename__ = "contact_points"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="phone")
    value: Mapped[str] = mapped_column(String(32))


class Membership(Base):
    __tablename__ = "memberships"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(32), default="worker")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Rotation(Base):
    __tablename__ = "rotations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    layer: Mapped[str] = mapped_column(String(16), default="primary")
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handoff: Mapped[dict[str, Any]] = mapped_column(JSON)
    windows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    holidays: Mapped[str] = mapped_column(String(16), default="open")
    position: Mapped[int] = mapped_column(Integer, default=0)

    participants: Mapped[list[RotationParticipant]] = relationship(
        order_by="RotationParticipant.position", cascade="all, delete-orphan", lazy="selectin"
    )


class RotationParticipant(Base):
    __tablename__ = "rotation_participants"

    rotation_id: Mapped[str] = mapped_column(
        ForeignKey("rotations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)


class Shift(Base):
    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    layer: Mapped[str] = mapped_column(String(16), default="primary")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Override(Base):
    __tablename__ = "overrides"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    replaces_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id", ondelete="RESTRICT"), nullable=True
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    layer: Mapped[str] = mapped_column(String(16), default="primary")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CoverageRule(Base):
    __tablename__ = "coverage_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="respond")
    priority: Mapped[int] = mapped_column(Integer, default=100)
    consult_team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), nullable=True
    )
    # area, case types, hours, windows, holidays, age, exceptions, mode, staff, description
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ConfigState(Base):
    """A single row whose version changes with every configuration write.

    API processes cache the pairing snapshot per version, so a planner's change is
    seen by the next incident without restarting anything.
    """

    __tablename__ = "config_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConfigVersion(Base):
    """Every configuration write, kept: the whole configuration as it was after the
    write, what changed against the version before, who wrote it and when. A rollback
    is a new version equal to an older one (``rollback_of``)."""

    __tablename__ = "config_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    author: Mapped[str] = mapped_column(String(160))
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    rollback_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {section: {added: n, removed: n, changed: n}}: listings read this, not the diff.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
