"""When a specialist can take requests: weekly schedule slots and absences."""

import re
import uuid
from datetime import datetime, time
from itertools import pairwise
from typing import Annotated

import pydantic
from pydantic import (
    AwareDatetime,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.input import Input, SingleLine


class ScheduleSlot(SQLModel, table=True):
    """A weekly window, in local (Europe/Paris) wall-clock time, when the specialist works."""

    __tablename__ = "schedule_slot"
    __table_args__ = (Index("ix_schedule_slot_user_weekday", "user_id", "weekday"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user.id")
    weekday: int
    start: time
    end: time


class Absence(SQLModel, table=True):
    __table_args__ = (
        Index("ix_absence_user_period", "user_id", "start_at", "end_at"),
        # Who is absent now: the absences not yet over, however long the history.
        Index("ix_absence_current", "end_at", "start_at", "user_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user.id")
    start_at: datetime
    end_at: datetime
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime


CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _read_clock_time(value: object) -> time:
    """Read "HH:MM"; a time (from the database) passes as it is."""
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(CLOCK_TIME_PATTERN, value):
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    raise ValueError("heure attendue au format HH:MM (00:00 à 23:59)")


ClockTime = Annotated[
    time,
    PlainValidator(_read_clock_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    # Litestar would document a time as a duration; the API speaks "HH:MM".
    pydantic.Field(json_schema_extra={"format": None, "pattern": CLOCK_TIME_PATTERN}),
]
"""A local wall-clock time to the minute, written "HH:MM"."""


class SlotIn(Input):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: ClockTime = Field(description='"HH:MM", local time')
    end: ClockTime = Field(description='"HH:MM", local time; "00:00" means midnight at the end')

    @model_validator(mode="after")
    def _ordered(self) -> "SlotIn":
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("L'heure de fin doit suivre l'heure de début.")
        return self


class ScheduleUpdate(Input):
    slots: list[SlotIn] = Field(max_length=100)

    @field_validator("slots")
    @classmethod
    def _no_overlap(cls, slots: list[SlotIn]) -> list[SlotIn]:
        by_day: dict[int, list[SlotIn]] = {}
        for slot in slots:
            by_day.setdefault(slot.weekday, []).append(slot)
        for day_slots in by_day.values():
            day_slots.sort(key=lambda s: s.start)
            for before, after in pairwise(day_slots):
                if before.end == time(0) or after.start < before.end:
                    raise ValueError("Deux plages du même jour se chevauchent.")
        return slots


class ScheduleRead(SQLModel):
    slots: list[SlotIn]


class AbsenceCreate(Input):
    start: AwareDatetime
    end: AwareDatetime
    reason: SingleLine | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> "AbsenceCreate":
        if self.end <= self.start:
            raise ValueError("La fin de l'absence doit suivre son début.")
        return self


class AbsenceRead(SQLModel):
    id: uuid.UUID
    user_id: uuid.UUID
    start: datetime
    end: datetime
    reason: str | None
