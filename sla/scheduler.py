"""The scheduler: one APScheduler interval job that fires deadlines and retries the backlog.

With several processes on PostgreSQL, only the holder of a session-level advisory
lock ticks; the lock lives on a dedicated connection, so if that process dies its
connection closes, the lock is released and another process takes over at its
next tick. On SQLite every process may tick: firings are exactly-once anyway.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from config import Clock
from models.storage import Database
from router import DispatchPolicy, sweep_pending
from sla.engine import fire_due

logger = logging.getLogger("ess_router.sla")

LEADER_LOCK_KEY = 0x455353  # "ESS": one tick leader per database

TICK_SECONDS = Histogram(
    "ess_sla_tick_seconds",
    "Duration of the leader's SLA ticks: due deadlines fired and waiting requests retried.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class SlaScheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: DispatchPolicy,
        tick_seconds: float,
        anchor: Callable[[datetime], Awaitable[object]] | None = None,
    ) -> None:
        self.db = db
        self.anchor = anchor
        """Run by the leader after each tick's work: the audit chain's checkpoint."""
        self.clock = clock
        self.policy = policy
        self.tick_seconds = tick_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._leader: AsyncConnection | None = None
        self._stopping = asyncio.Lock()

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.tick_seconds,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=self.clock.now(),
            id="sla-tick",
        )
        self._scheduler.start()

    @property
    def running(self) -> bool:
        """Whether the tick job is scheduled in this process."""
        return self._scheduler is not None

    @property
    def leads(self) -> bool:
        """Whether this process holds the tick's leadership (always on SQLite once started)."""
        return self.running and (self.db.is_sqlite or self._leader is not None)

    async def stop(self) -> None:
        """Stop ticking and release the leadership; safe to call twice, or concurrently."""
        async with self._stopping:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
                self._scheduler = None
            if self._leader is not None:
                try:
                    await self._leader.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY}
                    )
                    await self._leader.commit()
                finally:
                    await self._leader.close()
                    self._leader = None

    async def is_leader(self) -> bool:
        if self.db.is_sqlite:
            return True
        if self._leader is not None:
            try:
                await self._leader.execute(text("SELECT 1"))
                return True
            except Exception:
                logger.warning("lost the SLA leader connection; trying to lead again")
                await self._drop_leader()
        connection = await self.db.write_engine.connect()
        try:
            got = (
                await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                )
            ).scalar_one()
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if got:
            self._leader = connection
            return True
        await connection.close()
        return False

    async def _drop_leader(self) -> None:
        if self._leader is not None:
            try:
                await self._leader.invalidate()
            finally:
                self._leader = None

    async def tick(self) -> int:
        """Fire what is due and retry waiting requests; never let one failure stop the job."""
        try:
            if not await self.is_leader():
                return 0
            now = self.clock.now()
            started = time.perf_counter()
            fired = await fire_due(self.db, now=now, policy=self.policy)
            await sweep_pending(self.db, now=now, policy=self.policy)
            TICK_SECONDS.observe(time.perf_counter() - started)
        except Exception:
            logger.exception("SLA tick failed; the next tick tries again")
            return 0
        if self.anchor is not None:
            try:
                await self.anchor(now)
            except Exception:
                logger.exception("audit checkpoint not written; the next tick tries again")
        return fired
