"""``ess-router audit``: the audit trail."""

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from models.audit import verify as verify_chain
from security.audit_anchor import AnchorError, checkpoint_path
from security.audit_anchor import read as read_checkpoint


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
    path = checkpoint_path(context.settings.key_file_path())
    try:
        checkpoint = read_checkpoint(path, context.vault.keyring)
    except AnchorError as exc:
        raise CommandError(str(exc)) from exc
    reach = None if checkpoint is None else (checkpoint.seq, checkpoint.hash)
    checked, broken = await verify_chain(context.db, reach=reach)
    if broken is not None and broken.truncated:
        assert checkpoint is not None
        raise CommandError(
            f"journal d'audit tronqué : {broken.reason} (point de contrôle du "
            f"{checkpoint.at:%d/%m/%Y à %H:%M:%S})"
        )
    if broken is not None:
        raise CommandError(
            f"journal d'audit altéré à l'entrée n° {broken.seq} : {broken.reason} "
            f"({checked} entrée(s) intègre(s) avant elle)"
        )
    if checkpoint is None:
        click.echo(
            f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s) ; pas encore de point de "
            "contrôle (écrit par le service en marche) : une troncature ne serait pas vue."
        )
    else:
        click.echo(
            f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s) ; la chaîne atteint son "
            f"point de contrôle (entrée n° {checkpoint.seq})."
        )
