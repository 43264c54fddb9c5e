"""Which data keys each running server holds, so that no key is retired from under one."""

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel


class KeyHolder(SQLModel, table=True):
    """One running server: the key versions it holds and the one it encrypts under."""

    __tablename__ = "key_holder"

    id: str = Field(primary_key=True, max_length=120)
    """``host:pid:random``, made at the server's start."""
    host: str = Field(max_length=100)
    pid: int
    active_version: int
    versions: list[int] = Field(default_factory=list, sa_type=JSON)
    seen_at: datetime
