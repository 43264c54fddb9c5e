"""The second factor: a TOTP secret per account and its single-use recovery codes."""

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

from models.input import Input, SingleLine


class UserTotp(SQLModel, table=True):
    """An account's TOTP secret: pending until a first code confirms it, then active."""

    __tablename__ = "user_totp"

    id: uuid.UUID = Field(primary_key=True, foreign_key="user.id")
    """The account's id: one secret per account."""
    secret: bytes = Field(sa_type=LargeBinary)
    """The base32 secret, encrypted (security.vault), bound to this row and field."""
    confirmed_at: datetime | None = None
    """When a first code activated it; null while the enrolment waits for that code."""
    last_step: int | None = None
    """TOTP time step of the last code accepted: a code of that step or an older one is
    refused, so a code seen over a shoulder or in a log cannot be used again."""
    created_at: datetime


class RecoveryCode(SQLModel, table=True):
    """A single-use code that stands in for a TOTP code (a lost phone); only its hash is kept."""

    __tablename__ = "recovery_code"
    __table_args__ = (Index("ix_recovery_code_user_hash", "user_id", "code_hash", unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user.id")
    code_hash: str = Field(max_length=64)
    """SHA-256 of the account's id and the normalised code (80 random bits: a slow hash
    would add nothing)."""
    used_at: datetime | None = None
    created_at: datetime


class TotpStatusRead(SQLModel):
    enabled: bool
    """A confirmed second factor protects the account."""
    pending: bool
    """An enrolment was started and waits for its first code."""
    required: bool
    """The service requires a second factor of every account (``ESS_AUTH__REQUIRE_TOTP``)."""
    confirmed_at: datetime | None
    recovery_codes_left: int


class TotpEnrolmentRead(SQLModel):
    secret: str
    """The base32 secret, for an application that cannot scan the QR code."""
    otpauth_uri: str
    """``otpauth://totp/…``: what the QR code holds."""
    qr_svg_url: str
    qr_png_url: str


class TotpCodeCreate(Input):
    code: SingleLine = Field(min_length=1, max_length=40)
    """A 6-digit code from the authenticator application (or, where said, a recovery code)."""


class TotpDisableCreate(Input):
    password: str = Field(min_length=1, max_length=200)
    code: SingleLine = Field(min_length=1, max_length=40)
    """A 6-digit code, or a recovery code."""


class RecoveryCodesRead(SQLModel):
    recovery_codes: list[str]
    """Shown this once: each works a single time in place of a code."""


class TotpActivatedRead(RecoveryCodesRead):
    access_token: str
    """A new token carrying both factors (also set as the session cookie)."""
    token_type: str = "bearer"
    expires_in: int
