"""``/coordination/exploitation``: notifications held or failed (with retry), the audit
chain's state on demand, the data keys' versions. Services: ``outbox``, ``operations``."""

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import requires
from app.context import AppContext
from app.services import operations, outbox
from app.services import people as people_service
from app.services.operations import AuditVerdict
from app.web.templating import flash_cookie, page
from models import NotificationKind, OutboxStatus, Role

KIND_LABELS = {
    NotificationKind.ASSIGNED: "Nouvelle demande (spécialiste)",
    NotificationKind.ANSWERED: "Réponse (demandeur)",
    NotificationKind.INFO_REQUESTED: "Informations demandées",
    NotificationKind.NEW_MESSAGE: "Nouveau message",
    NotificationKind.NEW_ATTACHMENT: "Nouvelle pièce jointe",
    NotificationKind.PENDING: "Demande en attente (coordination)",
    NotificationKind.SLA_WARNING: "Délai bientôt atteint",
    NotificationKind.SLA_BREACH: "Délai dépassé",
    NotificationKind.ACK_MISSED: "Demande réattribuée",
    NotificationKind.WAITING_DIGEST: "Récapitulatif des demandes en attente",
    NotificationKind.INVITATION: "Invitation",
    NotificationKind.PASSWORD_RESET: "Réinitialisation du mot de passe",
    NotificationKind.EMAIL_CONFIRMATION: "Confirmation d'adresse",
}
SHOWN = (OutboxStatus.FAILED, OutboxStatus.HELD)


async def operations_context(
    session: AsyncSession, context: AppContext, audit: AuditVerdict | None = None
) -> dict[str, Any]:
    rows = []
    for status in SHOWN:
        rows += await outbox.list_notifications(session, status)
    people = await people_service.load(session, [row.recipient_id for row in rows])
    return {
        "section": "coordination",
        "tab": "operations",
        "notifications": rows,
        "names": {pid: person.name for pid, person in people.by_id.items()},
        "kind_labels": KIND_LABELS,
        "failed_count": sum(1 for row in rows if row.status == OutboxStatus.FAILED),
        "smtp_configured": context.settings.smtp.host is not None,
        "keys": operations.key_state(context),
        "audit": audit,
    }


class OperationsController(Controller):
    path = "/coordination/exploitation"
    guards = [requires(Role.COORDINATOR)]

    @get("/", name="web_operations")
    async def show(
        self,
        request: Request[Any, Any, Any],
        read_session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
    ) -> Template:
        """Notifications waiting or given up, the keys; the audit check on demand."""
        return page(
            request,
            "coordination/operations.html",
            **await operations_context(read_session, context),
        )

    @post("/audit", name="web_audit_verify")
    async def audit(
        self,
        request: Request[Any, Any, Any],
        read_session: NamedDependency[AsyncSession],
        context: NamedDependency[AppContext],
    ) -> Template:
        """Check the audit chain now (as ``ess-router audit verify``) and show the verdict."""
        verdict = await operations.verify_audit(context)
        return page(
            request,
            "coordination/operations.html",
            **await operations_context(read_session, context, verdict),
        )

    @post("/notifications/relance", name="web_retry_failed")
    async def retry_failed(
        self, session: NamedDependency[AsyncSession], now: NamedDependency[Any]
    ) -> Redirect:
        """Put every failed notification back in the queue."""
        await outbox.retry(session, None, now=now)
        return Redirect(
            "/coordination/exploitation", status_code=303, cookies=[flash_cookie("retried")]
        )

    @post("/notifications/{notification_id:uuid}/relance", name="web_retry_one")
    async def retry_one(
        self,
        notification_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[Any],
    ) -> Redirect:
        """Put one notification back in the queue."""
        await outbox.retry(session, notification_id, now=now)
        return Redirect(
            "/coordination/exploitation", status_code=303, cookies=[flash_cookie("retried")]
        )
