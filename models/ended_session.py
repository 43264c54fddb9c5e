"""Sessions ended by their owner (« Se déconnecter »).

A session is one login: every token renewed from it carries the same session id. Its
cookie is deleted at logout, but a copy of it (another tab, a shared computer, a stolen
cookie) would stay valid until it expires: the id is kept here until then, and a token
carrying it is refused. Only the ids of ended sessions are stored, never a token.
"""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class EndedSession(SQLModel, table=True):
    __tablename__ = "ended_session"
    # The purge at each logout finds the rows whose tokens have all expired.
    __table_args__ = (Index("ix_ended_session_expires_at", "expires_at"),)

    session_id: str = Field(primary_key=True, max_length=32)
    ended_at: datetime
    expires_at: datetime  # every token of the session has expired by then
