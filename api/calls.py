"""Where a partnership command runs (ADRs 0020, 0023).

On SQLite: on the event loop itself when nothing can make it wait there, that is when the
writer thread has nothing to do and SQLite's write lock is free at once (`Ledger.now` takes it
for the whole command, or declines before doing anything); otherwise in one writer thread of
its own. SQLite has one writer, and the library's pool issues one writer connection at a time:
several commands in Starlette's threadpool would only queue for it, and meanwhile hand the GIL
to each other. On PostgreSQL commands go to the threadpool, where several overlap their round
trips to the server.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from domain.sqlite_store import WouldWait

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]

# A command on the loop stalls every other request for as long as it takes, and its commit
# waits for the disk (the WAL's fsync): beside an import or a rebuild writing a lot, a probe
# saw single commits of 60-200 ms. After a command on the loop took longer than this, the
# commands go to the writer thread for a while (ADR 0023).
SLOW_ON_THE_LOOP_S = 0.02
OFF_THE_LOOP_FOR_S = 2.0


class WriterThread:
    """One thread that runs the commands it is given in turn, started on first use.

    Leaner than a one-worker `ThreadPoolExecutor` behind `run_in_executor` (no executor
    future chained to an asyncio future, no work item, no idle semaphore): the hop there and
    back cost ~0.07 ms less CPU a command in a paired A/B (docs/benchmarks.md), on a command
    of ~0.7 ms."""

    def __init__(self, name: str = "sqlite-writer") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] | None = None  # one queue per thread
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._given = 0  # counted on the event loop
        self._done = 0  # counted in the thread
        self._loop_from = 0.0  # `time.monotonic()` from which commands may run on the loop

    @property
    def idle(self) -> bool:
        """Nothing given to the thread is waiting or running."""
        return self._done == self._given

    @property
    def loop_allowed(self) -> bool:
        """A command may try the loop: the thread is idle, and no command on the loop was
        slow lately."""
        return self.idle and time.monotonic() >= self._loop_from

    def ran_on_the_loop(self, took: float) -> None:
        if took > SLOW_ON_THE_LOOP_S:
            self._loop_from = time.monotonic() + OFF_THE_LOOP_FOR_S

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        jobs = self._jobs if self._jobs is not None else self._start()
        self._given += 1
        jobs.put((loop, future, fn))
        return await future

    def stop(self, timeout: float = 30.0) -> None:
        """Let the commands already given finish, then end the thread (a later command
        starts another)."""
        with self._lock:
            thread, jobs, self._thread, self._jobs = self._thread, self._jobs, None, None
        if thread is not None and jobs is not None:
            jobs.put(None)
            thread.join(timeout)

    def _start(self) -> queue.SimpleQueue[_Job | None]:
        with self._lock:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._work, args=(self._jobs,),
                                                name=self.name, daemon=True)
                self._thread.start()
            return self._jobs

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            loop, future, fn = job
            try:
                result, error = fn(), None
            except BaseException as exc:  # the awaiting request raises it
                result, error = None, exc
            self._done += 1
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the client went away; the command ran all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def writer_thread(store_kind: str) -> WriterThread | None:
    """The SQLite store's command thread (None on PostgreSQL)."""
    return WriterThread() if store_kind == "sqlite" else None


async def run_command(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a ledger command (nothing else: on the loop it must not touch the views or files)."""
    writer: WriterThread | None = getattr(request.app.state, "writer", None)
    if writer is None:
        return await run_in_threadpool(fn, *args, **kwargs)
    if writer.loop_allowed:  # else the thread has commands in turn: this one joins them
        started = time.perf_counter()
        try:
            return request.app.state.container.ledger.now(partial(fn, *args, **kwargs))
        except WouldWait:
            pass  # the lock is held elsewhere: nothing was done, wait for it in the thread
        finally:
            writer.ran_on_the_loop(time.perf_counter() - started)
    context = contextvars.copy_context()  # the request id in the logs, as the threadpool does
    return await writer.run(partial(context.run, fn, *args, **kwargs))
