"""Specialties (cardiology…) and their sub-specialties (rhythmology…)."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints, field_validator
from sqlalchemy import ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from models.input import Input, SingleLine

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# A code as users type it in URLs and CSV files: lower case, digits, dashes.
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]


class Specialty(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    # Set when the coordinator retires it: no longer offered to new requests or new
    # specialists; what already names it keeps it. Codes are never deleted (history).
    retired_at: datetime | None = None


class Subspecialty(SQLModel, table=True):
    specialty_code: str = Field(foreign_key="specialty.code", primary_key=True, max_length=40)
    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    retired_at: datetime | None = None


class SubspecialtyCreate(Input):
    code: Code = Field(description="lower-case code, e.g. `rythmologie`")
    name: SingleLine = Field(min_length=1, max_length=200)


class SpecialtyCreate(Input):
    code: Code = Field(description="lower-case code, e.g. `cardiologie`")
    name: SingleLine = Field(min_length=1, max_length=200)
    subspecialties: list[SubspecialtyCreate] = Field(default_factory=list, max_length=100)

    @field_validator("subspecialties")
    @classmethod
    def _unique_codes(cls, value: list[SubspecialtyCreate]) -> list[SubspecialtyCreate]:
        codes = [item.code for item in value]
        if len(codes) != len(set(codes)):
            raise ValueError("Chaque code de sur-spécialité doit être unique.")
        return value


class SubspecialtyUpdate(Input):
    name: SingleLine | None = Field(default=None, min_length=1, max_length=200)
    retired: bool | None = Field(
        default=None, description="true: no longer offered to new requests; false: back in service"
    )


class SpecialtyUpdate(Input):
    name: SingleLine | None = Field(default=None, min_length=1, max_length=200)
    retired: bool | None = Field(
        default=None,
        description="true: neither it nor its sub-specialties are offered to new requests",
    )


class SubspecialtyRead(SQLModel):
    code: str
    name: str
    retired: bool = Field(default=False, description="retired: not offered to new requests")


class SpecialtyRead(SQLModel):
    code: str
    name: str
    retired: bool = Field(default=False, description="retired: not offered to new requests")
    subspecialties: list[SubspecialtyRead]


class UserSubspecialty(SQLModel, table=True):
    """Which sub-specialties a specialist covers (within their own specialty)."""

    __tablename__ = "user_subspecialty"
    __table_args__ = (
        ForeignKeyConstraint(
            ["specialty_code", "subspecialty_code"],
            ["subspecialty.specialty_code", "subspecialty.code"],
        ),
        # The dispatcher's "who covers this sub-specialty?" (migration 0004).
        Index("ix_user_subspecialty_members", "subspecialty_code", "user_id"),
    )

    user_id: uuid.UUID = Field(foreign_key="user.id", primary_key=True)
    specialty_code: str = Field(max_length=40)
    subspecialty_code: str = Field(primary_key=True, max_length=40)
