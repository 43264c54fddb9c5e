"""``ess-router token``: a bearer token for API clients and scripts."""

from datetime import timedelta

import click

from app.auth import issue_token
from app.cli.common import CommandError, with_context
from app.context import AppContext
from app.services.users import get_user_by_email


@click.command(help="Affiche un jeton d'accès (bearer) pour ce compte (API, scripts).")
@click.argument("email")
@click.option(
    "--ttl",
    default=None,
    type=click.IntRange(60, 31_536_000),
    help="Durée de validité en secondes (par défaut ESS_TOKEN_TTL).",
)
@with_context
async def token(context: AppContext, email: str, ttl: int | None) -> None:
    async with context.db.reading() as session:
        found = await get_user_by_email(session, email)
    if not found.active:
        raise CommandError(f"le compte {email} est désactivé")
    expiration = timedelta(seconds=ttl) if ttl else context.settings.token_ttl
    click.echo(issue_token(context.jwt_auth, found, expiration=expiration))
