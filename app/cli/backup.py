"""``ess-router backup`` and ``ess-router restore``: a copy of the installation, and back."""

from pathlib import Path

import click

from app.cli.common import CommandError, load_settings, operator_errors
from app.services.backup import BackupError, back_up
from app.services.restore import restore as restore_backup
from config import SystemClock
from security.keyfile import KeyFileError


@click.command(
    help="Sauvegarde l'installation dans DOSSIER (neuf ou vide), service en marche : une copie "
    "cohérente de la base, les pièces jointes, les réglages sans secrets et un manifeste avec "
    "l'empreinte SHA-256 de chaque fichier. Le fichier de clés n'y est que si on le demande "
    "(--include-keys) : gardez-le à part des sauvegardes de la base."
)
@click.argument("folder", metavar="DOSSIER", type=click.Path(path_type=Path))
@click.option(
    "--include-keys",
    is_flag=True,
    help="Copie aussi le fichier de clés (la sauvegarde devient aussi sensible que lui).",
)
def backup(folder: Path, include_keys: bool) -> None:
    settings = load_settings()
    with operator_errors():
        try:
            report = back_up(settings, folder, include_keys=include_keys, now=SystemClock().now())
        except (BackupError, KeyFileError) as exc:
            raise CommandError(str(exc)) from exc
    click.echo(
        f"Sauvegarde écrite dans {report.folder} : base {report.database}, "
        f"{report.attachments} pièce(s) jointe(s), {len(report.files)} fichier(s) vérifiables "
        "(manifest.json)."
    )
    if report.keys_included:
        click.echo("Le fichier de clés y est : conservez cette sauvegarde comme la clé elle-même.")
    else:
        click.echo(
            f"Le fichier de clés n'y est pas : sauvegardez {report.key_file} à part "
            "(sans lui, la sauvegarde est illisible)."
        )


@click.command(
    help="Restaure la sauvegarde de DOSSIER dans l'installation vide que désignent les réglages "
    "(ESS_DATABASE_URL, ESS_DATA_DIR, ESS_DATA_KEY_FILE), après avoir vérifié l'empreinte de "
    "chaque fichier ; refuse une base ou un dossier de pièces jointes déjà remplis."
)
@click.argument(
    "folder", metavar="DOSSIER", type=click.Path(path_type=Path, exists=True, file_okay=False)
)
def restore(folder: Path) -> None:
    settings = load_settings()
    with operator_errors():
        try:
            report = restore_backup(settings, folder)
        except (BackupError, KeyFileError) as exc:
            raise CommandError(str(exc)) from exc
    click.echo(
        f"Sauvegarde restaurée : base {report.database} (migration {report.revision or '?'}), "
        f"{report.attachments} pièce(s) jointe(s), fichier de clés {report.key_file}"
        + (" (repris de la sauvegarde)." if report.keys_from_backup else ".")
    )
    if report.missing_key_versions:
        click.echo(
            "Attention : le fichier de clés n'a plus la ou les clés n° "
            + ", ".join(str(v) for v in report.missing_key_versions)
            + " qu'il avait à la sauvegarde ; ce qu'elles chiffraient sera illisible.",
            err=True,
        )
    if report.replaced_checkpoint is not None:
        click.echo(
            f"L'ancien point de contrôle du journal d'audit est gardé dans "
            f"{report.replaced_checkpoint}."
        )
    click.echo("Lancez « ess-router audit verify », puis « ess-router serve ».")
