"""The indicators as the API returns them (``GET /api/v1/indicators``)."""

import uuid
from datetime import date, datetime

from sqlmodel import SQLModel

from models import Priority


class DelayStats(SQLModel):
    """A delay's distribution over the requests it applies to."""

    median: float | None
    p90: float | None
    mean: float | None
    count: int


class GroupIndicators(SQLModel):
    """The additive indicators of one breakdown row (means, not percentiles)."""

    teleexpertise_count: int
    answered_count: int
    cancelled_count: int
    response_delay_mean_hours: float | None
    within_sla_rate: float | None
    acknowledge_delay_mean_hours: float | None
    appointment_delay_mean_days: float | None
    advanced_consultations_count: int
    usefulness_mean: float | None
    referral_avoided_rate: float | None


class MonthIndicators(GroupIndicators):
    month: str


class SubspecialtyIndicators(GroupIndicators):
    specialty: str
    subspecialty: str | None
    name: str


class SpecialistIndicators(GroupIndicators):
    specialist_id: uuid.UUID | None
    name: str
    member: bool


class PriorityIndicators(GroupIndicators):
    priority: Priority


class CoverageThreshold(SQLModel):
    threshold: float
    reached: bool
    members_needed: int


class Membership(SQLModel):
    members_count: int
    members_prorated: float
    estimated_annual_grant_eur: int | None
    territory_specialists: int | None
    coverage_rate: float | None
    coverage_thresholds: list[CoverageThreshold]


class Indicators(SQLModel):
    period: dict[str, date]
    timezone: str
    generated_at: datetime
    teleexpertise_count: int
    answered_count: int
    cancelled_count: int
    open_count: int
    patients_count: int
    requests_without_patient_key: int
    requesters_count: int
    treating_physicians_count: int
    response_delay_hours: DelayStats
    within_sla_rate: float | None
    acknowledge_delay_hours: DelayStats
    appointment_delay_days: DelayStats
    usefulness_mean: float | None
    referral_avoided_rate: float | None
    feedback_count: int
    advanced_consultation_specialists_count: int
    advanced_consultations_count: int
    by_month: list[MonthIndicators]
    by_subspecialty: list[SubspecialtyIndicators]
    by_specialist: list[SpecialistIndicators]
    by_priority: list[PriorityIndicators]
    membership: Membership
