"""A small ESS in a fresh database, for the browser tests and ``make screenshots``."""

import asyncio
import concurrent.futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.services.specialties import create_specialty
from app.services.users import create_user
from migrations import upgrade_database
from models import Role, SpecialtyCreate, UserCreate
from models.specialty import SubspecialtyCreate
from models.storage import Database

PASSWORD = "Vx7-ortie-falaise-92"


@dataclass(frozen=True)
class Account:
    email: str
    name: str


REQUESTER = Account("anne.dubois@cabinet-test.fr", "Dr Anne Dubois")
SPECIALIST = Account("claire.martin@ess-test.fr", "Dr Claire Martin")
COORDINATOR = Account("coordination@ess-test.fr", "Coordination ESS")


async def _seed(url: str) -> None:
    await upgrade_database(url)
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            await create_specialty(
                session,
                SpecialtyCreate(
                    code="cardiologie",
                    name="Cardiologie",
                    subspecialties=[
                        SubspecialtyCreate(code="rythmologie", name="Rythmologie"),
                        SubspecialtyCreate(code="hta", name="Hypertension artérielle"),
                    ],
                ),
            )
            await create_specialty(
                session,
                SpecialtyCreate(
                    code="dermatologie",
                    name="Dermatologie",
                    subspecialties=[SubspecialtyCreate(code="psoriasis", name="Psoriasis")],
                ),
            )
            # One specialist only: every request goes to her, so a test knows who answers.
            users = [
                UserCreate(role=Role.COORDINATOR, email=COORDINATOR.email, name=COORDINATOR.name),
                UserCreate(
                    role=Role.SPECIALIST,
                    email=SPECIALIST.email,
                    name=SPECIALIST.name,
                    specialty="cardiologie",
                    subspecialties=["rythmologie", "hta"],
                    capacity=1000,
                ),
                UserCreate(
                    role=Role.REQUESTER,
                    email=REQUESTER.email,
                    name=REQUESTER.name,
                    treating_physician=True,
                ),
            ]
            for data in users:
                data.password = PASSWORD
                await create_user(session, data, now=now, default_capacity=5)
    finally:
        await db.dispose()


def seed_database(directory: Path) -> dict[str, str]:
    """Create and seed a SQLite database in ``directory``; return the server's settings."""
    url = f"sqlite+aiosqlite:///{directory / 'ess.db'}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _seed(url)).result()
    return {
        "ESS_DATABASE_URL": url,
        "ESS_DATA_DIR": str(directory),
        "ESS_DATA_KEY_FILE": str(directory / "ess.keys"),
        "ESS_SECRET_KEY": "browser-tests-secret-" + "x" * 32,
        # Specialists are available at any hour: the tests run whenever CI does.
        "ESS_SLA__CALENDAR": "24/7",
        "ESS_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
    }
