"""Every state a page, an assignment, a dispatch's paging and an alarm can be in, in one
place. The values are the strings stored in the database (``StrEnum`` members compare
equal to them), so queries and rows need no conversion; code names a state through
these enums, never as a bare string.
"""

from __future__ import annotations

from enum import StrEnum


class PageStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its due time (or for a retry)
    SENDING = "sending"  # claimed by a sender, the provider is being asked
    SENT = "sent"  # the provider took it
    DELIVERED = "delivered"  # an SMS reached the phone
    ANSWERED = "answered"  # a person (not a machine) picked up the call
    ACCEPTED = "accepted"  # this page carried the accept
    DECLINED = "declined"  # this page carried the decline
    FAILED = "failed"  # this channel did not reach the person
    EXPIRED = "expired"  # the attempt's deadline passed
    CANCELLED = "cancelled"  # no longer needed (answered elsewhere, closed, enough people)


OPEN_PAGE = frozenset(
    {
        PageStatus.SCHEDULED,
        PageStatus.SENDING,
        PageStatus.SENT,
        PageStatus.DELIVERED,
        PageStatus.ANSWERED,
    }
)
FINAL_PAGE = frozenset(set(PageStatus) - OPEN_PAGE)
# Out at the phone: the provider has it and nothing final happened yet.
OUT_PAGE = frozenset({PageStatus.SENT, PageStatus.DELIVERED, PageStatus.ANSWERED})
# A page that carried the answer itself (its call may stay up to read the callback).
ANSWERING_PAGE = frozenset({PageStatus.ACCEPTED, PageStatus.DECLINED})


class PageKind(StrEnum):
    PAGE = "page"  # asks a person; escalation walks these
    CONFIRMATION = "confirmation"  # tells a worker who accepted whom to call


class Channel(StrEnum):
    VOICE = "voice"
    SMS = "sms"


class AssignmentStatus(StrEnum):
    PLANNED = "planned"
    PAGING = "paging"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    UNREACHED = "unreached"
    CANCELLED = "cancelled"


class PagingState(StrEnum):
    PENDING = "pending"
    CONSULT = "consult"  # the consult that must agree first is being paged
    RESPOND = "respond"  # the responders are being paged
    ACCEPTED = "accepted"  # everyone needed accepted
    PARTIAL = "partial"  # everybody was tried, fewer accepted than needed
    NO_RESPONDER = "no_responder"  # everybody was tried, nobody accepted
    POLICE_CALL = "police_call"  # nobody is paged: the rule says the police call the line


ACTIVE_PAGING = frozenset({PagingState.CONSULT, PagingState.RESPOND})
# States in which an SMS reply or a link may still answer a page.
ANSWERABLE = frozenset(
    {PagingState.CONSULT, PagingState.RESPOND, PagingState.NO_RESPONDER, PagingState.PARTIAL}
)


class Stage(StrEnum):
    """Where the joint response stands (the toolkit's five steps around it); the order
    is the order they follow (``dispatch.lifecycle`` decides what may follow what)."""

    MELDING = "melding"
    PAGING = "paging"
    ACCEPTED = "accepted"
    ONDERWEG = "onderweg"
    TER_PLAATSE = "ter_plaatse"
    MOTORKAPOVERLEG = "motorkapoverleg"
    ONDERZOEK = "onderzoek"
    VEILIGHEIDSMAATREGELEN = "veiligheidsmaatregelen"
    OVERGEDRAGEN = "overgedragen"
    CLOSED = "closed"


class Purpose(StrEnum):
    """Why an assignment is asked: to agree first, to respond, or as the team's line."""

    CONSULT = "consult"
    RESPOND = "respond"
    TEAM_LINE = "team_line"


class AlarmKind(StrEnum):
    """Alarms the control room acts on; each is raised and cleared by an event."""

    NO_ACCEPT = "no_accept"  # "Nog niemand aangenomen": minutes after the report
    HALF_STAFFED = "half_staffed"  # a two-person call-out found only one
    SEND_FAILING = "send_failing"  # pages could not be sent: phone the people yourself
    SMS_LIMITED = "sms_limited"  # a worker's texts are being rate-limited
