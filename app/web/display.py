"""How the pages show times, deadlines, statuses and people: French words, Paris time."""

import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from models import Outcome, Priority, Status
from models.lifecycle import STATUS_LABELS
from models.request import SlaState


class RequestLike(Protocol):
    status: Status
    acknowledge_due_at: datetime | None
    answer_due_at: datetime | None


WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

# The badge's words start with a capital: they stand alone in a table cell.
STATUS_BADGES = {status: label[:1].upper() + label[1:] for status, label in STATUS_LABELS.items()}
# A CSS class per group of statuses (colour is never the only signal: the words say it).
STATUS_TONES = {
    Status.PENDING: "waiting",
    Status.ASSIGNED: "waiting",
    Status.ACCEPTED: "active",
    Status.AWAITING_INFO: "attention",
    Status.ANSWERED: "done",
    Status.CLOSED: "closed",
    Status.CANCELLED: "closed",
}
SLA_LABELS = {
    SlaState.OK: "dans les délais",
    SlaState.WARNING: "délai bientôt atteint",
    SlaState.BREACHED: "délai dépassé",
}
PRIORITY_LABELS = {Priority.URGENT: "Urgente", Priority.STANDARD: "Standard"}
OUTCOME_LABELS = {
    Outcome.ADVICE: "Avis (pas de consultation nécessaire)",
    Outcome.CONSULTATION: "Consultation",
    Outcome.ADVANCED_CONSULTATION: "Consultation avancée",
    Outcome.HOSPITAL_REFERRAL: "Orientation vers l'hôpital",
}
SEX_LABELS = {"F": "Femme", "M": "Homme"}
# Field names (the API's) as the error summary names them.
FIELD_LABELS = {
    "email": "Adresse e-mail",
    "password": "Mot de passe",
    "password_confirmation": "Confirmation du mot de passe",
    "current_password": "Mot de passe actuel",
    "new_password": "Nouveau mot de passe",
    "otp": "Code de vérification",
    "specialty": "Spécialité",
    "subspecialty": "Sur-spécialité",
    "priority": "Priorité",
    "question": "Question",
    "patient.last_name": "Nom du patient",
    "patient.first_name": "Prénom du patient",
    "patient.birth_date": "Date de naissance",
    "patient.sex": "Sexe",
    "patient.ins": "INS",
    "consent": "Consentement",
    "file": "Pièces jointes",
    "body": "Message",
    "usefulness": "Utilité de l'avis",
    "referral_avoided": "Adressage évité",
    "comment": "Commentaire",
    "answer": "Réponse",
    "outcome": "Suite donnée",
    "appointment_at": "Rendez-vous",
    "reason": "Motif",
    "assignee_id": "Spécialiste",
    "request_info": "Demande d'informations",
    "title": "Titre du modèle",
    "template_id": "Modèle",
    "start": "Début",
    "end": "Fin",
    "slots": "Planning",
    "new-specialty.code": "Code de la spécialité",
    "new-specialty.name": "Nom de la spécialité",
    "new-subspecialty.specialty": "Spécialité de la sur-spécialité",
    "new-subspecialty.code": "Code de la sur-spécialité",
    "new-subspecialty.name": "Nom de la sur-spécialité",
    "roster-file": "Fichier CSV du tableau",
}


def specialty_names(specialties: Iterable[Any]) -> dict[str, str]:
    """Names by code: ``cardiologie`` and ``cardiologie/rythmologie``."""
    names = {s.code: s.name for s in specialties}
    for s in specialties:
        for sub in s.subspecialties:
            names[f"{s.code}/{sub.code}"] = sub.name
    return names


def french_datetime(value: datetime | None, zone: ZoneInfo) -> str:
    """« lundi 30 novembre 2026 à 14 h 05 », in the ESS's time zone."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    return f"{french_date(local.date(), weekday=True)} à {clock_time(local)}"


def french_date(value: date | None, *, weekday: bool = False) -> str:
    """« 12 avril 1956 » (« 1er » for the first of a month), with the weekday if asked."""
    if value is None:
        return ""
    day = "1er" if value.day == 1 else str(value.day)
    text = f"{day} {MONTHS[value.month - 1]} {value.year}"
    return f"{WEEKDAYS[value.weekday()]} {text}" if weekday else text


def clock_time(local: datetime) -> str:
    """« 14 h 05 », with no-break spaces: a time never splits over two lines."""
    return f"{local.hour}\u00a0h\u00a0{local.minute:02d}"


def short_datetime(value: datetime | None, zone: ZoneInfo) -> str:
    """« 30/11/2026 14 h 05 »: for tables, where the long form does not fit a phone."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    return f"{local:%d/%m/%Y} {clock_time(local)}"


def duration(delta: timedelta) -> str:
    """« 2 j 3 h », « 3 h 20 min », « 12 min »: the two largest units."""
    minutes = max(0, math.ceil(delta.total_seconds() / 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} j {hours} h" if hours else f"{days} j"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def commitment(delta: timedelta) -> str:
    """A service-level delay as people say it: « 24 h », « 2 h », « 30 min »."""
    minutes = math.ceil(delta.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"


def remaining(due: datetime | None, now: datetime) -> str:
    """« dans 3 h 20 min » or « dépassé de 2 h » (calendar time, as the clock runs)."""
    if due is None:
        return ""
    if due >= now:
        return f"dans {duration(due - now)}"
    return f"dépassé de {duration(now - due)}"


def file_size(size: int) -> str:
    """« 320 ko », « 2,4 Mo »."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} ko"
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


def deadline(request: RequestLike, now: datetime) -> tuple[str, datetime | None]:
    """What the request waits for now and until when: the label and the deadline."""
    status = request.status
    if status == Status.ASSIGNED and request.acknowledge_due_at is not None:
        return "Prise en charge attendue", request.acknowledge_due_at
    if status in (Status.PENDING, Status.ASSIGNED, Status.ACCEPTED):
        return "Réponse attendue", request.answer_due_at
    if status == Status.AWAITING_INFO:
        return "Délai suspendu : le spécialiste attend vos informations", None
    return "", None


def decimal_fr(value: float | None, digits: int = 1) -> str:
    """« 12,5 », « — » when there is no value."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", ",")


def hours_fr(value: float | None) -> str:
    """A delay in hours: « 12,5 h » (« — » when no request counted)."""
    return "—" if value is None else f"{decimal_fr(value)}\u00a0h"


def percent_fr(value: float | None) -> str:
    """A rate (0–1) as « 87,5 % »."""
    return "—" if value is None else f"{decimal_fr(value * 100)}\u00a0%"
