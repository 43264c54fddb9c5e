"""The rules evaluated by the database agree with the pure model, on SQLite and PostgreSQL."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from models import (
    Absence,
    Priority,
    Request,
    RequestDecline,
    RequestEvent,
    Role,
    ScheduleSlot,
    Specialty,
    Status,
    Subspecialty,
    User,
    UserSubspecialty,
)
from router.decision import Candidate, decide
from router.eligibility import Moment, decide_in_database
from sla.calendar import build_calendar
from tests.conftest import PARIS

CALENDAR = build_calendar("business", "Europe/Paris")
# A Monday morning (calendar open) and a Saturday (closed), both in summer time.
INSTANTS = [datetime(2026, 6, 1, 10, 30, tzinfo=PARIS), datetime(2026, 6, 6, 10, 30, tzinfo=PARIS)]

specialist = st.fixed_dictionaries(
    {
        "active": st.booleans(),
        "covers": st.booleans(),
        "slots": st.none()
        | st.lists(
            st.tuples(st.sampled_from([0, 5]), st.integers(7, 11), st.integers(1, 4)),
            min_size=1,
            max_size=2,
        ),
        "absence": st.sampled_from(["none", "now", "later"]),
        "open": st.integers(0, 3),
        "closed": st.integers(0, 1),
        "capacity": st.integers(0, 3),
        "declined": st.booleans(),
        "rotation": st.integers(0, 5),
    }
)


async def reset(session) -> None:
    for table in (
        RequestEvent,
        RequestDecline,
        Request,
        Absence,
        ScheduleSlot,
        UserSubspecialty,
        User,
        Subspecialty,
        Specialty,
    ):
        await session.execute(delete(table))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pool=st.lists(specialist, min_size=1, max_size=8),
    instant=st.sampled_from(INSTANTS),
    requester_index=st.none() | st.integers(0, 7),
)
async def test_database_rules_match_the_pure_model(context, pool, instant, requester_index):
    now = instant.astimezone(ZoneInfo("UTC"))
    moment = Moment.at(now, CALENDAR, PARIS)
    async with context.db.transaction() as session:
        await reset(session)
        session.add(Specialty(code="cardiologie", name="Cardiologie"))
        await session.flush()
        session.add(Subspecialty(specialty_code="cardiologie", code="rythmo", name="Rythmo"))
        requester = User(role=Role.REQUESTER, email="gp@cabinet-test.fr", name="GP", created_at=now)
        session.add(requester)
        users = []
        for index, spec in enumerate(pool):
            user = User(
                role=Role.SPECIALIST,
                email=f"s{index}@ess-test.fr",
                name=f"Dr {index}",
                specialty_code="cardiologie",
                capacity=spec["capacity"],
                active=spec["active"],
                rotation=spec["rotation"],
                created_at=now,
            )
            session.add(user)
            users.append(user)
        await session.flush()
        requester_id = requester.id
        if requester_index is not None and requester_index < len(users):
            requester_id = users[requester_index].id
        request = Request(
            reference="TE-2026-999999",
            status=Status.ASSIGNED,
            priority=Priority.STANDARD,
            specialty_code="cardiologie",
            subspecialty_code="rythmo",
            requester_id=requester_id,
            question=b"q",
            patient=b"{}",
            consent=True,
            submitted_at=now,
        )
        session.add(request)
        await session.flush()
        candidates = []
        for index, (user, spec) in enumerate(zip(users, pool, strict=True)):
            if spec["covers"]:
                session.add(
                    UserSubspecialty(
                        user_id=user.id, specialty_code="cardiologie", subspecialty_code="rythmo"
                    )
                )
            for weekday, start, length in spec["slots"] or []:
                session.add(
                    ScheduleSlot(
                        user_id=user.id,
                        weekday=weekday,
                        start=time(start),
                        end=time(start + length),
                    )
                )
            if spec["absence"] != "none":
                start = (
                    now - timedelta(hours=1)
                    if spec["absence"] == "now"
                    else now + timedelta(days=1)
                )
                session.add(
                    Absence(
                        user_id=user.id,
                        start_at=start,
                        end_at=start + timedelta(days=2),
                        created_at=now,
                    )
                )
            for n in range(spec["open"] + spec["closed"]):
                session.add(
                    Request(
                        reference=f"TE-2026-{index:03d}{n:03d}x",
                        status=Status.ACCEPTED if n < spec["open"] else Status.ANSWERED,
                        priority=Priority.STANDARD,
                        specialty_code="cardiologie",
                        requester_id=requester.id,
                        assignee_id=user.id,
                        question=b"q",
                        patient=b"{}",
                        consent=True,
                        submitted_at=now,
                    )
                )
            if spec["declined"]:
                await session.flush()
                session.add(
                    RequestDecline(
                        request_id=request.id,
                        specialist_id=user.id,
                        reason="other",
                        declined_at=now,
                    )
                )
            slots = spec["slots"]
            if slots is None:
                on_schedule = moment.business_time
            else:
                on_schedule = any(
                    weekday == moment.weekday
                    and time(start) <= moment.local_time < time(start + length)
                    for weekday, start, length in slots
                )
            candidates.append(
                Candidate(
                    id=user.id,
                    name=user.name,
                    rotation=spec["rotation"],
                    active=spec["active"],
                    in_pool=spec["covers"],
                    on_schedule=on_schedule,
                    absent=spec["absence"] == "now",
                    open_count=spec["open"],
                    capacity=spec["capacity"],
                    is_requester=user.id == requester_id,
                    declined=spec["declined"],
                )
            )
        await session.flush()
        in_database = await decide_in_database(session, request, moment, use_subspecialty=True)
    expected = decide(candidates)
    assert in_database.chosen == expected.chosen
    assert in_database.eligible_count == expected.eligible_count
    assert {(e.id, e.reason) for e in in_database.excluded} == {
        (e.id, e.reason) for e in expected.excluded
    }
    assert in_database.excluded_counts == expected.excluded_counts


async def test_a_large_pool_lists_the_first_excluded_by_name_and_counts_them_all(context):
    """Past EXPLAIN_LIMIT excluded, the event keeps the first by name and every count."""
    from router.eligibility import EXPLAIN_LIMIT

    now = INSTANTS[0].astimezone(ZoneInfo("UTC"))
    moment = Moment.at(now, CALENDAR, PARIS)
    # 300 specialists: names in an order that differs from their ids and rotations,
    # accents included (code-point order, as the pure model sorts).
    names = [f"Dr {'ÉA'[i % 2]}{(i * 7919) % 300:03d}" for i in range(300)]
    async with context.db.transaction() as session:
        session.add(Specialty(code="cardiologie", name="Cardiologie"))
        await session.flush()
        session.add(Subspecialty(specialty_code="cardiologie", code="rythmo", name="Rythmo"))
        requester = User(role=Role.REQUESTER, email="gp@cabinet-test.fr", name="GP", created_at=now)
        session.add(requester)
        users = [
            User(
                role=Role.SPECIALIST,
                email=f"s{i}@ess-test.fr",
                name=name,
                specialty_code="cardiologie",
                capacity=2,
                # 150 inactive, 100 who do not cover the sub-specialty, 50 eligible
                active=i % 6 not in (0, 3, 5),
                rotation=(i * 37) % 300,
                created_at=now,
            )
            for i, name in enumerate(names)
        ]
        session.add_all(users)
        await session.flush()
        covering = [u for i, u in enumerate(users) if u.active and i % 3 != 1]
        session.add_all(
            UserSubspecialty(user_id=u.id, specialty_code="cardiologie", subspecialty_code="rythmo")
            for u in covering
        )
        request = Request(
            reference="TE-2026-999999",
            status=Status.PENDING,
            priority=Priority.STANDARD,
            specialty_code="cardiologie",
            subspecialty_code="rythmo",
            requester_id=requester.id,
            question=b"q",
            patient=b"{}",
            consent=True,
            submitted_at=now,
        )
        session.add(request)
        await session.flush()
        in_database = await decide_in_database(session, request, moment, use_subspecialty=True)
    covered = {u.id for u in covering}
    expected = decide(
        Candidate(
            id=u.id,
            name=u.name,
            rotation=u.rotation,
            active=u.active,
            in_pool=u.id in covered,
            capacity=2,
        )
        for u in users
    )
    assert sum(expected.excluded_counts.values()) > EXPLAIN_LIMIT
    assert in_database.chosen == expected.chosen
    assert in_database.eligible_count == expected.eligible_count == len(covering)
    assert in_database.excluded_counts == expected.excluded_counts
    assert list(in_database.excluded) == list(expected.excluded[:EXPLAIN_LIMIT])
