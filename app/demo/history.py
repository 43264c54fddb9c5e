"""The demo's clock: a queue of what people do, and the scheduler's ticks in between.

Nothing is written here that the service could not have written: every change goes
through the services, the deadlines fire through the SLA engine (``sla.engine.fire``,
as ``fire_due`` calls it) and waiting requests are assigned by the dispatcher's drain
of the pending queue (``router.drain_pending``, as the scheduler's sweep calls it),
each at the simulated instant it would have happened, so the audit chain, the history
events and the outbox are those of real use. Before
each action, a tick runs at every instant a deadline or an awaited opening falls due,
as the scheduler (every 30 s) would have.

Speed: a year is some 15 000 service calls. The simulation keeps in memory what the
next tick and the next actions need (each request's status and assignee, each open
one's next due instant, the waiting ones) from the requests the services hand back,
and reads the open requests again only after a tick or a change that may have
dispatched someone else's (a freed place, a decline). Consecutive actions share a
transaction (``History.session``).
"""

import heapq
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from models import OutboxMessage, OutboxStatus, Priority, Request, Status, User
from router import drain_pending, lock_pool
from sla.deadlines import due, refresh
from sla.engine import fire

Action = Callable[..., Awaitable[None]]
OPEN = (Status.PENDING, Status.ASSIGNED, Status.ACCEPTED, Status.AWAITING_INFO)
TICK = timedelta(seconds=30)  # ESS_SLA__TICK_SECONDS's default
BATCH = 200
T = TypeVar("T")


