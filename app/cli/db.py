"""``ess-router db``: the database schema."""

import asyncio

import click

from app.cli.common import load_settings
from migrations import upgrade_database


@click.group(help="Schéma de la base de données.")
def db() -> None:
    pass


@db.command("upgrade", help="Applique les migrations en attente, puis s'arrête.")
def upgrade() -> None:
    settings = load_settings()
    asyncio.run(upgrade_database(settings.database_url))
    click.echo("Base de données à jour.")
