"""Secure messages between the requester and the assignee of a request."""

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

from models.input import Input, Prose
from models.people import PersonRef
from models.request import TEXT_MAX_LENGTH, Unreadable


class Message(SQLModel, table=True):
    __table_args__ = (Index("ix_message_request_created", "request_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="request.id")
    author_id: uuid.UUID = Field(foreign_key="user.id")
    body: bytes = Field(sa_type=LargeBinary)  # encrypted (security.vault)
    created_at: datetime


class MessageCreate(Input):
    body: Prose = Field(min_length=1, max_length=TEXT_MAX_LENGTH)
    request_info: bool = Field(
        default=False,
        description="assignee only: ask the requester for information (pauses the answer clock)",
    )


class MessageRead(SQLModel):
    id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    """The author's name, or « Un spécialiste de l'ESS » for a specialist who no longer
    holds the request."""
    body: str | None
    """Null only when the stored body cannot be decrypted (then ``unreadable`` says so)."""
    created_at: datetime
    unreadable: Unreadable | None = None


class Attachment(SQLModel, table=True):
    """A photograph or document; its bytes live encrypted in the data folder."""

    __table_args__ = (Index("ix_attachment_request", "request_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="request.id")
    author_id: uuid.UUID = Field(foreign_key="user.id")
    # A file name often names the patient: encrypted like the rest.
    filename: bytes = Field(sa_type=LargeBinary)
    content_type: str = Field(max_length=50)
    size: int
    created_at: datetime


class AttachmentRead(SQLModel):
    id: uuid.UUID
    author_id: uuid.UUID
    uploaded_by: PersonRef
    filename: str | None
    """Null only when the stored name cannot be decrypted (then ``unreadable`` says so)."""
    content_type: str
    size: int
    created_at: datetime
    unreadable: Unreadable | None = None
