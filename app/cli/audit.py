"""``ess-router audit``: the audit trail."""

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from models.audit import verify as verify_chain


@click.group(help="Journal d'audit.")
def audit() -> None:
    pass


@audit.command(
    "verify",
    help="Vérifie la chaîne d'empreintes du journal d'audit ; code de sortie 1 à la "
    "première entrée rompue.",
)
@with_context
async def verify(context: AppContext) -> None:
    checked, broken = await verify_chain(context.db)
    if broken is not None:
        raise CommandError(
            f"journal d'audit altéré à l'entrée n° {broken.seq} : {broken.reason} "
            f"({checked} entrée(s) intègre(s) avant elle)"
        )
    click.echo(f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s).")
