"""French e-mails from Jinja2 templates: a reference and a link, never clinical content.

Templates only ever receive the values built here (reference, priority, deadline,
the recipient's name and the link), so a template cannot leak the question, the
answer or the patient: they are not in its context.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models import NotificationKind, OutboxMessage
from models.outbox import ACCOUNT_KINDS
from security.tokens import link_token

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
    NotificationKind.INVITATION: "Votre compte de téléexpertise : choisissez votre mot de passe",
    NotificationKind.PASSWORD_RESET: "Réinitialisation de votre mot de passe",
    NotificationKind.EMAIL_CONFIRMATION: "Confirmez votre nouvelle adresse e-mail",
}

# The web page each account link opens, under ESS_BASE_URL.
ACCOUNT_PAGES = {
    NotificationKind.INVITATION: ("invitation", "Choisir mon mot de passe"),
    NotificationKind.PASSWORD_RESET: ("mot-de-passe", "Choisir un nouveau mot de passe"),
    NotificationKind.EMAIL_CONFIRMATION: ("confirmation-adresse", "Confirmer cette adresse"),
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


class RenderError(Exception):
    """The e-mail cannot be written (the reason is for the coordinator's list, in French)."""


def render(
    message: OutboxMessage,
    *,
    recipient_name: str,
    base_url: str,
    zone: ZoneInfo,
    link_secret: str | None = None,
    address: str = "",
) -> Email:
    """Build the e-mail for one outbox row (``link_secret`` writes account links)."""
    kind = NotificationKind(message.kind)
    if kind in ACCOUNT_KINDS:
        return _render_account(message, kind, recipient_name, base_url, zone, link_secret, address)
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
    return _email(kind, subject, context)


def _render_account(
    message: OutboxMessage,
    kind: NotificationKind,
    recipient_name: str,
    base_url: str,
    zone: ZoneInfo,
    link_secret: str | None,
    address: str,
) -> Email:
    if link_secret is None:
        raise RenderError("clé secrète absente : le lien ne peut pas être écrit")
    page, action_label = ACCOUNT_PAGES[kind]
    token = link_token(link_secret, uuid.UUID(str(message.params["token_id"])))
    expires = datetime.fromisoformat(str(message.params["expires_at"])).astimezone(zone)
    subject = "[ESS] " + SUBJECTS[kind]
    context = {
        "subject": subject,
        "recipient_name": recipient_name,
        "address": address,
        "link": f"{base_url}/{page}/{token}",
        "action_label": action_label,
        "expires_label": expires.strftime("%d/%m/%Y à %H:%M"),
    }
    return _email(kind, subject, context)


def _email(kind: NotificationKind, subject: str, context: dict[str, object]) -> Email:
    return Email(
        subject=subject,
        text=_environment.get_template(f"{kind.value}.txt.j2").render(context),
        html=_environment.get_template(f"{kind.value}.html.j2").render(context),
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
