"""Give up the SLA scheduler's leadership the moment the process is asked to stop.

Uvicorn, on SIGTERM, first lets the requests in flight finish (up to its graceful
timeout) and only then ends the application's lifespan. The scheduler's leader lock
would be held all that time, and no process would fire deadlines. This hook runs
beside uvicorn's own signal handler: the leadership is released at once, so another
process takes the tick over at its next tick, while the requests in flight finish.
"""

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def resign_on_stop(resign: Callable[[], Awaitable[None]]) -> Iterator[None]:
    """Run ``resign`` as soon as SIGTERM or SIGINT arrives, then let the server stop as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread (an in-process test client runs elsewhere)
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    pending: set[asyncio.Task[None]] = set()

    def start_resigning() -> None:
        task = loop.create_task(resign())  # type: ignore[arg-type]
        pending.add(task)
        task.add_done_callback(pending.discard)

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(start_resigning)
        before = previous[sig]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is handle:
                signal.signal(sig, previous[sig])
