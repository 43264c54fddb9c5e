"""A téléexpertise request, its history and the schemas the API speaks."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, field_validator
from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from models.identifiers import validate_ins
from models.input import Input, Prose, SingleLine
from models.lifecycle import Status
from models.people import AssigneeSummary, RequesterSummary

# Longest clinical text accepted (question, answer, message), in characters.
TEXT_MAX_LENGTH = 20_000


class Priority(StrEnum):
    URGENT = "urgent"
    STANDARD = "standard"


class Outcome(StrEnum):
    ADVICE = "advice"
    CONSULTATION = "consultation"
    ADVANCED_CONSULTATION = "advanced_consultation"
    HOSPITAL_REFERRAL = "hospital_referral"


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


class PatientIdentity(Input):
    first_name: SingleLine = Field(min_length=1, max_length=100)
    last_name: SingleLine = Field(min_length=1, max_length=100)
    birth_date: date
    sex: Literal["F", "M"]
    ins: SingleLine | None = Field(default=None, description="NIR, 15 characters, validated")

    @field_validator("first_name", "last_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Ce champ ne peut pas être vide.")
        return value

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date) -> date:
        if value < date(1900, 1, 1) or value > date.today():
            raise ValueError("La date de naissance n'est pas plausible.")
        return value

    @field_validator("ins")
    @classmethod
    def _check_ins(cls, value: str | None) -> str | None:
        return None if value is None else validate_ins(value)


# Optimistic concurrency: every UPDATE of a request checks and bumps this counter, so two
# writers that read the same state cannot both apply a transition (StaleDataError).
_version_column = Column("version", Integer, nullable=False)

# The columns the indicators' cube groups by and those it aggregates (its two indexes).
_CUBE_GROUPS = ("priority", "specialty_code", "subspecialty_code", "assignee_id")
_CUBE_MEASURES = (
    "status",
    "outcome",
    "response_hours",
    "acknowledge_hours",
    "appointment_days",
    "answered_in_time",
    "usefulness",
    "referral_avoided",
)


class Request(SQLModel, table=True):
    __mapper_args__ = {"version_id_col": _version_column}
    __table_args__ = (
        Index("ix_request_status_submitted", "status", "submitted_at"),
        Index("ix_request_assignee_status", "assignee_id", "status"),
        Index("ix_request_requester_submitted", "requester_id", "submitted_at"),
        # Distinct patients of a period, read from the index alone (the indicators).
        Index("ix_request_patient_submitted", "patient_key", "submitted_at"),
        # The indicators' cube reads one of these instead of the wide rows, each backend
        # its own (see app.services.indicators); each is a partial index on a false
        # condition, so empty and free, on the other backend. PostgreSQL: the period's
        # range, the cube's columns INCLUDEd (on SQLite, a bare index on submitted_at
        # would lure every statement of the indicators onto the wide rows).
        Index(
            "ix_request_indicator_period",
            "submitted_at",
            postgresql_include=[*_CUBE_GROUPS, *_CUBE_MEASURES],
            sqlite_where=text("0"),
        ),
        # SQLite, which groups only by sorting: one contiguous range per (priority,
        # specialty, sub-specialty, specialist, month), in order.
        Index(
            "ix_request_indicator_cells",
            *_CUBE_GROUPS,
            "submitted_at",
            *_CUBE_MEASURES,
            postgresql_where=text("false"),
        ),
        # Each delay in order, for its median and 90th percentile without a sort.
        Index("ix_request_response_hours", "response_hours", "submitted_at"),
        Index("ix_request_acknowledge_hours", "acknowledge_hours", "submitted_at"),
        Index("ix_request_appointment_days", "appointment_days", "submitted_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    status: Status = Field(sa_type=String(20))
    priority: Priority = Field(sa_type=String(20))
    specialty_code: str = Field(foreign_key="specialty.code", max_length=40)
    subspecialty_code: str | None = Field(default=None, max_length=40)
    requester_id: uuid.UUID = Field(foreign_key="user.id")
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="user.id")
    # Clinical content, encrypted at rest (security.vault): never stored in clear.
    question: bytes = Field(sa_type=LargeBinary)
    patient: bytes = Field(sa_type=LargeBinary, description="the patient identity, as JSON")
    # Keyed hash (HMAC) of the normalised patient identity: counts distinct patients
    # for the indicators without reading anyone's identity.
    patient_key: str | None = Field(default=None, max_length=64)
    answer: bytes | None = Field(default=None, sa_type=LargeBinary)
    outcome: Outcome | None = Field(default=None, sa_type=String(30))
    appointment_at: datetime | None = None
    consent: bool
    submitted_at: datetime
    assigned_at: datetime | None = None
    accepted_at: datetime | None = None
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    acknowledge_due_at: datetime | None = None
    answer_due_at: datetime | None = None
    # ``pending`` while the calendar is closed, with someone eligible at this opening:
    # the request waits quietly and the scheduler's first tick from then assigns it.
    waiting_until: datetime | None = None
    sla_state: SlaState = Field(default=SlaState.OK, sa_type=String(20))
    # Deadline bookkeeping (see sla.deadlines): warning instants, what has fired,
    # the time left while paused, and the next instant anything may fire.
    acknowledge_warn_at: datetime | None = None
    answer_warn_at: datetime | None = None
    acknowledge_level: int = 0
    answer_level: int = 0
    assignment_cycle: int = 0
    answer_paused_seconds: float | None = None
    sla_next_at: datetime | None = Field(default=None, index=True)
    usefulness: int | None = None
    referral_avoided: bool | None = None
    close_comment: bytes | None = Field(default=None, sa_type=LargeBinary)
    # What the indicators count, derived from the columns above by models.history.record
    # at every change (migration 0002 filled the older rows); NULL when the indicator
    # does not count the request (cancelled, not answered or taken on yet, no deadline).
    response_hours: float | None = None  # submission to answer, calendar hours
    acknowledge_hours: float | None = None  # submission to taking on (accepted_at), hours
    appointment_days: float | None = None  # answer to appointment (consultations), days
    answered_in_time: bool | None = None  # answered_at <= answer_due_at
    version: int = Field(default=1, sa_column=_version_column)


class RequestCreate(Input):
    specialty: SingleLine = Field(max_length=40)
    subspecialty: SingleLine | None = Field(default=None, max_length=40)
    priority: Priority
    question: Prose = Field(min_length=1, max_length=TEXT_MAX_LENGTH)
    patient: PatientIdentity
    consent: bool

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError(
                "Le consentement du patient à la téléexpertise est obligatoire (consent: true)."
            )
        return value

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("La question ne peut pas être vide.")
        return value


class Unreadable(SQLModel):
    """Stored clinical content that cannot be decrypted: those fields are null."""

    fields: list[str]
    detail: str

    @classmethod
    def of(cls, fields: list[str]) -> "Unreadable | None":
        """Describe ``fields`` for the reader, or None when every field was read."""
        if not fields:
            return None
        return cls(
            fields=fields,
            detail=(
                "Contenu illisible : la clé qui le protège a été retirée ou le contenu a été "
                "altéré. L'incident a été journalisé ; contactez l'administrateur."
            ),
        )


class RequestRead(SQLModel):
    id: uuid.UUID
    reference: str
    status: Status
    priority: Priority
    specialty: str
    subspecialty: str | None
    requester_id: uuid.UUID
    assignee_id: uuid.UUID | None
    requester: RequesterSummary
    assignee: AssigneeSummary | None
    """Null while nobody holds the request (pending, cancelled before an assignment)."""
    question: str | None
    patient: PatientIdentity | None
    answer: str | None
    outcome: Outcome | None
    appointment_at: datetime | None
    submitted_at: datetime
    assigned_at: datetime | None
    accepted_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    acknowledge_due_at: datetime | None
    answer_due_at: datetime | None
    waiting_until: datetime | None = None
    sla_state: SlaState
    usefulness: int | None
    referral_avoided: bool | None
    unreadable: Unreadable | None = None


class RequestPage(SQLModel):
    items: list[RequestRead]
    total: int


class DeclineReason(StrEnum):
    """Why a specialist hands a request back: a category, never free text (it is shown to
    the coordinator, who must not read clinical content)."""

    OUT_OF_FIELD = "out_of_field"
    UNAVAILABLE = "unavailable"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    OTHER = "other"


# The dispatcher's own decline, for an assignee who let the acknowledgement deadline pass.
NO_ACKNOWLEDGEMENT = "no_acknowledgement"

DECLINE_LABELS: dict[str, str] = {
    DeclineReason.OUT_OF_FIELD: "hors de mon champ de compétence",
    DeclineReason.UNAVAILABLE: "indisponible",
    DeclineReason.CONFLICT_OF_INTEREST: "conflit d'intérêts",
    DeclineReason.OTHER: "autre motif",
    NO_ACKNOWLEDGEMENT: "pas d'accusé de réception dans le délai",
}


class DeclineCreate(Input):
    reason: DeclineReason
    comment: Prose | None = Field(
        default=None,
        min_length=1,
        max_length=TEXT_MAX_LENGTH,
        description="clinical content: encrypted, shown to the requester and the next "
        "specialist, never to the coordinator",
    )


class AnswerCreate(Input):
    answer: Prose = Field(min_length=1, max_length=TEXT_MAX_LENGTH)
    outcome: Outcome
    appointment_at: AwareDatetime | None = None


class CloseCreate(Input):
    usefulness: int = Field(ge=1, le=5)
    referral_avoided: bool
    comment: Prose | None = Field(default=None, max_length=TEXT_MAX_LENGTH)


class AssignCreate(Input):
    assignee_id: uuid.UUID


class RequestDecline(SQLModel, table=True):
    """A specialist who declined a request never receives it again."""

    __tablename__ = "request_decline"

    request_id: uuid.UUID = Field(foreign_key="request.id", primary_key=True)
    specialist_id: uuid.UUID = Field(foreign_key="user.id", primary_key=True)
    # The record id the comment's encryption is bound to (and key rotation walks by).
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    reason: str = Field(max_length=30, description="a DeclineReason or NO_ACKNOWLEDGEMENT")
    # Clinical content, encrypted at rest (security.vault): never stored in clear.
    comment: bytes | None = Field(default=None, sa_type=LargeBinary)
    declined_at: datetime


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    MESSAGE = "message"
    ASSIGNED = "assigned"
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    INFO_REQUESTED = "info_requested"
    INFO_PROVIDED = "info_provided"
    ANSWERED = "answered"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    ATTACHMENT_ADDED = "attachment_added"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"


class RequestEvent(SQLModel, table=True):
    """One line of a request's history; append-only."""

    __tablename__ = "request_event"
    __table_args__ = (
        Index("ix_request_event_request_seq", "request_id", "seq"),
        # An SLA firing is an event that can exist once: a retry, a second process or
        # a restart that tries again inserts nothing (NULLs keep other events free).
        UniqueConstraint(
            "request_id",
            "sla_deadline",
            "sla_level",
            "sla_cycle",
            name="uq_request_event_sla_firing",
        ),
    )

    # Insertion order: several events of one transaction share the same instant.
    seq: int | None = Field(default=None, primary_key=True)
    # The sentinel lets the events of one flush go in one INSERT … RETURNING seq:
    # the returned keys are matched to their rows by this client-made id.
    id: uuid.UUID = Field(
        default_factory=uuid.uuid4, unique=True, sa_column_kwargs={"insert_sentinel": True}
    )
    request_id: uuid.UUID = Field(foreign_key="request.id")
    at: datetime
    kind: EventKind = Field(sa_type=String(30))
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="user.id")
    from_status: Status | None = Field(default=None, sa_type=String(20))
    to_status: Status | None = Field(default=None, sa_type=String(20))
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="user.id")
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    sla_deadline: str | None = Field(default=None, max_length=20)
    sla_level: str | None = Field(default=None, max_length=20)
    sla_cycle: int | None = None


class EventRead(SQLModel):
    id: uuid.UUID
    kind: EventKind
    at: datetime
    actor_id: uuid.UUID | None
    from_status: Status | None
    to_status: Status | None
    assignee_id: uuid.UUID | None
    detail: dict[str, Any]


class ReferenceCounter(SQLModel, table=True):
    """Last sequence number handed out per year, for ``TE-2026-000123`` references."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0
