"""Single-use links sent by e-mail: invitations, password resets, e-mail confirmations.

Only a digest of each token is stored: the link itself is derived from the row's id and
the service's secret key when the e-mail is written (``security.tokens``), so a copy of
the database gives no working link.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel


class TokenPurpose(StrEnum):
    INVITATION = "invitation"  # choose a first password
    PASSWORD_RESET = "password_reset"  # choose a new password
    EMAIL_CONFIRMATION = "email_confirmation"  # confirm a new e-mail address


class AccountToken(SQLModel, table=True):
    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_user_purpose", "user_id", "purpose"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user.id")
    purpose: TokenPurpose = Field(sa_type=String(30))
    # SHA-256 of the token, hex: what a presented link is looked up by.
    digest: str = Field(max_length=64, unique=True)
    # The address to confirm (e-mail confirmation only): the account switches to it
    # when the link is followed.
    email: str | None = Field(default=None, max_length=254)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    # Replaced by a newer link, or voided because the credentials changed another way.
    revoked_at: datetime | None = None
