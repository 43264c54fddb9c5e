"""``ess-router user reset-totp``: the operator removes a lost second factor."""

import click

from app.cli.common import with_context
from app.context import AppContext
from app.services import second_factor
from app.services.users import get_user_by_email


@click.command(
    "reset-totp",
    help="Retire la double authentification d'un compte (téléphone perdu) : à la prochaine "
    "connexion, il l'active de nouveau si elle est obligatoire.",
)
@click.argument("email")
@with_context
async def reset_totp(context: AppContext, email: str) -> None:
    async with context.db.transaction() as session:
        account = await get_user_by_email(session, email)
        removed = await second_factor.reset(session, account, now=context.clock.now())
    if removed:
        click.echo(f"Double authentification retirée du compte {account.email}.")
    else:
        click.echo(f"Le compte {account.email} n'a pas de double authentification.")