def aware(instant: datetime) -> datetime:
    """SQLite hands UTC instants back naive."""
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class History:
    """The event queue and the scheduler's ticks; ``app.demo.acts`` says what people do."""

    def __init__(self, context: AppContext, *, end: datetime, seed: int) -> None:
        self.db = context.db
        self.vault = context.vault
        self.policy = context.policy
        self.calendar = context.calendar
        self.zone = context.zone
        self.directory = context.settings.attachments_dir()
        self.limit = context.settings.attachment_max_bytes
        self.end = end
        self.rng = random.Random(seed)
        self.users: dict[uuid.UUID, User] = {}
        self.tally: Counter[str] = Counter()
        self._queue: list[tuple[datetime, int, Action, tuple[object, ...]]] = []
        self._order = itertools.count()
        self._planned: set[tuple[uuid.UUID, int]] = set()
        self._stranded: set[uuid.UUID] = set()
        self.now = end  # the simulated present: the action or tick being played
        self._last_tick: datetime | None = None
        # Each open request's next deadline instant, the awaited openings, the
        # requests waiting for a specialist, and every request's status and assignee.
        self._due: dict[uuid.UUID, datetime] = {}
        self._waiting: dict[uuid.UUID, datetime] = {}
        self._pending: set[uuid.UUID] = set()
        self.state: dict[uuid.UUID, tuple[Status, uuid.UUID | None]] = {}
        self._batch: AsyncSession | None = None
        self._closing: AsyncExitStack | None = None
        self._batched = 0

    def at(self, when: datetime, action: Action, *args: object) -> None:
        """Plan ``action(when, *args)``; what would happen after the present is dropped."""
        if when < self.end:
            heapq.heappush(self._queue, (when, next(self._order), action, args))

    async def run(self) -> None:
        try:
            while self._queue:
                when, _, action, args = heapq.heappop(self._queue)
                await self._ticks_until(when)
                self.now = when
                await action(when, *args)
            await self._ticks_until(self.end)
            await deliver(await self.session(), self.end)
        except BaseException:
            if self._closing is not None:
                await self._closing.__aexit__(None, None, None)  # rolled back by the session
            raise
        await self.commit()

    async def session(self) -> AsyncSession:
        """The open batch's session: consecutive actions share one transaction.

        Committing every action alone costs a third more round trips (BEGIN, COMMIT,
        the audit chain's head); the rows are the same. A batch ends before each
        tick (the scheduler's jobs run their own transactions) and every ``BATCH``
        actions.
        """
        if self._batch is None:
            self._closing = AsyncExitStack()
            self._batch = await self._closing.enter_async_context(self.db.transaction())
        return self._batch

    async def commit(self) -> None:
        if self._closing is not None:
            await self.observe()  # what the in-memory state says, read again
            closing, self._closing, self._batch, self._batched = self._closing, None, None, 0
            await closing.aclose()

    async def act(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one action in the batch; the caller has checked that it is allowed now."""
        result = await work(await self.session())
        self._batched += 1
        if self._batched >= BATCH:
            await self.commit()
        return result

    async def _ticks_until(self, moment: datetime) -> None:
        while self._due or self._waiting:
            when = min([*self._due.values(), *self._waiting.values()])
            opening = when in self._waiting.values()
            if self._last_tick is not None and when <= self._last_tick:
                when = self._last_tick + TICK  # still due: the scheduler's next tick
            if when > moment:
                return
            await self.tick(when, sweep=opening)

    async def tick(self, now: datetime, *, sweep: bool = True) -> None:
        """One scheduler tick: due deadlines fired and, at an opening, waiting requests tried.

        What ``sla.engine.fire_due`` and ``router.sweep_pending`` do, with the engine's
        and the dispatcher's own functions, in the batch's transaction rather than one
        per request. The scheduler retries the waiting requests at every tick; only the
        ticks when something may have changed for them (an opening, a shift's start, an
        absence's end, a place freed by a re-dispatch) are played: the others would
        write nothing.
        """
        self._last_tick = self.now = now
        session = await self.session()
        if sweep:
            await deliver(session, now)
        firing = await session.execute(
            select(Request).where(Request.sla_next_at <= now).order_by(Request.sla_next_at)
        )
        moved_on = False
        for request in firing.scalars().all():
            held = request.assignee_id
            await lock_pool(session, request.specialty_code)
            for deadline, level in due(request, now):
                fired = await fire(session, request, deadline, level, now=now, policy=self.policy)
                self.tally["sla_firings"] += fired
            refresh(request)
            # A missed acknowledgement hands the request on: its place is free.
            moved_on |= request.assignee_id != held
            self.follow(request)
        if sweep or (moved_on and self._pending):
            pools = await session.execute(
                select(Request.specialty_code).where(Request.status == Status.PENDING).distinct()
            )
            for code in pools.scalars().all():
                await drain_pending(session, code, now=now, policy=self.policy)
            await self.recheck(session)
        self._batched += 1

    async def sweep(self, now: datetime) -> None:
        """The tick at an opening, a shift's start or an absence's end, if someone waits."""
        if self._pending and self._last_tick != now:
            await self.tick(now)

    async def observe(self) -> None:
        """Read the open requests again; plan each new assignee's reaction."""
        session = await self.session()
        rows = (await session.execute(select(Request).where(Request.status.in_(OPEN)))).scalars()
        requests = list(rows)
        self._due.clear()
        self._waiting.clear()
        self._pending.clear()
        for request in requests:
            self.follow(request)

    async def recheck(self, session: AsyncSession) -> None:
        """Read again the waiting requests: a drain of the pending queue may have assigned them."""
        if self._pending:
            rows = await session.execute(select(Request).where(Request.id.in_(self._pending)))
            for request in rows.scalars().all():
                self.follow(request)

    def follow(self, request: Request) -> None:
        """Keep what the ticks and the next actions need from a request just read or changed."""
        self._due.pop(request.id, None)
        self._waiting.pop(request.id, None)
        self._pending.discard(request.id)
        self.state[request.id] = (Status(request.status), request.assignee_id)
        if request.status not in OPEN:
            return
        if request.sla_next_at is not None:
            self._due[request.id] = aware(request.sla_next_at)
        if request.status == Status.PENDING:
            self._pending.add(request.id)
            if request.waiting_until is not None:
                self._waiting[request.id] = aware(request.waiting_until)
            elif request.id not in self._stranded:
                self._stranded.add(request.id)
                self.stranded(request.id, request.requester_id)
        elif request.status == Status.ASSIGNED:
            key = (request.id, request.assignment_cycle)
            if key not in self._planned and request.assignee_id and request.assigned_at:
                self._planned.add(key)
                self.react(
                    request.id,
                    request.assignee_id,
                    aware(request.assigned_at),
                    Priority(request.priority),
                )

    def allows(
        self, request_id: uuid.UUID, statuses: tuple[Status, ...], by: uuid.UUID | None = None
    ) -> bool:
        """Whether the request is in one of ``statuses`` (and held by ``by``, if given)."""
        status, assignee = self.state[request_id]
        return status in statuses and (by is None or assignee == by)

    async def after_release(self, request: Request | None) -> None:
        """Follow ``request``; a freed place may have gone to a waiting request: look again."""
        if request is not None:
            self.follow(request)
        await self.recheck(await self.session())

    def react(
        self,
        request_id: uuid.UUID,
        assignee_id: uuid.UUID,
        assigned_at: datetime,
        priority: Priority,
    ) -> None:
        """Plan what the new assignee does (``app.demo.acts``)."""
        raise NotImplementedError

    def stranded(self, request_id: uuid.UUID, requester_id: uuid.UUID) -> None:
        """Plan what happens to a request nobody is eligible for (``app.demo.acts``)."""
        raise NotImplementedError


async def deliver(session: AsyncSession, now: datetime) -> None:
    """Mark the notifications due by ``now`` sent, as the sender leaves them after sending.

    The demo's year is that of an ESS whose mail server worked: what fell due was
    sent (at its due instant; the real sender takes up to a poll interval). What falls
    due after the demo's present stays in the outbox for the running server.
    """
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .execution_options(synchronize_session=False)
        .values(
            status=OutboxStatus.SENT,
            attempts=1,
            sent_at=OutboxMessage.next_attempt_at,
            lease_until=None,
            last_error=None,
        )
    )
