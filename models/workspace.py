"""The specialist's workspace: what they last opened, answer drafts, answer templates.

Drafts and templates may hold clinical content: encrypted at rest like the request's
fields (security.vault), bound to their row.
"""

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.input import Input, Prose, SingleLine
from models.request import TEXT_MAX_LENGTH


class RequestSeen(SQLModel, table=True):
    """When a participant last opened a request's page: what came after is unread."""

    __tablename__ = "request_seen"

    request_id: uuid.UUID = Field(foreign_key="request.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user.id", primary_key=True)
    seen_at: datetime


class AnswerDraft(SQLModel, table=True):
    """An answer being written: the form's values as typed, encrypted (JSON)."""

    __tablename__ = "answer_draft"
    __table_args__ = (UniqueConstraint("request_id", "author_id", name="uq_answer_draft_author"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="request.id")
    author_id: uuid.UUID = Field(foreign_key="user.id")
    content: bytes = Field(sa_type=LargeBinary)
    updated_at: datetime


class AnswerTemplate(SQLModel, table=True):
    """A specialist's reusable answer fragment (title and text encrypted)."""

    __tablename__ = "answer_template"
    __table_args__ = (Index("ix_answer_template_owner", "owner_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="user.id")
    title: bytes = Field(sa_type=LargeBinary)
    body: bytes = Field(sa_type=LargeBinary)
    created_at: datetime


class TemplateCreate(Input):
    title: SingleLine = Field(min_length=1, max_length=120)
    body: Prose = Field(min_length=1, max_length=TEXT_MAX_LENGTH)


class TemplateRead(SQLModel):
    id: uuid.UUID
    title: str
    body: str
    created_at: datetime
