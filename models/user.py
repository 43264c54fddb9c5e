"""People: requesters (GPs and other caregivers), ESS specialists and the coordinator."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import EmailStr, field_validator
from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from models.identifiers import normalize_email, validate_rpps
from models.input import Input, SingleLine

# The length a password must have wherever one is chosen (creation, CLI, invitation,
# reset, change); ``security.password_policy`` adds the rest of the rule.
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128


class Role(StrEnum):
    REQUESTER = "requester"
    SPECIALIST = "specialist"
    COORDINATOR = "coordinator"


class UserBase(SQLModel):
    role: Role = Field(sa_type=String(20))
    email: EmailStr = Field(max_length=254)
    name: SingleLine = Field(min_length=1, max_length=200)
    rpps: str | None = Field(default=None, max_length=11)
    treating_physician: bool = Field(
        default=False, description="a médecin traitant (requesters only)"
    )

    @field_validator("email", mode="before")
    @classmethod
    def _normalize_email(cls, value: object) -> object:
        return normalize_email(value) if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _normalized_email(cls, value: str) -> str:
        # The validator may have rewritten it (the domain, for one): fold it again.
        return normalize_email(value)

    @field_validator("rpps")
    @classmethod
    def _check_rpps(cls, value: str | None) -> str | None:
        return None if value is None else validate_rpps(value)


class User(UserBase, table=True):
    __table_args__ = (
        # The dispatcher reads a specialty's pool from this index alone (every column
        # its rules and its choice need), and the pool's highest rotation from its head.
        Index(
            "ix_user_pool",
            "specialty_code",
            "rotation",
            "role",
            "id",
            "active",
            "open_count",
            "capacity",
            "name",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    rpps: str | None = Field(default=None, max_length=11, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = True
    specialty_code: str | None = Field(default=None, foreign_key="specialty.code", max_length=40)
    capacity: int | None = None
    # Requests the specialist holds (``models.lifecycle.WITH_SPECIALIST``), kept by
    # database triggers on ``request`` (migration 0003): read it, never write it.
    open_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Position in the rotation: the pool's highest value + 1 at each assignment.
    # A counter, not a clock, so that concurrent transactions cannot reorder turns.
    rotation: int = Field(default=0)
    # Membership of the ESS (specialists): the annual grant is prorated on it.
    member_since: date | None = None
    member_until: date | None = None
    advanced_consultations: bool = Field(
        default=False, description="offers consultations avancées (outreach clinics)"
    )
    # Raised whenever the account's credentials change (password set, reset or changed,
    # account deactivated): login tokens and session cookies carry the version they were
    # issued under, and one from an older version is refused (``app.auth``).
    credentials_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime


class UserCreate(UserBase, Input):
    password: str | None = Field(
        default=None, min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH
    )
    specialty: SingleLine | None = Field(default=None, max_length=40)
    subspecialties: list[SingleLine] = Field(default_factory=list, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=1000)
    advanced_consultations: bool = False
    member_since: date | None = Field(
        default=None, description="specialists: first day of ESS membership (default: today)"
    )
    member_until: date | None = None


class UserUpdate(Input):
    """What the coordinator changes on an account; a field left out is left as it is."""

    name: SingleLine | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(
        default=None,
        max_length=254,
        description="the new address receives a confirmation link; the account keeps the "
        "old one until it is followed",
    )
    rpps: str | None = Field(default=None, max_length=11, description="null removes it")
    treating_physician: bool | None = None
    specialty: SingleLine | None = Field(
        default=None,
        max_length=40,
        description="specialists: another specialty (its sub-specialties are then replaced)",
    )
    active: bool | None = None
    capacity: int | None = Field(default=None, ge=0, le=1000)
    subspecialties: list[SingleLine] | None = Field(default=None, max_length=100)
    advanced_consultations: bool | None = None
    member_since: date | None = None
    member_until: date | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _normalize_email(cls, value: object) -> object:
        return normalize_email(value) if isinstance(value, str) else value

    @field_validator("email")
    @classmethod
    def _normalized_email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("rpps")
    @classmethod
    def _check_rpps(cls, value: str | None) -> str | None:
        return None if value is None else validate_rpps(value)


class UserRead(SQLModel):
    id: uuid.UUID
    role: Role
    email: str
    name: str
    rpps: str | None
    active: bool
    treating_physician: bool
    specialty: str | None
    subspecialties: list[str]
    capacity: int | None
    advanced_consultations: bool
    member_since: date | None
    member_until: date | None
    password_set: bool = Field(
        description="false until the account's owner has chosen a password (invitation pending)"
    )
