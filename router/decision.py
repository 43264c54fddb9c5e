"""The dispatcher's rules as a pure model: candidates in, decision out.

Filters apply in a fixed order and the first one a specialist fails is the reason
recorded for them; among those left, the least recently assigned wins (ties by id).
Least-recently-assigned keeps the team's share even without favouring whoever has
the lowest load, which would flood a specialist just back from leave.

Production evaluates the same rules inside the database (``router.eligibility``),
so that a pool of thousands is filtered by one query; this module is the
executable specification the property tests hammer, and a differential test keeps
the two in agreement.
"""

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Exclusion(StrEnum):
    INACTIVE = "inactive"
    NOT_IN_POOL = "not_in_pool"
    OFF_SCHEDULE = "off_schedule"
    ABSENT = "absent"
    AT_CAPACITY = "at_capacity"
    IS_REQUESTER = "is_requester"
    DECLINED = "declined"


EXCLUSION_LABELS = {
    Exclusion.INACTIVE: "compte désactivé",
    Exclusion.NOT_IN_POOL: "ne couvre pas la sur-spécialité demandée",
    Exclusion.OFF_SCHEDULE: "hors de ses plages de disponibilité",
    Exclusion.ABSENT: "absent(e)",
    Exclusion.AT_CAPACITY: "capacité atteinte",
    Exclusion.IS_REQUESTER: "auteur(e) de la demande",
    Exclusion.DECLINED: "a décliné cette demande",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the dispatcher knows of one specialist of the requested specialty."""

    id: uuid.UUID
    name: str
    rotation: int = 0
    active: bool = True
    in_pool: bool = True
    on_schedule: bool = True
    absent: bool = False
    open_count: int = 0
    capacity: int = 1
    is_requester: bool = False
    declined: bool = False

    def exclusion(self) -> Exclusion | None:
        """Return the first rule this specialist fails, in the dispatcher's fixed order."""
        if not self.active:
            return Exclusion.INACTIVE
        if not self.in_pool:
            return Exclusion.NOT_IN_POOL
        if not self.on_schedule:
            return Exclusion.OFF_SCHEDULE
        if self.absent:
            return Exclusion.ABSENT
        if self.open_count >= self.capacity:
            return Exclusion.AT_CAPACITY
        if self.is_requester:
            return Exclusion.IS_REQUESTER
        if self.declined:
            return Exclusion.DECLINED
        return None


@dataclass(frozen=True, slots=True)
class Choice:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class Excluded:
    id: uuid.UUID
    name: str
    reason: Exclusion


@dataclass(frozen=True, slots=True)
class Decision:
    chosen: Choice | None
    eligible_count: int
    # Those left out with their reason; cut to a readable length in very large pools,
    # in which case ``excluded_counts`` still counts every one of them.
    excluded: tuple[Excluded, ...] = ()
    excluded_counts: dict[Exclusion, int] = field(default_factory=dict)


def rotation_key(candidate: Candidate) -> tuple[int, str]:
    """Order by least recently assigned, then by id."""
    return (candidate.rotation, str(candidate.id))


def decide(candidates: Iterable[Candidate]) -> Decision:
    """Choose the least recently assigned eligible candidate, or nobody."""
    eligible: list[Candidate] = []
    excluded: list[Excluded] = []
    for candidate in candidates:
        reason = candidate.exclusion()
        if reason is None:
            eligible.append(candidate)
        else:
            excluded.append(Excluded(candidate.id, candidate.name, reason))
    best = min(eligible, key=rotation_key) if eligible else None
    excluded.sort(key=lambda e: (e.name, str(e.id)))
    return Decision(
        chosen=Choice(best.id, best.name) if best else None,
        eligible_count=len(eligible),
        excluded=tuple(excluded),
        excluded_counts=dict(Counter(e.reason for e in excluded)),
    )


def explain(decision: Decision, pool_label: str) -> str:
    """Say in French why the decision is what it is (shown in the request's history)."""
    if decision.chosen is None:
        return f"{pool_label} : aucun spécialiste disponible"
    count = decision.eligible_count
    plural = "s" if count > 1 else ""
    return (
        f"rotation : {count} spécialiste{plural} éligible{plural} ({pool_label}), "
        f"{decision.chosen.name} est celui ou celle qui a reçu une demande le moins récemment"
    )


def excluded_detail(decision: Decision) -> list[dict[str, str]]:
    return [
        {
            "specialist_id": str(e.id),
            "name": e.name,
            "reason": e.reason.value,
            "label": EXCLUSION_LABELS[e.reason],
        }
        for e in decision.excluded
    ]
