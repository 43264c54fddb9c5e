"""E-mail addresses: one account per address however it is spelt, no look-alikes."""

import sqlalchemy as sa

from migrations import downgrade_database, upgrade_database
from models import User
from tests.conftest import Ess

PASSWORD = "mot-de-passe-solide"


def new_user(email: str) -> dict[str, object]:
    return {"role": "requester", "email": email, "name": "Dr Anne Martin", "password": PASSWORD}


async def emails(client, ess: Ess) -> list[str]:
    users = await client.get("/api/v1/users", headers=ess.auth(ess.coordinator))
    return sorted(u["email"] for u in users.json())


async def test_a_look_alike_address_with_a_cyrillic_letter_is_refused(client, ess: Ess) -> None:
    headers = ess.auth(ess.coordinator)
    created = await client.post(
        "/api/v1/users", json=new_user("anne.martin@cabinet-test.fr"), headers=headers
    )
    assert created.status_code == 201, created.text
    before = await emails(client, ess)
    # "а" below is U+0430 CYRILLIC SMALL LETTER A.
    response = await client.post(
        "/api/v1/users", json=new_user("\u0430nne.martin@cabinet-test.fr"), headers=headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "email"
    assert "mélange plusieurs alphabets" in problem["detail"]
    assert await emails(client, ess) == before
    # An address written in one other alphabet is a real address.
    response = await client.post(
        "/api/v1/users", json=new_user("\u0430\u043d\u043d\u0430@cabinet-test.fr"), headers=headers
    )
    assert response.status_code == 201, response.text


async def test_one_address_in_other_spellings_is_the_same_account(client, ess: Ess) -> None:
    headers = ess.auth(ess.coordinator)
    created = await client.post(
        "/api/v1/users", json=new_user("Anne.Martin@Cabinet-Test.fr"), headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "anne.martin@cabinet-test.fr"
    # Full-width letters (NFKC folds them) and capitals name the same mailbox.
    for spelling in [
        "\uff21\uff2e\uff2e\uff25.martin@cabinet-test.fr",
        "ANNE.MARTIN@cabinet-test.fr",
    ]:
        response = await client.post("/api/v1/users", json=new_user(spelling), headers=headers)
        assert response.status_code == 409, response.text
        response = await client.post(
            "/api/v1/auth/login", json={"email": spelling, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
    assert (await emails(client, ess)).count("anne.martin@cabinet-test.fr") == 1


async def test_upgrade_brings_stored_addresses_to_the_compared_form(ess: Ess, database_url) -> None:
    """Migration 0005 normalises the addresses stored before it."""
    requester = ess.requesters[0]
    await ess.context.db.dispose()
    await downgrade_database(database_url, "0004")
    full_width = "\uff44\uff45\uff4d\uff41\uff4e\uff44\uff45\uff55\uff52" + "0@cabinet-test.fr"
    async with ess.context.db.transaction() as session:
        await session.execute(
            sa.update(User).where(User.id == requester.id).values(email=full_width)
        )
    await ess.context.db.dispose()
    await upgrade_database(database_url)
    async with ess.context.db.reading() as session:
        stored = await session.scalar(sa.select(User.email).where(User.id == requester.id))
    assert stored == "demandeur0@cabinet-test.fr"
