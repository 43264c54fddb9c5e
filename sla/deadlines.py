"""Response-time deadlines as pure functions of a request's history and the calendar.

The deadlines are columns on the request, recomputed at every change of state:

- ``acknowledge_due_at`` restarts at each assignment (the assignee accepts or declines);
- ``answer_due_at`` runs from submission and pauses while the request is
  ``awaiting_info``: the business time left is kept and resumes when the requester
  replies (``answer_due_at`` is empty meanwhile);
- each has a warning instant at ``warn_at`` of its length;
- ``sla_next_at`` is the earliest instant something may fire, so the scheduler finds
  due work through one index, whatever the size of the table.

Levels (0 nothing fired, 1 warned, 2 breached) say what has fired for the current
acknowledgement cycle and for the answer; the UNIQUE firing events guarantee the
exactly-once part, these columns only keep the scan short.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models import Priority, Request, Status
from models.sla_state import BREACHED, WARNED, answer_running, refresh
from sla.calendar import Calendar

__all__ = ["BREACHED", "WARNED", "refresh"]


class Deadline(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ANSWER = "answer"


class Level(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class Delays:
    acknowledge_within: timedelta
    answer_within: timedelta


@dataclass(frozen=True)
class SlaPolicy:
    calendar: Calendar
    urgent: Delays
    standard: Delays
    warn_at: float

    def delays(self, priority: Priority | str) -> Delays:
        return self.urgent if priority == Priority.URGENT else self.standard


def start_answer_clock(request: Request, now: datetime, policy: SlaPolicy) -> None:
    """Set the answer deadline at submission."""
    within = policy.delays(request.priority).answer_within
    request.answer_due_at = policy.calendar.add(now, within)
    request.answer_warn_at = policy.calendar.add(now, within * policy.warn_at)
    request.answer_level = 0
    refresh(request)


def start_acknowledge_clock(request: Request, now: datetime, policy: SlaPolicy) -> None:
    """Restart the acknowledgement deadline at an assignment."""
    within = policy.delays(request.priority).acknowledge_within
    request.acknowledge_due_at = policy.calendar.add(now, within)
    request.acknowledge_warn_at = policy.calendar.add(now, within * policy.warn_at)
    request.acknowledge_level = 0
    request.assignment_cycle = (request.assignment_cycle or 0) + 1
    refresh(request)


def pause_answer_clock(request: Request, now: datetime, policy: SlaPolicy) -> None:
    """Keep the business time left on the answer deadline while awaiting information."""
    if request.answer_due_at is not None:
        left = policy.calendar.between(now, request.answer_due_at)
        request.answer_paused_seconds = left.total_seconds()
        request.answer_due_at = None
    refresh(request)


def resume_answer_clock(request: Request, now: datetime, policy: SlaPolicy) -> None:
    """Resume the answer deadline with the time that was left."""
    if request.answer_paused_seconds is not None:
        left = timedelta(seconds=request.answer_paused_seconds)
        within = policy.delays(request.priority).answer_within
        warn_left = within * (1 - policy.warn_at)
        request.answer_due_at = policy.calendar.add(now, left)
        if request.answer_level < WARNED and left > warn_left:
            request.answer_warn_at = policy.calendar.add(now, left - warn_left)
        elif request.answer_level < WARNED:
            request.answer_warn_at = now
        request.answer_paused_seconds = None
    refresh(request)


def due(request: Request, now: datetime) -> list[tuple[Deadline, Level]]:
    """Return what should fire now; a warning overtaken by its breach is not due."""
    firings: list[tuple[Deadline, Level]] = []
    if request.status == Status.ASSIGNED and request.acknowledge_due_at is not None:
        if now >= request.acknowledge_due_at and request.acknowledge_level < BREACHED:
            firings.append((Deadline.ACKNOWLEDGE, Level.BREACH))
        elif (
            request.acknowledge_warn_at is not None
            and now >= request.acknowledge_warn_at
            and request.acknowledge_level < WARNED
        ):
            firings.append((Deadline.ACKNOWLEDGE, Level.WARNING))
    if answer_running(request) and request.answer_due_at is not None:
        if now >= request.answer_due_at and request.answer_level < BREACHED:
            firings.append((Deadline.ANSWER, Level.BREACH))
        elif (
            request.answer_warn_at is not None
            and now >= request.answer_warn_at
            and request.answer_level < WARNED
        ):
            firings.append((Deadline.ANSWER, Level.WARNING))
    return firings
