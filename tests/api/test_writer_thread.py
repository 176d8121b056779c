"""The SQLite store's writer thread (api/calls.py): commands in turn, in one thread; what they
raise reaches the request; a request that goes away leaves the thread working."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from api.calls import WriterThread

who = contextvars.ContextVar("who", default="nobody")


def test_commands_run_in_turn_in_one_thread_and_see_the_callers_context() -> None:
    writer = WriterThread()
    seen: list[tuple[str, str, int]] = []
    running = 0

    def command(k: int) -> int:
        nonlocal running
        running += 1
        assert running == 1  # never two at once
        time.sleep(0.002)
        seen.append((threading.current_thread().name, who.get(), k))
        running -= 1
        return k * 10

    async def request(k: int) -> int:
        who.set(f"request {k}")
        context = contextvars.copy_context()
        return await writer.run(lambda: context.run(command, k))

    async def main() -> list[int]:
        return await asyncio.gather(*(request(k) for k in range(20)))

    try:
        assert asyncio.run(main()) == [k * 10 for k in range(20)]
    finally:
        writer.stop()
    assert {name for name, _, _ in seen} == {"sqlite-writer"}
    assert [k for _, _, k in seen] == list(range(20))  # in the order given
    assert all(context == f"request {k}" for _, context, k in seen)


def test_an_error_reaches_the_request_and_the_thread_goes_on() -> None:
    writer = WriterThread()

    def boom() -> None:
        raise LookupError("no such partnership")

    async def main() -> int:
        with pytest.raises(LookupError, match="no such partnership"):
            await writer.run(boom)
        return await writer.run(lambda: 7)

    try:
        assert asyncio.run(main()) == 7
    finally:
        writer.stop()


def test_a_request_that_goes_away_leaves_its_command_to_finish() -> None:
    writer = WriterThread()
    release, done = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(5)
        done.set()
        return "written"

    async def main() -> str:
        waiting = asyncio.ensure_future(writer.run(slow))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the client disconnected
        release.set()
        return await writer.run(lambda: "next")

    try:
        assert asyncio.run(main()) == "next"
        assert done.is_set()
        # A loop that closes before its command ends: the answer is dropped, the thread goes on.
        release.clear()
        done.clear()
        loop = asyncio.new_event_loop()

        async def submit() -> asyncio.Future[str]:
            task = asyncio.ensure_future(writer.run(slow))
            await asyncio.sleep(0)  # the command is given to the thread
            return task

        task = loop.run_until_complete(submit())
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.close()
        release.set()
        assert done.wait(5)
        assert asyncio.run(asyncio.wait_for(writer.run(lambda: "still here"), 5)) == "still here"
    finally:
        writer.stop()


def test_stopped_it_finishes_what_it_was_given_and_starts_again_on_demand() -> None:
    writer = WriterThread()
    first = asyncio.run(writer.run(threading.current_thread))
    assert first.name == "sqlite-writer" and first.is_alive()
    writer.stop()
    assert not first.is_alive()
    second = asyncio.run(writer.run(threading.current_thread))
    assert second is not first and second.is_alive()
    writer.stop()
    assert not second.is_alive()
