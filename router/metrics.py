"""The dispatcher's Prometheus metrics (aggregated across processes when multi-process)."""

import functools
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Histogram

P = ParamSpec("P")
T = TypeVar("T")

DECISION_SECONDS = Histogram(
    "ess_dispatch_decision_seconds",
    "Time the dispatcher takes to judge a pool and choose a specialist (one query).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def timed(histogram: Histogram) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Observe how long each call of a coroutine function takes, into ``histogram``."""

    def decorate(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(function)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return run

    return decorate
