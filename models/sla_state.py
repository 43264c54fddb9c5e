"""What the deadlines mean right now: ``sla_state`` and the next instant anything may fire.

Derived from the request's own columns only, so ``models.history.record`` can
recompute it at every change of status: no code path can forget to.
"""

from datetime import datetime

from models.lifecycle import ANSWER_CLOCK_RUNS, Status
from models.request import Request, SlaState

WARNED = 1
BREACHED = 2


def refresh(request: Request) -> None:
    """Recompute ``sla_state`` and ``sla_next_at`` from the deadlines and what has fired."""
    candidates: list[datetime] = []
    if request.status == Status.ASSIGNED and request.acknowledge_due_at is not None:
        if request.acknowledge_level < WARNED and request.acknowledge_warn_at is not None:
            candidates.append(request.acknowledge_warn_at)
        if request.acknowledge_level < BREACHED:
            candidates.append(request.acknowledge_due_at)
    if answer_running(request) and request.answer_due_at is not None:
        if request.answer_level < WARNED and request.answer_warn_at is not None:
            candidates.append(request.answer_warn_at)
        if request.answer_level < BREACHED:
            candidates.append(request.answer_due_at)
    request.sla_next_at = min(candidates) if candidates else None
    if request.answer_level >= BREACHED:
        request.sla_state = SlaState.BREACHED
    elif request.answer_level >= WARNED or (
        request.status == Status.ASSIGNED and request.acknowledge_level >= WARNED
    ):
        request.sla_state = SlaState.WARNING
    else:
        request.sla_state = SlaState.OK


def answer_running(request: Request) -> bool:
    """Tell whether the answer clock runs (it pauses while awaiting information)."""
    return request.status in ANSWER_CLOCK_RUNS
