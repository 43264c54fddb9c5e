"""The ``ess-router`` command line: one module per command group, ``main`` as the entry point."""

import sys

import click

from app.cli.audit import audit
from app.cli.backup import backup, restore
from app.cli.db import db
from app.cli.keys import keys
from app.cli.outbox import outbox
from app.cli.report import report
from app.cli.roster import roster
from app.cli.serve import serve
from app.cli.token import token
from app.cli.totp import reset_totp
from app.cli.user import user
from security.files import use_private_umask

__all__ = ["cli", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Téléexpertise d'une équipe de soins spécialisés (ESS).",
)
def cli() -> None:
    pass


for command in (serve, db, user, token, roster, outbox, keys, audit, report, backup, restore):
    cli.add_command(command)
user.add_command(reset_totp)


def main() -> None:
    """Run the command line, turning every failure into one line on standard error."""
    # Whatever a command writes (database, keys, attachments, reports) is the user's only.
    use_private_umask()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ess-router: interrompu", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # usage errors and every CommandError
        click.echo(f"ess-router: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        click.echo(f"ess-router: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # database unreachable, broken schema…: still one line
        click.echo(
            f"ess-router: erreur inattendue ({type(exc).__name__}: {_first_line(exc)})", err=True
        )
        sys.exit(1)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""
