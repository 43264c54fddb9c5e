"""French e-mails from Jinja2 templates: a reference and a link, never clinical content.

Templates only ever receive the values built here (reference, priority, deadline,
the recipient's name and the link), so a template cannot leak the question, the
answer or the patient: they are not in its context.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models import NotificationKind, OutboxMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"

SUBJECTS = {
    NotificationKind.ASSIGNED: "Nouvelle demande de téléexpertise {reference}",
    NotificationKind.ANSWERED: "Réponse à votre demande {reference}",
    NotificationKind.INFO_REQUESTED: "Informations demandées – demande {reference}",
    NotificationKind.NEW_MESSAGE: "Nouveau message – demande {reference}",
    NotificationKind.NEW_ATTACHMENT: "Nouvelle pièce jointe – demande {reference}",
    NotificationKind.PENDING: "Demande {reference} en attente d'attribution",
    NotificationKind.SLA_WARNING: "Délai bientôt atteint – demande {reference}",
    NotificationKind.SLA_BREACH: "Délai dépassé – demande {reference}",
    NotificationKind.ACK_MISSED: "Demande {reference} réattribuée",
    NotificationKind.WAITING_DIGEST: "{count} en attente sans spécialiste",
}

DEADLINE_LABELS = {"acknowledge": "d'accusé de réception", "answer": "de réponse"}
PRIORITY_LABELS = {"urgent": "urgente", "standard": "standard"}

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def render(message: OutboxMessage, *, recipient_name: str, base_url: str, zone: ZoneInfo) -> Email:
    """Build the e-mail for one outbox row."""
    params = message.params
    reference = str(params.get("reference", ""))
    due = params.get("due_at")
    due_label = (
        datetime.fromisoformat(due).astimezone(zone).strftime("%d/%m/%Y à %H:%M") if due else ""
    )
    context = {
        "recipient_name": recipient_name,
        "reference": reference,
        "link": f"{base_url}/demandes/{message.request_id}" if message.request_id else base_url,
        "priority_label": PRIORITY_LABELS.get(str(params.get("priority", "")), "standard"),
        "deadline_label": DEADLINE_LABELS.get(str(params.get("deadline", "")), ""),
        "due_label": due_label,
    }
    items = [_digest_item(item, base_url, zone) for item in params.get("items", [])]
    context["items"] = items
    count = f"{len(items)} demande{'s' if len(items) > 1 else ''}"
    subject = "[ESS] " + SUBJECTS[NotificationKind(message.kind)].format(
        reference=reference, count=count
    )
    context["subject"] = subject
    kind = NotificationKind(message.kind).value
    return Email(
        subject=subject,
        text=_environment.get_template(f"{kind}.txt.j2").render(context),
        html=_environment.get_template(f"{kind}.html.j2").render(context),
    )


def _local(iso: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%d/%m/%Y à %H:%M")


def _digest_item(item: dict, base_url: str, zone: ZoneInfo) -> dict[str, str]:
    """One line of the coordinators' digest: the reference, why it waits, the link."""
    urgent = item.get("priority") == "urgent"
    waiting = item.get("waiting_until")
    if urgent and waiting:
        why = f"urgente, personne d'astreinte : attribuée à l'ouverture, le {_local(waiting, zone)}"
    elif urgent:
        why = "urgente, personne d'astreinte et aucun spécialiste disponible à l'ouverture"
    else:
        why = "aucun spécialiste disponible à l'ouverture"
    return {
        "reference": str(item.get("reference", "")),
        "why": why,
        "link": f"{base_url}/demandes/{item.get('request_id')}",
    }
