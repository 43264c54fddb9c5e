"""Concurrency on PostgreSQL: two real server processes on one database, hammered at once.

No request is assigned twice, no capacity is exceeded, nothing is lost, and the
specialists who stayed eligible throughout share the work within one request.
And a specialty whose dispatcher is busy makes no other specialty wait.
"""

import asyncio
import itertools
from collections import Counter, defaultdict
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import issue_token
from app.services.specialties import create_specialty
from models import EventKind, Request, RequestEvent, Role, SpecialtyCreate, Status
from router import lock_pool
from tests.conftest import Ess, asyncpg_dsn, request_payload
from tests.servers import ServerProcess

pytestmark = pytest.mark.postgres

SUBMISSIONS = 140
STEADY = 4


@pytest.fixture
def backend() -> str:
    return "postgres"


async def test_two_processes_never_double_assign_or_overfill(
    ess: Ess, settings, tmp_path: Path
) -> None:
    # The shared pool: four steady specialists with ample room who answer, one who
    # declines everything, one with room for two who never answers.
    steady = ess.specialists[:2]
    for index in range(STEADY - len(steady)):
        steady.append(
            await ess.add_user(
                role=Role.SPECIALIST,
                email=f"stable{index}@ess-test.fr",
                name=f"Dr Stable {index}",
                specialty="cardiologie",
                subspecialties=["rythmologie"],
                capacity=500,
            )
        )
    decliner = await ess.add_user(
        role=Role.SPECIALIST,
        email="refus@ess-test.fr",
        name="Dr Refus",
        specialty="cardiologie",
        subspecialties=["rythmologie"],
        capacity=500,
    )
    small = await ess.add_user(
        role=Role.SPECIALIST,
        email="petit@ess-test.fr",
        name="Dr Petite Capacité",
        specialty="cardiologie",
        subspecialties=["rythmologie"],
        capacity=2,
    )
    async with ess.context.db.transaction() as session:
        for user in steady:
            (await session.get(type(user), user.id)).capacity = 500
    # The hypertension-only specialist is not in the pool of these requests.
    env = {
        "ESS_DATABASE_URL": settings.database_url,
        "ESS_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ESS_DATA_DIR": str(tmp_path),
        "ESS_SLA__CALENDAR": "24/7",
    }
    auth = ess.context.jwt_auth

    def headers(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(auth, user)}"}

    with (
        ServerProcess(env, tmp_path / "a.log") as one,
        ServerProcess(env, tmp_path / "b.log") as two,
    ):
        servers = itertools.cycle([one.url, two.url])
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            submitted: list[dict] = []

            async def submit(server: str) -> None:
                response = await http.post(
                    f"{server}/api/v1/requests",
                    json=request_payload(),
                    headers=headers(ess.requesters[0]),
                )
                assert response.status_code == 201, response.text
                submitted.append(response.json())

            async def work(user, action: str, rounds: int) -> int:
                done = 0
                for server in itertools.islice(servers, rounds):
                    queue = (
                        await http.get(
                            f"{server}/api/v1/requests?status=assigned", headers=headers(user)
                        )
                    ).json()["items"]
                    for item in queue:
                        if action == "decline":
                            response = await http.post(
                                f"{server}/api/v1/requests/{item['id']}/decline",
                                json={"reason": "unavailable"},
                                headers=headers(user),
                            )
                        else:
                            response = await http.post(
                                f"{server}/api/v1/requests/{item['id']}/answer",
                                json={"answer": "Avis.", "outcome": "advice"},
                                headers=headers(user),
                            )
                        # 409: the other process changed it first; that is the point.
                        assert response.status_code in (200, 409), response.text
                        done += response.status_code == 200
                    await asyncio.sleep(0.05)
                return done

            jobs = [submit(next(servers)) for _ in range(SUBMISSIONS)]
            jobs += [work(decliner, "decline", 12)]
            jobs += [work(user, "answer", 6) for user in steady[:2]]
            results = await asyncio.gather(*jobs)
            operations = SUBMISSIONS + sum(r for r in results if isinstance(r, int))
    assert operations >= 200

    async with ess.context.db.reading() as session:
        requests = {
            r.id: r
            for r in (
                await session.execute(
                    select(Request).where(Request.subspecialty_code == "rythmologie")
                )
            ).scalars()
        }
        events = (
            (await session.execute(select(RequestEvent).order_by(RequestEvent.seq))).scalars().all()
        )

    # Nothing lost.
    assert len(submitted) == SUBMISSIONS
    assert {r["id"] for r in submitted} == {str(i) for i in requests}

    # Never held by two at once, and the final holder is the last assignment.
    holder: dict = {}
    last_assignee: dict = {}
    open_count: Counter = Counter()
    capacity = {u.id: 500 for u in [*steady, decliner]} | {small.id: 2}
    for event in events:
        if event.kind == EventKind.ASSIGNED:
            assert holder.get(event.request_id) is None, "assigned while still held"
            holder[event.request_id] = last_assignee[event.request_id] = event.assignee_id
            open_count[event.assignee_id] += 1
            assert open_count[event.assignee_id] <= capacity[event.assignee_id]
        elif event.kind in (EventKind.DECLINED, EventKind.ANSWERED, EventKind.CANCELLED):
            previous = holder.pop(event.request_id)
            assert previous == event.actor_id or event.kind == EventKind.CANCELLED
            open_count[previous] -= 1
    for request_id, request in requests.items():
        assert request.assignee_id == last_assignee[request_id]
        assert request.status in (Status.ASSIGNED, Status.ANSWERED)
        assert (holder.get(request_id) is not None) == (request.status == Status.ASSIGNED)

    # Fair share among those eligible throughout.
    assignments = Counter(e.assignee_id for e in events if e.kind == EventKind.ASSIGNED)
    shares = [assignments[u.id] for u in steady]
    assert max(shares) - min(shares) <= 1, shares
    assert assignments[small.id] >= 1
    declined_by = defaultdict(set)
    for event in events:
        if event.kind == EventKind.DECLINED:
            declined_by[event.request_id].add(event.actor_id)
    assert declined_by, "the decliner never had a request to decline"
    for request_id, decliners in declined_by.items():
        later = [
            e
            for e in events
            if e.request_id == request_id
            and e.kind == EventKind.ASSIGNED
            and e.assignee_id in decliners
        ]
        assert len(later) == len(decliners), "a request went back to someone who declined it"


