"""The membership the annual grant is prorated on, and the territory's coverage."""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.services.indicators.period import Period
from app.services.indicators.schemas import CoverageThreshold, Membership

# The annual grant (cahier des charges national des ESS): 50 000 € for 10 member
# doctors to 100 000 € for 100 or more, prorated on the exact number over the year.
# Between the two the texts give no formula: a linear interpolation is an assumption.
GRANT_MIN_EUR = 50_000
GRANT_MAX_EUR = 100_000
GRANT_MIN_MEMBERS = 10
GRANT_MAX_MEMBERS = 100
COVERAGE_THRESHOLDS = (0.10, 0.30, 0.50)
"""Share of the territory's self-employed specialists: 10 % to create an ESS, 30 % then
50 % targeted within five years."""


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    name: str
    since: date | None
    until: date | None
    advanced: bool

    def days_in(self, period: Period) -> int:
        """Days of the period this specialist was a member (0 without a start date)."""
        if self.since is None:
            return 0
        first = max(self.since, period.first)
        last = min(self.until or period.last, period.last)
        return max((last - first).days + 1, 0)

    def member_on(self, day: date) -> bool:
        return (
            self.since is not None
            and self.since <= day
            and (self.until is None or day <= self.until)
        )


def estimated_grant(members: float) -> int | None:
    """The annual grant for ``members`` (prorated) members; None below the floor of 10."""
    if members < GRANT_MIN_MEMBERS:
        return None
    if members >= GRANT_MAX_MEMBERS:
        return GRANT_MAX_EUR
    share = (members - GRANT_MIN_MEMBERS) / (GRANT_MAX_MEMBERS - GRANT_MIN_MEMBERS)
    return round(GRANT_MIN_EUR + share * (GRANT_MAX_EUR - GRANT_MIN_EUR))


def membership(members: Sequence[Member], period: Period, territory: int | None) -> Membership:
    count = sum(1 for member in members if member.member_on(period.last))
    prorated = sum(member.days_in(period) for member in members) / period.days
    rate = round(count / territory, 4) if territory else None
    return Membership(
        members_count=count,
        members_prorated=round(prorated, 2),
        estimated_annual_grant_eur=estimated_grant(round(prorated, 2)),
        territory_specialists=territory,
        coverage_rate=rate,
        coverage_thresholds=[
            CoverageThreshold(
                threshold=threshold,
                reached=territory is not None and count >= math.ceil(threshold * territory),
                members_needed=math.ceil(round(threshold * territory, 6)) if territory else 0,
            )
            for threshold in COVERAGE_THRESHOLDS
        ]
        if territory
        else [],
    )
