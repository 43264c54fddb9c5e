"""A realistic demo ESS, seeded into an empty database by ``serve --demo``."""

from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from app.services.specialties import create_specialty
from app.services.users import create_user
from models import Role, ScheduleSlot, SpecialtyCreate, User, UserCreate
from models.specialty import SubspecialtyCreate

DEMO_PASSWORD = "teleexpertise-2026"

SUBSPECIALTIES = [
    ("rythmologie", "Rythmologie"),
    ("insuffisance-cardiaque", "Insuffisance cardiaque"),
    ("coronaropathie", "Coronaropathie"),
    ("hta", "Hypertension artérielle"),
]

SPECIALISTS = [
    ("Dr Claire Martin", ["rythmologie", "coronaropathie"]),
    ("Dr Karim Benali", ["rythmologie"]),
    ("Dr Sophie Lefèvre", ["insuffisance-cardiaque"]),
    ("Dr Julien Moreau", ["insuffisance-cardiaque", "hta"]),
    ("Dr Amina Diallo", ["coronaropathie"]),
    ("Dr Thomas Girard", ["coronaropathie", "hta"]),
    ("Dr Hélène Roux", ["hta"]),
    ("Dr Nicolas Fournier", ["rythmologie", "insuffisance-cardiaque"]),
    ("Dr Camille Bernard", []),
    ("Dr Marc Petit", ["coronaropathie"]),
    ("Dr Élodie Garnier", ["insuffisance-cardiaque"]),
    ("Dr Pierre Lambert", ["hta", "rythmologie"]),
]

# Two specialists on call at all hours (the others follow the business calendar),
# and two who hold consultations avancées.
ON_CALL = {"Dr Karim Benali", "Dr Julien Moreau"}
OUTREACH = {"Dr Sophie Lefèvre", "Dr Thomas Girard"}

REQUESTERS = [
    ("Dr Anne Dubois", "medecin-generaliste", True),
    ("Dr François Mercier", "medecin-generaliste", True),
    ("Dr Laura Chevalier", "medecin-generaliste", True),
    ("Dr Paul Robin", "medecin-remplacant", False),
    ("Marie Blanc, IPA", "infirmiere-pratique-avancee", False),
]


def demo_rpps(number: int) -> str:
    """Return a well-formed RPPS (Luhn key) for demo account ``number``."""
    body = f"1000{number:06d}"
    return body + luhn.calc_check_digit(body)


def _email(name: str, domain: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = [p for p in plain.lower().replace(",", "").split() if p not in {"dr", "ipa"}]
    return f"{parts[0]}.{parts[-1]}@{domain}"


async def seed_demo(session: AsyncSession, *, now: datetime) -> list[tuple[str, str, str]] | None:
    """Seed the demo ESS when the database has no user; return (role, name, e-mail) logins."""
    if (await session.execute(select(func.count()).select_from(User))).scalar_one():
        return None
    await create_specialty(
        session,
        SpecialtyCreate(
            code="cardiologie",
            name="Cardiologie",
            subspecialties=[SubspecialtyCreate(code=c, name=n) for c, n in SUBSPECIALTIES],
        ),
    )
    logins: list[tuple[str, str, str]] = []
    number = 1

    async def add(data: UserCreate) -> User:
        user = await create_user(session, data, now=now, default_capacity=5)
        logins.append((data.role.value, data.name, data.email))
        return user

    await add(
        UserCreate(
            role=Role.COORDINATOR,
            email="coordination@ess-cardio-demo.fr",
            name="Coordination ESS Cardio",
            password=DEMO_PASSWORD,
        )
    )
    for name, subs in SPECIALISTS:
        specialist = await add(
            UserCreate(
                role=Role.SPECIALIST,
                email=_email(name, "ess-cardio-demo.fr"),
                name=name,
                rpps=demo_rpps(number),
                password=DEMO_PASSWORD,
                specialty="cardiologie",
                subspecialties=subs,
                capacity=5,
                advanced_consultations=name in OUTREACH,
            )
        )
        if name in ON_CALL:
            # On call around the clock, so that the demo assigns requests at any hour.
            session.add_all(
                ScheduleSlot(user_id=specialist.id, weekday=day, start=time(0), end=time(0))
                for day in range(7)
            )
        number += 1
    for name, _kind, treating in REQUESTERS:
        await add(
            UserCreate(
                role=Role.REQUESTER,
                email=_email(name, "cabinet-demo.fr"),
                name=name,
                rpps=demo_rpps(number),
                password=DEMO_PASSWORD,
                treating_physician=treating,
            )
        )
        number += 1
    return logins
