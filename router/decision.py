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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


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


class Rule(StrEnum):
    """What a dispatch event says decided it (``detail["rule"]``)."""

    ROTATION = "least_recently_assigned"
    NOBODY = "nobody_eligible"
    WAITING = "waiting_for_opening"
    MANUAL = "manual"


class Alarm(StrEnum):
    """Whether, and how, the coordinators hear of a request left ``pending``."""

    NONE = "none"
    NOW = "now"  # its own e-mail at once: the ESS is open and nobody can take it
    DIGEST = "digest"  # into the coordinators' digest, sent after the gathering delay
    DIGEST_AT_OPENING = "digest_at_opening"  # into the digest, sent when the ESS opens


def pending_alarm(
    *, closed: bool, waiting: bool, urgent: bool, was_waiting: bool, retry: bool
) -> Alarm:
    """Tell whether a request nobody can take now is worth an alarm, and when.

    ``closed``: the calendar is closed now; ``waiting``: someone of the pool will be
    eligible at the next opening, so the request waits for it. Nobody is alarmed
    for a request that will be with a specialist at opening, unless it is urgent
    (nobody on call). An alarm about work that can only start at opening is sent
    at opening, gathered with the others; an urgent one after the short gathering
    delay. A new attempt (``retry``) is news only when a promised opening will find
    nobody after all (an absence declared in the night, nobody there at opening).
    """
    if retry:
        if not (was_waiting and not waiting):
            return Alarm.NONE
        return Alarm.DIGEST_AT_OPENING if closed and not urgent else Alarm.DIGEST
    if not closed:
        return Alarm.NOW
    if urgent:
        return Alarm.DIGEST
    return Alarm.NONE if waiting else Alarm.DIGEST_AT_OPENING


WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def local_label(instant: datetime, zone: ZoneInfo) -> str:
    """Say an instant in French local time: « lundi 07/12/2026 à 08:00 »."""
    local = instant.astimezone(zone)
    return f"{WEEKDAYS[local.weekday()]} {local:%d/%m/%Y} à {local:%H:%M}"


def explain_closed(at_opening: Decision, pool_label: str, opening: str) -> str:
    """Say in French why a request sent while the ESS is closed is left ``pending``."""
    count = at_opening.eligible_count
    if count == 0:
        return (
            f"ESS fermée, personne de garde ({pool_label}), et personne ne sera disponible "
            f"à l'ouverture, {opening}"
        )
    plural = "s" if count > 1 else ""
    verb = "seront" if count > 1 else "sera"
    return (
        f"ESS fermée, personne de garde ({pool_label}) : en attente de l'ouverture, {opening}, "
        f"où {count} spécialiste{plural} {verb} éligible{plural}"
    )


def participant_reason(detail: Mapping[str, Any]) -> str:
    """What the requester reads of a ``pending`` event: no names, no reasons, the time."""
    if detail.get("rule") == Rule.WAITING and detail.get("opening"):
        return (
            "En attente de l'ouverture de l'ESS : la demande sera confiée à un spécialiste "
            f"{detail['opening']}."
        )
    return "Aucun spécialiste disponible pour l'instant : la demande attend."


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
