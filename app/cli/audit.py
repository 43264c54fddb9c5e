"""``ess-router audit``: the audit trail."""

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.operations import verify_audit


@click.group(help="Journal d'audit.")
def audit() -> None:
    pass


@audit.command(
    "verify",
    help="Vérifie la chaîne d'empreintes du journal d'audit et qu'elle atteint son dernier "
    "point de contrôle ; code de sortie 1 à la première entrée rompue ou manquante.",
)
@with_context
async def verify(context: AppContext) -> None:
    verdict = await verify_audit(context)
    if not verdict.sound:
        raise CommandError(verdict.message)
    click.echo(verdict.message)
