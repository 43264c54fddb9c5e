"""``ess-router keys``: the data-encryption keys."""

import sys

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.keys import count_encrypted, rewrap_all, still_under_old_keys
from security import keyfile


@click.group(help="Clés de chiffrement des données.")
def keys() -> None:
    pass


@keys.command(
    "rotate",
    help="Ajoute une clé et re-chiffre sous elle toutes les clés de données stockées "
    "(le contenu n'est pas touché).",
)
@with_context
async def rotate(context: AppContext) -> None:
    settings = context.settings
    keyring = context.vault.keyring
    version = keyring.add_key()
    keyfile.save(keyring, settings.key_file_path())
    total = await count_encrypted(context.db, settings.attachments_dir())
    with click.progressbar(
        length=total, label="Re-chiffrement des clés de données", file=sys.stderr
    ) as bar:
        changed = await rewrap_all(context.db, keyring, settings.attachments_dir(), bar.update)
    click.echo(
        f"Nouvelle clé active : version {version} ; {changed} valeur(s) re-chiffrée(s) "
        f"sur {total}. L'ancienne clé peut être retirée : ess-router keys retire VERSION."
    )


@keys.command("retire", help="Retire une ancienne clé dès que plus rien de stocké n'en dépend.")
@click.argument("version", type=int)
@with_context
async def retire(context: AppContext, version: int) -> None:
    keyring = context.vault.keyring
    if version == keyring.active_version:
        raise CommandError(f"la version {version} est la clé active : impossible de la retirer")
    if version not in keyring.versions:
        raise CommandError(f"aucune clé de version {version}")
    left = await still_under_old_keys(context.db, keyring, context.settings.attachments_dir())
    if left:
        raise CommandError(
            f"{left} valeur(s) dépendent encore d'une ancienne clé : "
            "lancez d'abord ess-router keys rotate"
        )
    keyring.retire(version)
    keyfile.save(keyring, context.settings.key_file_path())
    click.echo(f"Clé version {version} retirée.")
