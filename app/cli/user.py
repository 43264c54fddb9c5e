"""``ess-router user``: accounts."""

import getpass
import os
import sys

import click

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.users import create_user
from models import UserCreate


@click.group(help="Comptes utilisateurs.")
def user() -> None:
    pass


@user.command("create", help="Crée un compte et affiche son identifiant.")
@click.option(
    "--role", required=True, type=click.Choice(["requester", "specialist", "coordinator"])
)
@click.option("--email", required=True)
@click.option("--name", required=True, help="Nom affiché.")
@click.option("--rpps", default=None, help="Numéro RPPS (11 chiffres).")
@click.option(
    "--password", default=None, help="Demandé (ou lu dans ESS_NEW_PASSWORD) s'il est omis."
)
@click.option("--specialty", default=None, help="Code de la spécialité (spécialistes).")
@click.option("--subspecialty", "subspecialties", multiple=True, help="Code d'une surspécialité.")
@click.option(
    "--capacity",
    default=None,
    type=click.IntRange(0, 1000),
    help="Demandes ouvertes à la fois (spécialistes).",
)
@click.option("--treating-physician", is_flag=True, help="Médecin traitant (demandeurs).")
@with_context
async def create(
    context: AppContext,
    role: str,
    email: str,
    name: str,
    rpps: str | None,
    password: str | None,
    specialty: str | None,
    subspecialties: tuple[str, ...],
    capacity: int | None,
    treating_physician: bool,
) -> None:
    data = UserCreate(
        role=role,
        email=email,
        name=name,
        rpps=rpps,
        password=password or os.environ.get("ESS_NEW_PASSWORD") or _prompt_password(),
        specialty=specialty,
        subspecialties=list(subspecialties),
        capacity=capacity,
        treating_physician=treating_physician,
    )
    async with context.db.transaction() as session:
        created = await create_user(
            session,
            data,
            now=context.clock.now(),
            default_capacity=context.settings.default_capacity,
        )
        created_id = created.id
    click.echo(str(created_id))


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise CommandError("mot de passe requis : --password, ESS_NEW_PASSWORD, ou un terminal")
    first = getpass.getpass("Mot de passe : ")
    if first != getpass.getpass("Confirmez : "):
        raise CommandError("les deux mots de passe diffèrent")
    return first
