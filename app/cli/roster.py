"""``ess-router roster``: the specialists of the ESS in bulk, from a CSV file."""

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.roster import import_roster


@click.group(help="L'annuaire des spécialistes en masse.")
def roster() -> None:
    pass


@roster.command(
    "import",
    help="Crée ou met à jour les spécialistes d'un fichier CSV (colonnes : voir le README).\n\n"
    "Toutes les lignes sont vérifiées d'abord : si une seule est fausse, rien n'est importé.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_context
async def import_(context: AppContext, file: Path) -> None:
    content = await asyncio.to_thread(file.read_bytes)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("Vérification", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        async with context.db.transaction() as session:
            report = await import_roster(
                session,
                content,
                apply=True,
                now=context.clock.now(),
                policy=context.policy,
                settings=context.settings,
                progress=advance,
            )
    if report.errors:
        for error in report.errors:
            for reason in error.reasons:
                click.echo(f"ligne {error.line} : {reason}", err=True)
        raise CommandError(
            f"{len(report.errors)} ligne(s) invalide(s) dans {file.name} : rien n'a été importé"
        )
    click.echo(
        f"{report.created} créé(s), {report.updated} mis à jour, {report.unchanged} inchangé(s)."
    )
