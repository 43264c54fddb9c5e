"""A demo ESS with a year of history, seeded into an empty database by ``serve --demo``.

``seed_demo`` creates the people (``app.demo.staff``) and plays a year of their work
through the services on a moving clock (``app.demo.history``), ending at the present.
The same seed and end instant give the same history.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from app.context import AppContext
from app.demo import cast
from app.demo.acts import Year
from app.demo.staff import open_the_ess
from app.demo.timeline import REQUESTS_PER_YEAR, arrivals, local_midnight
from config.settings import ConfigurationError
from models import Request, Role, Status, User
from models.lifecycle import STATUS_LABELS
from security.audit_anchor import advance as advance_checkpoint
from security.audit_anchor import checkpoint_path
from security.passwords import hash_password

DEMO_PASSWORD = "teleexpertise-2026"
DEMO_SEED = 2026
DEMO_DOMAINS = cast.DEMO_DOMAINS


@dataclass
class Login:
    role: Role
    name: str
    email: str
    what: str


LOGINS = [
    Login(
        Role.SPECIALIST,
        cast.SHOWCASE["specialist"],
        cast.email(cast.SHOWCASE["specialist"], cast.SPECIALIST_DOMAIN),
        "pour voir la file d'un spécialiste débordé : demandes à accepter, échéances dépassées",
    ),
    Login(
        Role.REQUESTER,
        cast.SHOWCASE["requester"],
        cast.email(cast.SHOWCASE["requester"], cast.REQUESTER_DOMAIN),
        "pour voir les demandes d'un médecin traitant : demandes en cours, avis reçus à "
        "clôturer, échanges de messages et pièces jointes",
    ),
    Login(
        Role.COORDINATOR,
        cast.COORDINATOR,
        cast.email("Coordination Démo", cast.SPECIALIST_DOMAIN),
        "pour voir le tableau de bord d'une année (délais, alertes), les demandes en attente "
        "d'attribution et le rapport d'activité des douze derniers mois",
    ),
]


@dataclass
class Demo:
    """What the demo did: counts by status, what it played, and where to look first."""

    start: datetime
    end: datetime
    statuses: dict[str, int]
    tally: dict[str, int]
    logins: list[Login] = field(default_factory=list)


async def has_users(context: AppContext) -> bool:
    async with context.db.reading() as session:
        return bool((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def seed_demo(
    context: AppContext,
    *,
    now: datetime | None = None,
    scale: float = 1.0,
    seed: int = DEMO_SEED,
) -> Demo | None:
    """Seed a year of history ending ``now`` when the database has no user; else None.

    ``scale`` multiplies the volume of requests (tests use a fraction of a year's).
    """
    if await has_users(context):
        return None
    end = now or context.clock.now()
    start = end - timedelta(days=365)
    history = Year(context, end=end, seed=seed)
    # One Argon2 hash for every account (each costs a tenth of a second or more).
    password_hash = await hash_password(DEMO_PASSWORD)
    await open_the_ess(history, start, password_hash)
    for instant in arrivals(history.rng, start, end, context.zone, REQUESTS_PER_YEAR * scale):
        history.at(instant, history.submit)
    # Yesterday, a question for the vascular physician, who is away: it waits for the
    # coordinator, who has nobody to give it to (the dashboard's waiting list).
    history.at(end - timedelta(hours=28), history.submit, ("medecine-vasculaire", "phlebologie"))
    # The scheduler's tick at each opening: requests nobody could take are tried again.
    day = start.astimezone(context.zone).date()
    while (moment := local_midnight(day, context.zone)) < end:
        history.at(context.calendar.next_opening(moment), history.sweep)
        day += timedelta(days=1)
    await history.run()
    # Anchor the chain as the running server's first tick would.
    await advance_checkpoint(
        context.db, context.vault.keyring, checkpoint_path(context.settings.key_file_path()), end
    )
    return Demo(
        start=start,
        end=end,
        statuses=await _statuses(context),
        tally=dict(history.tally),
        logins=LOGINS,
    )


async def _statuses(context: AppContext) -> dict[str, int]:
    async with context.db.reading() as session:
        rows = await session.execute(select(Request.status, func.count()).group_by(Request.status))
        return {str(status): count for status, count in rows}


def announce(demo: Demo | None) -> list[str]:
    """The French lines ``serve --demo`` prints."""
    if demo is None:
        return ["La base contient déjà des comptes : la démo n'a pas été ajoutée."]
    statuses = demo.statuses
    lines = [
        f"Démo ESS créée : une année d'activité jusqu'à aujourd'hui, "
        f"{sum(statuses.values())} demandes ({_status_summary(statuses)}).",
        f"Mot de passe de tous les comptes de démonstration : {DEMO_PASSWORD}",
    ]
    for login in demo.logins:
        lines.append(f"  Connectez-vous en tant que {login.email} ({login.name}) {login.what}.")
    return lines


def _status_summary(statuses: dict[str, int]) -> str:
    return ", ".join(
        f"{statuses[s.value]} {STATUS_LABELS[s]}" for s in Status if statuses.get(s.value)
    )


async def refuse_in_prod(context: AppContext, *, demo: bool) -> None:
    """In ``prod``, refuse the demo, and a database that holds its accounts (public password)."""
    if context.settings.env != "prod":
        return
    if demo:
        raise ConfigurationError(
            "La démo (--demo) est refusée avec ESS_ENV=prod : ses comptes ont un mot de passe "
            "public."
        )
    try:
        async with context.db.reading() as session:
            found = (
                await session.execute(
                    select(User.email)
                    .where(or_(*(User.email.endswith(f"@{d}") for d in DEMO_DOMAINS)))
                    .limit(1)
                )
            ).first()
    finally:
        await context.db.dispose()
    if found is not None:
        raise ConfigurationError(
            "La base contient les comptes de la démo (mot de passe public, par exemple "
            f"{found[0]}) : ESS_ENV=prod refuse de servir avec eux ; utilisez une base neuve."
        )
