"""The delays the indicators read are columns of the request, kept by ``models.history.record``.

Each transition goes through the API with the frozen clock; after each one the row must
hold what ``models.history.measure`` derives from its own timestamps. The clock starts on
Monday 2 March 2026 at 09:00, Paris time (a standard request is due on Wednesday 13:00).
"""

import uuid
from typing import Any

from sqlalchemy import select

from models import Request
from tests.conftest import Ess
from tests.factories import act, message, paris, submit


async def stored(ess: Ess, request: dict[str, Any]) -> dict[str, Any]:
    async with ess.context.db.reading() as session:
        row = (
            await session.execute(
                select(
                    Request.response_hours,
                    Request.acknowledge_hours,
                    Request.appointment_days,
                    Request.answered_in_time,
                ).where(Request.id == uuid.UUID(request["id"]))
            )
        ).one()
    return dict(row._mapping)


NOTHING = {
    "response_hours": None,
    "acknowledge_hours": None,
    "appointment_days": None,
    "answered_in_time": None,
}


async def test_each_transition_of_a_whole_life(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)  # Monday 09:00, assigned at once
    assert await stored(ess, request) == NOTHING

    clock.set(paris(2026, 3, 2, 10, 30))
    await act(client, ess, request, "accept")  # taken on after 1.5 h
    assert await stored(ess, request) == {**NOTHING, "acknowledge_hours": 1.5}

    clock.set(paris(2026, 3, 2, 11, 0))
    await message(client, ess, request, from_specialist=True)  # awaiting information
    clock.set(paris(2026, 3, 2, 12, 0))
    await message(client, ess, request, from_specialist=False)  # resumed
    assert await stored(ess, request) == {**NOTHING, "acknowledge_hours": 1.5}

    clock.set(paris(2026, 3, 2, 15, 0))
    await act(  # answered after 6 h (due Wednesday), appointment 10 days after the answer
        client,
        ess,
        request,
        "answer",
        answer="Consultation de rythmologie.",
        outcome="consultation",
        appointment_at=paris(2026, 3, 12, 15, 0).isoformat(),
    )
    answered = {
        "response_hours": 6.0,
        "acknowledge_hours": 1.5,
        "appointment_days": 10.0,
        "answered_in_time": True,
    }
    assert await stored(ess, request) == answered

    clock.set(paris(2026, 3, 3, 9, 0))
    await act(client, ess, request, "close", usefulness=4, referral_avoided=True)
    assert await stored(ess, request) == answered


async def test_asking_for_information_takes_the_request_on(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 9, 45))
    await message(client, ess, request, from_specialist=True)  # without accepting first
    assert await stored(ess, request) == {**NOTHING, "acknowledge_hours": 0.75}
    clock.set(paris(2026, 3, 2, 10, 0))
    # Answered while still awaiting information: advice, so no appointment delay.
    await act(client, ess, request, "answer", answer="Avis.", outcome="advice")
    assert await stored(ess, request) == {
        "response_hours": 1.0,
        "acknowledge_hours": 0.75,
        "appointment_days": None,
        "answered_in_time": True,
    }


async def test_a_late_answer_is_not_in_time(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)  # due Wednesday 4 March at 13:00
    clock.set(paris(2026, 3, 5, 9, 0))
    await act(  # a hospital referral: an appointment date is kept, but it is no consultation
        client,
        ess,
        request,
        "answer",
        answer="Adresser aux urgences.",
        outcome="hospital_referral",
        appointment_at=paris(2026, 3, 6, 9, 0).isoformat(),
    )
    assert await stored(ess, request) == {
        "response_hours": 72.0,
        "acknowledge_hours": 72.0,  # answering takes the request on
        "appointment_days": None,
        "answered_in_time": False,
    }


async def test_declining_resets_the_taking_on(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 9, 30))
    await act(client, ess, request, "accept")
    assert (await stored(ess, request))["acknowledge_hours"] == 0.5
    clock.set(paris(2026, 3, 2, 10, 0))
    await act(client, ess, request, "decline", reason="out_of_field")
    # Dispatched to someone else, who has not taken it on yet.
    assert await stored(ess, request) == NOTHING


async def test_a_cancelled_request_counts_in_no_delay(client, ess: Ess, clock) -> None:
    request = await submit(client, ess)
    clock.set(paris(2026, 3, 2, 9, 30))
    await act(client, ess, request, "accept")
    clock.set(paris(2026, 3, 2, 10, 0))
    await act(client, ess, request, "cancel")
    assert await stored(ess, request) == NOTHING
