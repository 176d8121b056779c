"""Where a partnership command runs: on SQLite, in one writer thread of its own (ADR 0020).

SQLite has one writer, and the library's pool issues one writer connection at a time: several
commands in Starlette's threadpool only queue for it, and meanwhile hand the GIL to each other.
One thread takes them in turn, and the event loop stays free. On PostgreSQL commands go to the
threadpool, where several overlap their round trips to the server.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

T = TypeVar("T")


def writer_thread(store_kind: str) -> ThreadPoolExecutor | None:
    """The SQLite store's command thread (None on PostgreSQL)."""
    if store_kind != "sqlite":
        return None
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")


async def run_command(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    writer: ThreadPoolExecutor | None = getattr(request.app.state, "writer", None)
    if writer is None:
        return await run_in_threadpool(fn, *args, **kwargs)
    context = contextvars.copy_context()  # the request id in the logs, as the threadpool does
    return await asyncio.get_running_loop().run_in_executor(
        writer, partial(context.run, fn, *args, **kwargs))
