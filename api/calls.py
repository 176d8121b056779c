"""Where a partnership command runs: on SQLite, in one writer thread of its own (ADR 0020).

SQLite has one writer, and the library's pool issues one writer connection at a time: several
commands in Starlette's threadpool only queue for it, and meanwhile hand the GIL to each other.
One thread takes them in turn, and the event loop stays free. On PostgreSQL commands go to the
threadpool, where several overlap their round trips to the server.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


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

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        jobs = self._jobs if self._jobs is not None else self._start()
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

    @staticmethod
    def _work(jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            loop, future, fn = job
            try:
                result, error = fn(), None
            except BaseException as exc:  # the awaiting request raises it
                result, error = None, exc
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
    writer: WriterThread | None = getattr(request.app.state, "writer", None)
    if writer is None:
        return await run_in_threadpool(fn, *args, **kwargs)
    context = contextvars.copy_context()  # the request id in the logs, as the threadpool does
    return await writer.run(partial(context.run, fn, *args, **kwargs))
