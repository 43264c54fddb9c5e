"""``ess-router outbox``: the e-mail notifications waiting, sent or failed."""

import uuid

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.outbox import list_notifications, retry
from models import OutboxStatus
from notifications.sender import OutboxSender


@click.group(help="Notifications par e-mail en attente, envoyées ou en échec.")
def outbox() -> None:
    pass


@outbox.command("send", help="Envoie maintenant toutes les notifications dues (un passage).")
@with_context
async def send(context: AppContext) -> None:
    sender = OutboxSender(
        context.db,
        context.clock,
        context.settings.smtp,
        base_url=context.settings.base_url,
        zone=context.zone,
        link_secret=context.settings.resolved_secret_key(),
    )
    total = 0
    while (sent := await sender.send_due()) > 0:
        total += sent
    if not context.settings.smtp.host:
        click.echo(
            "Aucun serveur SMTP configuré (ESS_SMTP__HOST) : les notifications restent "
            "en attente (held)."
        )
    else:
        click.echo(f"{total} notification(s) envoyée(s).")


@outbox.command(
    "list", help="Liste les dernières notifications.\n\nSans leur contenu : elles n'en portent pas."
)
@click.option("--status", type=click.Choice(["pending", "held", "sent", "failed"]), default=None)
@with_context
async def list_(context: AppContext, status: str | None) -> None:
    async with context.db.reading() as session:
        found = await list_notifications(session, OutboxStatus(status) if status else None)
    if not found:
        click.echo("Aucune notification.")
    for row in found:
        error = f"  {row.last_error}" if row.last_error else ""
        click.echo(
            f"{row.id}  {row.status:<8} {row.kind:<15} {row.reference or '-':<15} "
            f"essais={row.attempts}{error}"
        )


@outbox.command(
    "retry",
    help="Remet des notifications en file d'envoi.\n\n"
    "Une seule (ID) ou toutes celles en échec (--failed).",
)
@click.argument("notification_id", required=False)
@click.option(
    "--failed", "all_failed", is_flag=True, help="Remet en file toutes les notifications en échec."
)
@with_context
async def retry_(context: AppContext, notification_id: str | None, all_failed: bool) -> None:
    if bool(notification_id) == all_failed:
        raise CommandError("indiquez soit un identifiant de notification, soit --failed")
    try:
        target = uuid.UUID(notification_id) if notification_id else None
    except ValueError as exc:
        raise CommandError(f"identifiant invalide : {notification_id}") from exc
    async with context.db.transaction() as session:
        count = await retry(session, target, now=context.clock.now())
    click.echo(f"{count} notification(s) remise(s) en file d'envoi.")
