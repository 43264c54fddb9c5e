"""Secure messages between the requester and the assignee of a request."""

import uuid
from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from models.request import TEXT_MAX_LENGTH


class Message(SQLModel, table=True):
    __table_args__ = (Index("ix_message_request_created", "request_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(foreign_key="request.id")
    author_id: uuid.UUID = Field(foreign_key="user.id")
    body: str = Field(sa_type=Text)
    created_at: datetime


class MessageCreate(SQLModel):
    body: str = Field(min_length=1, max_length=TEXT_MAX_LENGTH)
    request_info: bool = Field(
        default=False,
        description="assignee only: ask the requester for information (pauses the answer clock)",
    )


class MessageRead(SQLModel):
    id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime
