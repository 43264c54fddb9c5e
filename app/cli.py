"""The ``ess-router`` command line."""

import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from config import ConfigurationError, get_settings
from config.settings import Settings
from models.errors import DomainError
from security.crypto import KeyFileError

T = TypeVar("T")


class CommandError(Exception):
    """A one-line message for the operator; the command exits non-zero."""


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coro_fn())


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandError(f"réglage invalide ESS_{where.upper()}: {first['msg']}") from exc


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "valeur"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{field} : {message}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Téléexpertise d'une équipe de soins spécialisés (ESS)."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", is_flag=True, help="Seed a demo ESS into an empty database.")
def serve(host: str, port: int, demo: bool) -> None:
    """Apply migrations, then serve the API, the web pages and the background jobs."""
    import uvicorn

    from app.main import build_context, create_app
    from migrations import upgrade_database

    settings = _settings()
    settings.resolved_secret_key()
    _run(lambda: upgrade_database(settings.database_url))
    context = build_context()
    context.vault  # noqa: B018 - load (or in dev create) the data keys now, not at the first request
    if demo:
        logins = _run(lambda: _seed_demo(context))
        if logins:
            from app.demo import DEMO_PASSWORD

            click.echo(
                "Démo ESS créée (Dr Benali et Dr Moreau sont d'astreinte à toute heure ; les "
                "autres suivent les heures ouvrées). Comptes (mot de passe pour tous : "
                + DEMO_PASSWORD
                + ") :"
            )
            for role, name, email in logins:
                click.echo(f"  {role:<12} {email:<42} {name}")
        else:
            click.echo("La base contient déjà des comptes : la démo n'a pas été ajoutée.")
    click.echo(
        f"ess-router sur http://{host}:{port} (API : /api/v1, OpenAPI : /schema/openapi.json)"
    )
    uvicorn.run(create_app(context), host=host, port=port, log_level="info")


