"""What a specialist produced, month by month: the ESS's figures, seen from their side.

The same columns the indicators read (``response_hours``, ``answered_in_time``, kept by
``models.history.record``), over the requests the specialist answered.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Request, User


@dataclass
class Month:
    year: int
    month: int
    answered: int
    median_hours: float | None
    within_rate: float | None


async def monthly_summary(
    session: AsyncSession, viewer: User, *, since: datetime, zone: ZoneInfo
) -> list[Month]:
    """The months since ``since`` in which ``viewer`` answered, newest first."""
    rows = await session.execute(
        select(Request.answered_at, Request.response_hours, Request.answered_in_time).where(
            Request.assignee_id == viewer.id,
            Request.answered_at.is_not(None),
            Request.answered_at >= since,
        )
    )
    months: dict[tuple[int, int], list[tuple[float | None, bool | None]]] = {}
    for answered_at, hours, in_time in rows:
        local = answered_at.astimezone(zone)
        months.setdefault((local.year, local.month), []).append((hours, in_time))
    summary = []
    for (year, month), values in sorted(months.items(), reverse=True):
        hours = [h for h, _ in values if h is not None]
        judged = [t for _, t in values if t is not None]
        summary.append(
            Month(
                year=year,
                month=month,
                answered=len(values),
                median_hours=statistics.median(hours) if hours else None,
                within_rate=sum(judged) / len(judged) if judged else None,
            )
        )
    return summary
