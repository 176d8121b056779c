"""The views folded by several processes, one per lane (ADR 0011, "Lanes").

One runtime folds a page for every view in one Python process: at most one core's worth of
Python, and while Python works PostgreSQL waits, and the other way round (measured: one runner
left a 2-core machine two-thirds idle). Threads do not help: the page's Python work holds the
GIL, so two lanes in two threads were no faster than one runner. So on PostgreSQL
`kemitraan project` and `kemitraan projections rebuild` split the views into lanes
(`projections.registry.LANES`) and fold each lane in a process of its own.

Nothing new is needed for correctness: each lane is an ordinary `Runtime` over its own views.
Its pages claim the views' own tracking rows (several runners were always allowed), so the
lanes never touch the same rows, and a runner inside `kemitraan serve` that still folds every
view just races them page by page, as two servers always did. A lane's rebuild is one
transaction, as a rebuild always was: each view still goes at once from its old complete rows
to its new ones; only views of *different* lanes may commit a moment apart. No read joins the
tables of two lanes (see the rule at `LANES`).

SQLite has one writer at a time: its lanes would only wait for each other, so it keeps one.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from api.settings import Settings
from projections.registry import LANES
from projections.runtime import Runtime

log = structlog.get_logger("projections")


class LaneFailed(Exception):
    """A lane's process failed or died; the message names the lane and why."""


def plan(names: Sequence[str], processes: int) -> list[list[str]]:
    """The views `names` split into at most `processes` lanes, in the order given.

    Each group of `LANES` with a view among `names` is a lane; the other views form the first
    lane (the one that also runs the maintenance tasks). Past `processes`, the last lanes merge.
    """
    order = {n: i for i, n in enumerate(names)}
    groups = [[n for n in lane if n in order] for lane in LANES]
    groups = [g for g in groups if g]
    grouped = {n for g in groups for n in g}
    rest = [n for n in names if n not in grouped]
    lanes = ([rest] if rest else []) + groups
    while len(lanes) > max(processes, 1):
        last = lanes.pop()
        lanes[-1] = lanes[-1] + last
    return [sorted(lane, key=order.__getitem__) for lane in lanes]


def default_processes(store_kind: str, names: Sequence[str]) -> int:
    """PostgreSQL: a process per lane, up to the cores there are; SQLite: one."""
    if store_kind != "postgresql":
        return 1
    return max(1, min(os.cpu_count() or 1, len(plan(names, len(names)))))


def lane_runtime(runtime: Runtime, names: Sequence[str], maintenance: bool = False) -> Runtime:
    """A runtime over some of `runtime`'s views (same store, page size and linger,
    optionally its maintenance). Built with only these view classes, its pages read the log
    unfiltered."""
    return Runtime(runtime.ledger, runtime.engine, [type(runtime.view(n)) for n in names],
                   store_kind=runtime.store_kind, page=runtime.page, linger=runtime.LINGER,
                   maintenance=runtime.maintenance if maintenance else ())


# --- the lane processes --------------------------------------------------------------------

def _lane_main(settings: Settings, names: list[str], mode: str, arg: float,
               events: Any, index: int, parent: int) -> None:
    """A lane's process: 'rebuild', 'until' (catch up to position `arg`) or 'forever' (poll
    every `arg` seconds until stopped); in every mode it ends when the parent process is gone."""
    from api.logs import configure
    from api.wiring import build

    configure(settings.log_format)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    container = build(settings, prepare=False)  # the parent prepared the store
    try:
        rt = lane_runtime(container.views, names)
        if mode == "rebuild":
            folded = rt.rebuild(progress=lambda pos, head: events.put(("progress", index, pos)))
        elif mode == "until":
            folded = 0
            while True:
                n, reached = rt.run_page()
                folded += n
                events.put(("progress", index, reached))
                if reached >= min(arg, rt.head()):
                    break
        else:
            rt.run_forever(arg)
            folded = 0
        events.put(("done", index, folded))
    except KeyboardInterrupt:
        events.put(("done", index, 0))
    except BaseException as e:
        events.put(("error", index, f"{type(e).__name__}: "
                    f"{str(e).splitlines()[0] if str(e) else ''}"))
        raise SystemExit(1) from None
    finally:
        container.close()