async def _seed_demo(context: Any) -> list[tuple[str, str, str]] | None:
    from app.demo import seed_demo

    try:
        async with context.db.transaction() as session:
            return await seed_demo(session, now=context.clock.now())
    finally:
        await context.db.dispose()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations and exit."""
    from migrations import upgrade_database

    settings = _settings()
    _run(lambda: upgrade_database(settings.database_url))
    click.echo("Base de données à jour.")


@cli.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["requester", "specialist", "coordinator"])
)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--rpps", default=None)
@click.option("--password", default=None, help="Prompted for (or ESS_NEW_PASSWORD) if omitted.")
@click.option("--specialty", default=None)
@click.option("--subspecialty", "subspecialties", multiple=True)
@click.option("--capacity", default=None, type=click.IntRange(0, 1000))
@click.option("--treating-physician", is_flag=True, help="A médecin traitant (requesters).")
def user_create(
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
    """Create a user and print its id."""
    from models import UserCreate

    password = password or os.environ.get("ESS_NEW_PASSWORD") or _prompt_password()
    try:
        data = UserCreate(
            role=role,
            email=email,
            name=name,
            rpps=rpps,
            password=password,
            specialty=specialty,
            subspecialties=list(subspecialties),
            capacity=capacity,
            treating_physician=treating_physician,
        )
    except ValidationError as exc:
        raise CommandError(_validation_message(exc)) from exc
    settings = _settings()

    async def create() -> str:
        from app.main import build_context
        from app.services.users import create_user

        context = build_context()
        try:
            async with context.db.transaction() as session:
                created = await create_user(
                    session,
                    data,
                    now=context.clock.now(),
                    default_capacity=settings.default_capacity,
                )
                return str(created.id)
        finally:
            await context.db.dispose()

    click.echo(_run(create))


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise CommandError("mot de passe requis : --password, ESS_NEW_PASSWORD, ou un terminal")
    first = getpass.getpass("Mot de passe : ")
    if first != getpass.getpass("Confirmez : "):
        raise CommandError("les deux mots de passe diffèrent")
    return first


@cli.command()
@click.argument("email")
@click.option(
    "--ttl",
    default=None,
    type=click.IntRange(60, 31_536_000),
    help="Lifetime in seconds (default ESS_TOKEN_TTL).",
)
def token(email: str, ttl: int | None) -> None:
    """Print a bearer token for that user (for API clients and scripts)."""

    async def make() -> str:
        from app.auth import build_jwt_auth
        from app.main import build_context
        from app.services.users import get_user_by_email

        context = build_context()
        try:
            async with context.db.reading() as session:
                found = await get_user_by_email(session, email)
        finally:
            await context.db.dispose()
        if not found.active:
            raise CommandError(f"le compte {email} est désactivé")
        auth = build_jwt_auth(context)
        expiration = timedelta(seconds=ttl) if ttl else context.settings.token_ttl
        return auth.create_token(identifier=str(found.id), token_expiration=expiration)

    click.echo(_run(make))


@cli.group()
def outbox() -> None:
    """E-mail notifications waiting, sent or failed."""


@outbox.command("send")
def outbox_send() -> None:
    """Send every due notification now (one pass) and exit."""

    async def send() -> int:
        from app.main import build_context
        from notifications.sender import OutboxSender

        context = build_context()
        sender = OutboxSender(
            context.db,
            context.clock,
            context.settings.smtp,
            base_url=context.settings.base_url,
            zone=context.zone,
        )
        total = 0
        try:
            while (sent := await sender.send_due()) > 0:
                total += sent
        finally:
            await context.db.dispose()
        return total

    settings = _settings()
    total = _run(send)
    if not settings.smtp.host:
        click.echo(
            "Aucun serveur SMTP configuré (ESS_SMTP__HOST) : les notifications restent "
            "en attente (held)."
        )
    else:
        click.echo(f"{total} notification(s) envoyée(s).")


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "held", "sent", "failed"]), default=None)
def outbox_list(status: str | None) -> None:
    """List the latest notifications (never their content: there is none to show)."""

    async def rows() -> list[Any]:
        from app.main import build_context
        from app.services.outbox import list_notifications
        from models import OutboxStatus

        context = build_context()
        try:
            async with context.db.reading() as session:
                return await list_notifications(session, OutboxStatus(status) if status else None)
        finally:
            await context.db.dispose()

    found = _run(rows)
    if not found:
        click.echo("Aucune notification.")
    for row in found:
        error = f"  {row.last_error}" if row.last_error else ""
        click.echo(
            f"{row.id}  {row.status:<8} {row.kind:<15} {row.reference or '-':<15} "
            f"essais={row.attempts}{error}"
        )


@outbox.command("retry")
@click.argument("notification_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed notification.")
def outbox_retry(notification_id: str | None, all_failed: bool) -> None:
    """Queue a notification (ID) or every failed one (--failed) again."""
    import uuid as uuid_module

    if bool(notification_id) == all_failed:
        raise CommandError("indiquez soit un identifiant de notification, soit --failed")
    try:
        target = uuid_module.UUID(notification_id) if notification_id else None
    except ValueError as exc:
        raise CommandError(f"identifiant invalide : {notification_id}") from exc

    async def again() -> int:
        from app.main import build_context
        from app.services.outbox import retry

        context = build_context()
        try:
            async with context.db.transaction() as session:
                return await retry(session, target, now=context.clock.now())
        finally:
            await context.db.dispose()

    click.echo(f"{_run(again)} notification(s) remise(s) en file d'envoi.")


@cli.group()
def keys() -> None:
    """Data-encryption keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a key and re-wrap every stored data key under it (content untouched)."""

    async def rotate() -> tuple[int, int, int]:
        from app.main import build_context
        from app.services.keys import count_encrypted, rewrap_all

        context = build_context()
        settings = context.settings
        try:
            keyring = context.vault.keyring
            version = keyring.add_key()
            keyring.save(settings.key_file_path())
            total = await count_encrypted(context.db, settings.attachments_dir())
            with click.progressbar(
                length=total, label="Re-chiffrement des clés de données", file=sys.stderr
            ) as bar:
                changed = await rewrap_all(
                    context.db, keyring, settings.attachments_dir(), bar.update
                )
            return version, changed, total
        finally:
            await context.db.dispose()

    version, changed, total = _run(rotate)
    click.echo(
        f"Nouvelle clé active : version {version} ; {changed} valeur(s) re-chiffrée(s) "
        f"sur {total}. L'ancienne clé peut être retirée : ess-router keys retire VERSION."
    )


@keys.command("retire")
@click.argument("version", type=int)
def keys_retire(version: int) -> None:
    """Retire an old key once nothing stored depends on it any more."""

    async def retire() -> None:
        from app.main import build_context
        from app.services.keys import still_under_old_keys

        context = build_context()
        try:
            keyring = context.vault.keyring
            if version == keyring.active_version:
                raise CommandError(
                    f"la version {version} est la clé active : impossible de la retirer"
                )
            if version not in keyring.versions:
                raise CommandError(f"aucune clé de version {version}")
            left = await still_under_old_keys(
                context.db, keyring, context.settings.attachments_dir()
            )
            if left:
                raise CommandError(
                    f"{left} valeur(s) dépendent encore d'une ancienne clé : "
                    "lancez d'abord ess-router keys rotate"
                )
            keyring.retire(version)
            keyring.save(context.settings.key_file_path())
        finally:
            await context.db.dispose()

    _run(retire)
    click.echo(f"Clé version {version} retirée.")


@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 at the first broken entry."""

    async def check() -> tuple[int, Any]:
        from app.main import build_context
        from security.audit import verify

        context = build_context()
        try:
            return await verify(context.db)
        finally:
            await context.db.dispose()

    checked, broken = _run(check)
    if broken is not None:
        raise CommandError(
            f"journal d'audit altéré à l'entrée n° {broken.seq} : {broken.reason} "
            f"({checked} entrée(s) intègre(s) avant elle)"
        )
    click.echo(f"Journal d'audit intègre : {checked} entrée(s) vérifiée(s).")


from app.report_cli import report  # noqa: E402

cli.add_command(report)


def main() -> None:
    """Entry point: run the CLI, turning every expected failure into one line."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ess-router: interrompu", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"ess-router: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (CommandError, ConfigurationError, DomainError, KeyFileError) as exc:
        click.echo(f"ess-router: {exc}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        click.echo(f"ess-router: {_validation_message(exc)}", err=True)
        sys.exit(1)
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


if __name__ == "__main__":
    main()