async def test_a_submission_waiting_for_its_specialty_does_not_hold_up_another(
    ess: Ess, client: httpx.AsyncClient, settings
) -> None:
    """While cardiology's dispatcher is busy, a dermatology request still goes through.

    Submissions of one specialty take turns on its pool lock before they touch
    anything shared (the yearly reference counter), so the wait stays in that
    specialty.
    """
    async with ess.context.db.transaction() as session:
        await create_specialty(session, SpecialtyCreate(code="dermatologie", name="Dermatologie"))
    await ess.add_user(
        role=Role.SPECIALIST,
        email="dermato@ess-test.fr",
        name="Dr Dermato",
        specialty="dermatologie",
        capacity=5,
    )
    headers = ess.auth(ess.requesters[0])
    busy = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        # Cardiology's dispatcher busy, as during a long decline or a backlog drain.
        holder = busy.transaction()
        await holder.start()
        await busy.execute("SELECT pg_advisory_xact_lock(hashtext('dispatch:cardiologie'))")
        cardiology = asyncio.create_task(
            client.post("/api/v1/requests", json=request_payload(), headers=headers)
        )
        await wait_for_lock_waiter(busy)
        assert not cardiology.done()

        dermatology = await asyncio.wait_for(
            client.post(
                "/api/v1/requests",
                json=request_payload(specialty="dermatologie", subspecialty=None),
                headers=headers,
            ),
            timeout=10,
        )
        assert dermatology.status_code == 201, dermatology.text
        assert dermatology.json()["status"] == "assigned"
        assert not cardiology.done()  # still waiting for its turn

        await holder.commit()
        waited = await asyncio.wait_for(cardiology, timeout=10)
        assert waited.status_code == 201, waited.text
        assert waited.json()["status"] == "assigned"
        # References follow the order in which numbers were handed out.
        assert dermatology.json()["reference"] < waited.json()["reference"]
    finally:
        await busy.close()


async def wait_for_lock_waiter(observer: asyncpg.Connection) -> None:
    """Wait until some session of this database is blocked on an advisory lock."""
    for _ in range(200):
        waiting = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        if waiting:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the cardiology submission never waited for its pool lock")


async def test_a_pool_lock_is_taken_once_per_transaction_and_again_in_the_next(
    context, settings
) -> None:
    """Services lock, then dispatch locks again: one statement, and never a stale belief."""
    sent: list[str] = []
    engine = context.db.write_engine.sync_engine

    def spy(conn, cursor, statement, parameters, ctx, executemany) -> None:  # type: ignore[no-untyped-def]
        if "pg_advisory_xact_lock" in statement:
            sent.append(statement)

    sa_event.listen(engine, "before_cursor_execute", spy)
    observer = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:

        async def held_elsewhere(pool: str) -> bool:
            free = await observer.fetchval(
                "SELECT pg_try_advisory_lock(hashtext($1))", f"dispatch:{pool}"
            )
            if free:
                await observer.execute(
                    "SELECT pg_advisory_unlock(hashtext($1))", f"dispatch:{pool}"
                )
            return not free

        async with AsyncSession(context.db.write_engine) as session:
            await lock_pool(session, "cardiologie")
            await lock_pool(session, "cardiologie")
            await lock_pool(session, "dermatologie")
            assert len(sent) == 2
            assert await held_elsewhere("cardiologie")
            await session.commit()
            assert not await held_elsewhere("cardiologie")

            # The same session, a new transaction: the lock is taken for real again.
            await lock_pool(session, "cardiologie")
            assert len(sent) == 3
            assert await held_elsewhere("cardiologie")
            await session.rollback()
            assert not await held_elsewhere("cardiologie")
    finally:
        sa_event.remove(engine, "before_cursor_execute", spy)
        await observer.close()
