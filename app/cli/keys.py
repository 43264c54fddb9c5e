"""``ess-router keys``: the data-encryption keys, managed while the servers run."""

import sys

import click

from app.cli.common import CommandError, load_settings, operator_errors, with_context
from app.context import AppContext
from app.services.keys import (
    count_encrypted,
    describe,
    live_holders,
    rewrap_all,
    stored_under,
    wait_for_take_up,
)
from security import keyfile
from security.crypto import KeyRing


@click.group(help="Clés de chiffrement des données.")
def keys() -> None:
    pass


@keys.command(
    "init",
    help="Crée le fichier de clés (mode 0600) d'une nouvelle installation, en prod comme en "
    "dev ; n'écrase jamais un fichier existant.",
)
def init() -> None:
    path = load_settings().key_file_path()
    with operator_errors():
        keyfile.create(path)
    click.echo(
        f"Fichier de clés créé : {path} (mode 0600) ; sauvegardez-le à part de la base de données."
    )


@keys.command(
    "rotate",
    help="Ajoute une clé, attend que les serveurs en marche l'adoptent, puis re-chiffre sous "
    "elle toutes les clés de données stockées (le contenu n'est pas touché).",
)
@click.option(
    "--wait",
    "wait_seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Attente maximale, en secondes, de l'adoption de la clé par les serveurs en marche.",
)
@with_context
async def rotate(context: AppContext, wait_seconds: float) -> None:
    path = context.settings.key_file_path()
    keyring = keyfile.load(path)
    version = keyring.add_key()
    keyfile.save(keyring, path)
    lagging = await wait_for_take_up(context.db, version, context.clock, within=wait_seconds)
    changed, total = await _rewrap(context, keyring)
    click.echo(
        f"Nouvelle clé active : version {version} ; {changed} valeur(s) re-chiffrée(s) sur {total}."
    )
    if lagging:
        click.echo(
            f"Attention : {len(lagging)} serveur(s) en marche n'utilisent pas encore la clé "
            f"version {version} : {describe(lagging)} ; donnez-leur le fichier de clés {path}, "
            "puis lancez ess-router keys rewrap.",
            err=True,
        )
    else:
        click.echo("L'ancienne clé peut être retirée : ess-router keys retire VERSION.")


@keys.command(
    "rewrap",
    help="Re-chiffre sous la clé active les clés de données qui dépendent encore d'une "
    "ancienne clé (rotation interrompue, serveur en retard).",
)
@with_context
async def rewrap(context: AppContext) -> None:
    keyring = keyfile.load(context.settings.key_file_path())
    changed, total = await _rewrap(context, keyring)
    click.echo(
        f"{changed} valeur(s) re-chiffrée(s) sous la clé version {keyring.active_version} "
        f"sur {total}."
    )


@keys.command(
    "retire",
    help="Retire une ancienne clé, dès que plus rien de stocké ni aucun serveur en marche "
    "n'en dépend.",
)
@click.argument("version", type=int)
@with_context
async def retire(context: AppContext, version: int) -> None:
    path = context.settings.key_file_path()
    keyring = keyfile.load(path)
    if version == keyring.active_version:
        raise CommandError(f"la version {version} est la clé active : impossible de la retirer")
    if version in keyring.retired_versions:
        raise CommandError(f"la clé version {version} est déjà retirée")
    if version not in keyring.versions:
        raise CommandError(f"aucune clé de version {version}")
    holders = await live_holders(context.db, context.clock.now())
    writers = [h for h in holders if h.active_version == version]
    if writers:
        raise CommandError(
            f"la clé version {version} chiffre encore les écritures de {len(writers)} serveur(s) "
            f"en marche : {describe(writers)} ; donnez-leur le fichier de clés {path} "
            "(ou arrêtez-les), puis réessayez"
        )
    left = await stored_under(context.db, version, context.settings.attachments_dir())
    if left:
        raise CommandError(
            f"{left} valeur(s) stockée(s) dépendent encore de la clé version {version} : "
            "lancez d'abord ess-router keys rewrap"
        )
    keyring.retire(version)
    keyfile.save(keyring, path)
    click.echo(f"Clé version {version} retirée (les serveurs en marche l'oublient d'eux-mêmes).")


async def _rewrap(context: AppContext, keyring: KeyRing) -> tuple[int, int]:
    attachments = context.settings.attachments_dir()
    total = await count_encrypted(context.db, attachments)
    with click.progressbar(
        length=total, label="Re-chiffrement des clés de données", file=sys.stderr
    ) as bar:
        changed = await rewrap_all(context.db, keyring, attachments, bar.update)
    return changed, total
