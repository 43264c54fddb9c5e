"""Migration 0012: specialties and sub-specialties gain a retirement date; existing ones stay
in service, and going back drops only that date."""

import sqlalchemy as sa

from migrations import downgrade_database, upgrade_database
from tests.conftest import Ess


async def columns(ess: Ess, table: str) -> set[str]:
    async with ess.context.db.reading() as session:
        connection = await session.connection()
        return {
            column["name"]
            for column in await connection.run_sync(
                lambda sync: sa.inspect(sync).get_columns(table)
            )
        }


async def test_existing_specialties_stay_in_service_across_0012(
    client, ess: Ess, database_url: str
) -> None:
    coordinator = ess.auth(ess.coordinator)
    await client.patch(
        "/api/v1/specialties/cardiologie/subspecialties/hta",
        json={"retired": True},
        headers=coordinator,
    )
    await ess.context.db.dispose()
    await downgrade_database(database_url, "0011")
    assert "retired_at" not in await columns(ess, "specialty")
    assert "retired_at" not in await columns(ess, "subspecialty")
    async with ess.context.db.reading() as session:
        names = (
            await session.execute(sa.text("SELECT code, name FROM subspecialty ORDER BY code"))
        ).all()
    assert [tuple(row) for row in names] == [
        ("hta", "Hypertension artérielle"),
        ("rythmologie", "Rythmologie"),
    ]
    await ess.context.db.dispose()
    await upgrade_database(database_url)

    listing = (await client.get("/api/v1/specialties", headers=coordinator)).json()
    [cardiology] = listing
    assert cardiology["retired"] is False
    assert {s["code"]: s["retired"] for s in cardiology["subspecialties"]} == {
        "rythmologie": False,
        "hta": False,
    }