def _exit_when_orphaned(parent: int) -> None:
    """A lane whose parent is gone (killed, crashed) exits at once: its open transaction, a
    page or a whole rebuild, rolls back when the connection drops, so nothing is half-done and
    nobody is left holding the views' locks."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


class Lanes:
    """Lane processes started by this process, and what they report."""

    def __init__(self, settings: Settings, lanes: Sequence[Sequence[str]], mode: str,
                 arg: float = 0.0) -> None:
        ctx = mp.get_context("spawn")  # a fork would copy engines, pools and threads
        self.lanes = [list(lane) for lane in lanes]
        self.events = ctx.Queue()
        self.procs = [ctx.Process(target=_lane_main, name=f"kemitraan-lane-{i}", daemon=True,
                                  args=(settings, lane, mode, arg, self.events, i, os.getpid()))
                      for i, lane in enumerate(self.lanes)]
        self.reached = [0] * len(self.procs)
        self.folded: dict[int, int] = {}
        self.started = 0.0  # when `start` started the processes
        self.took: dict[int, float] = {}  # lane -> seconds from the start to its report "done"
        self.errors: dict[int, str] = {}
        self._quiet: set[int] = set()

    def start(self) -> Lanes:
        self.started = time.monotonic()
        for p in self.procs:
            p.start()
        return self

    def poll(self, timeout: float) -> None:
        """Takes what the lanes reported within `timeout`; a lane that died without a word is
        an error too."""
        try:
            kind, index, value = self.events.get(timeout=timeout)
        except queue.Empty:
            # a lane that exited cleanly flushed its reports before exiting: unreported over
            # two quiet polls in a row, it stopped without one
            for i, p in enumerate(self.procs):
                if p.exitcode == 0 and i not in self.errors and i not in self.folded:
                    if i in self._quiet:
                        self.errors[i] = "its process stopped without a report"
                    self._quiet.add(i)
        else:
            if kind == "progress":
                self.reached[index] = max(self.reached[index], int(value))
            elif kind == "done":
                self.folded[index] = int(value)
                self.took[index] = time.monotonic() - self.started
            else:
                self.errors[index] = str(value)
        for i, p in enumerate(self.procs):
            if p.exitcode not in (None, 0) and i not in self.errors and i not in self.folded:
                self.errors.setdefault(i, f"its process exited with code {p.exitcode}")

    @property
    def finished(self) -> bool:
        return len(self.folded) + len(self.errors) == len(self.procs)

    def failure(self) -> LaneFailed | None:
        if not self.errors:
            return None
        return LaneFailed("; ".join(f"lane {', '.join(self.lanes[i])}: {why}"
                                    for i, why in sorted(self.errors.items())))

    def wait(self, progress: Callable[[int], None] | None = None) -> int:
        """Until every lane finished; calls `progress(min position)`; returns the events folded
        by the lane that folded most (every lane reads the same log)."""
        while not self.finished:
            self.poll(0.5)
            if progress:
                progress(min(self.reached))
        self.close()
        failure = self.failure()
        if failure:
            raise failure
        return max(self.folded.values(), default=0)

    def close(self, timeout: float = 10.0, terminate: bool = False) -> None:
        """Waits for the lanes (or, with `terminate`, stops them at once: an open transaction
        rolls back) and reaps them."""
        if terminate:
            for p in self.procs:
                if p.is_alive():
                    p.terminate()
        deadline = time.monotonic() + timeout
        for p in self.procs:
            p.join(max(deadline - time.monotonic(), 0.1))
            if p.is_alive():
                p.terminate()
                p.join(2.0)


def rebuild(settings: Settings, lanes: Sequence[Sequence[str]],
            progress: Callable[[int], None] | None = None) -> int:
    """Rebuilds each lane in a process of its own, all at once; returns the events folded
    (by the lane that folded most). Raises LaneFailed naming the lanes that failed (the others committed)."""
    return Lanes(settings, lanes, "rebuild").start().wait(progress)


def catch_up(settings: Settings, lanes: Sequence[Sequence[str]], until: int,
             progress: Callable[[int], None] | None = None,
             took: dict[str, float] | None = None) -> int:
    """Catches each lane up to `until` in a process of its own (the benchmark's catch-up).
    `took` gets the seconds each lane needed, by its views' names joined with commas (which
    lane finished last: the one to make cheaper)."""
    running = Lanes(settings, lanes, "until", float(until)).start()
    folded = running.wait(progress)
    if took is not None:
        took.update({",".join(running.lanes[i]): t for i, t in running.took.items()})
    return folded


def run_forever(settings: Settings, runtime: Runtime, lanes: Sequence[Sequence[str]],
                poll: float) -> None:
    """`kemitraan project`: the first lane (with the maintenance tasks) in this process, each
    other lane in a process of its own. Returns on Ctrl-C; raises LaneFailed when a lane's
    process dies (a supervisor then restarts the whole command)."""
    main = lane_runtime(runtime, lanes[0], maintenance=True)
    others = Lanes(settings, lanes[1:], "forever", poll).start()
    log.info("projections.lanes", lanes=[",".join(lane) for lane in lanes])
    main.start(poll)
    try:
        while main.running:
            others.poll(0.5)
            if others.errors or others.finished:
                raise others.failure() or LaneFailed("a lane's process stopped")
    finally:
        main.stop()
        others.close(terminate=True)
