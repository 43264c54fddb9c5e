"""``ess-router user``: accounts."""

import getpass
import os
import sys

import click
from rich.console import Console
from rich.table import Table

from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.accounts import invite, set_password
from app.services.users import (
    create_user,
    get_user_by_email,
    list_users,
    update_user,
)
from models import Role, UserCreate, UserUpdate


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
@click.option(
    "--invite",
    "invite_",
    is_flag=True,
    help="Sans mot de passe : envoie au nouvel utilisateur une invitation à le choisir.",
)
@click.option("--specialty", default=None, help="Code de la spécialité (spécialistes).")
@click.option(
    "--subspecialty",
    "subspecialties",
    multiple=True,
    help="Code d'une sur-spécialité ; répétez l'option pour en donner plusieurs.",
)
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
    invite_: bool,
    specialty: str | None,
    subspecialties: tuple[str, ...],
    capacity: int | None,
    treating_physician: bool,
) -> None:
    if invite_ and password:
        raise CommandError("--invite et --password s'excluent : l'invité choisit son mot de passe")
    data = UserCreate(
        role=role,
        email=email,
        name=name,
        rpps=rpps,
        password=None
        if invite_
        else password or os.environ.get("ESS_NEW_PASSWORD") or _prompt_password(),
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
        if invite_:
            await invite(session, created, now=context.clock.now(), settings=context.settings)
    click.echo(str(created_id))
    if invite_:
        click.echo(f"Invitation envoyée à {data.email}.", err=True)


@user.command("list", help="Liste les comptes.")
@click.option("--role", default=None, type=click.Choice(["requester", "specialist", "coordinator"]))
@with_context
async def list_(context: AppContext, role: str | None) -> None:
    async with context.db.reading() as session:
        found = await list_users(session, Role(role) if role else None)
    if not found:
        click.echo("Aucun compte.")
        return
    table = Table("E-mail", "Nom", "Rôle", "Actif", "Spécialité")
    for account in found:
        table.add_row(
            account.email,
            account.name,
            account.role,
            "oui" if account.active else "non",
            account.specialty_code or "-",
        )
    console = Console()
    if not console.is_terminal:
        # Piped into a file or a script: never wrap or cut an address.
        console = Console(width=1000)
    console.print(table)


@user.command("set-password", help="Change le mot de passe d'un compte.")
@click.argument("email")
@with_context
async def set_password_(context: AppContext, email: str) -> None:
    password = os.environ.get("ESS_NEW_PASSWORD") or _prompt_password()
    async with context.db.transaction() as session:
        account = await get_user_by_email(session, email)
        await set_password(session, account, password, now=context.clock.now())
    click.echo(f"Mot de passe changé pour {account.email} ; ses sessions ouvertes sont fermées.")


@user.command("deactivate", help="Désactive un compte : il ne peut plus se connecter.")
@click.argument("email")
@with_context
async def deactivate(context: AppContext, email: str) -> None:
    await _set_active(context, email, active=False)


@user.command("reactivate", help="Réactive un compte désactivé.")
@click.argument("email")
@with_context
async def reactivate(context: AppContext, email: str) -> None:
    await _set_active(context, email, active=True)


async def _set_active(context: AppContext, email: str, *, active: bool) -> None:
    done = "réactivé" if active else "désactivé"
    async with context.db.transaction() as session:
        account = await get_user_by_email(session, email)
        if account.active == active:
            click.echo(f"Le compte {account.email} est déjà {'actif' if active else done}.")
            return
        await update_user(
            session,
            account,
            UserUpdate(active=active),
            now=context.clock.now(),
            policy=context.policy,
        )
    click.echo(f"Compte {account.email} {done}.")


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise CommandError("mot de passe requis : --password, ESS_NEW_PASSWORD, ou un terminal")
    first = getpass.getpass("Mot de passe : ")
    if first != getpass.getpass("Confirmez : "):
        raise CommandError("les deux mots de passe diffèrent")
    return first
