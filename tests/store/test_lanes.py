"""Views folded by several processes (api.lanes): the same views as one runner, on PostgreSQL;
SQLite refuses more than one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from api import lanes
from api.demo import seed
from api.settings import Settings
from api.wiring import Container, build
from projections.registry import VIEWS
from tests.projections.viewdump import dump
from tests.terminal import as_in_a_terminal

NAMES = [v.name for v in VIEWS]
KEMITRAAN = str(Path(sys.executable).with_name("kemitraan"))


def test_the_plan_puts_the_audit_log_and_its_lane_apart_from_the_views_read_together() -> None:
    second = ["scale_upgrades", "evidence_reuse", "audit_log"]
    rest = [n for n in NAMES if n not in second]
    assert "real_partnerships" in rest and "compliance_facts" in rest and "regulations" in rest
    assert lanes.plan(NAMES, 2) == [rest, second]
    assert lanes.plan(NAMES, 8) == [rest, second]
    assert lanes.plan(NAMES, 1) == [NAMES]  # merged back in the registry's order
    assert lanes.plan(["audit_log"], 2) == [["audit_log"]]
    assert lanes.plan(["audit_log", "partnership_list"], 2) == [["partnership_list"],
                                                                ["audit_log"]]
    assert lanes.plan(["compliance_facts", "partnership_list"], 2) == [
        ["compliance_facts", "partnership_list"]]  # the order given, one lane
    for processes in (1, 2, 8):  # a view and the views it reads while folding share a lane
        for lane in lanes.plan(NAMES, processes):
            for view in (v for v in VIEWS if v.name in lane):
                assert set(view.reads) <= set(lane), (view.name, lane)
    assert lanes.default_processes("sqlite", NAMES) == 1
    assert lanes.default_processes("postgresql", NAMES) == min(os.cpu_count() or 1, 2)


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Lanes are for PostgreSQL: the `settings` fixture here is always a PostgreSQL store."""
    return request.param


@pytest.fixture
def demo(settings: Settings) -> Iterator[Container]:
    """The demo ledger in a PostgreSQL store, views not yet folded."""
    c = build(settings)
    try:
        seed(c, datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc))
        yield c
    finally:
        c.close()


def _cli_env(settings: Settings) -> dict[str, str]:
    """The environment of a `kemitraan` command on the same store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    env["KEMITRAAN_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["KEMITRAAN_DATABASE_URL"] = str(settings.database_url)
    return env


def test_two_lane_processes_build_the_same_views_as_one_runner(settings: Settings,
                                                               demo: Container) -> None:
    c = demo
    head = c.views.head()
    c.views.rebuild()
    expected = dump(c.engine)
    assert sum(map(len, expected.values())) > 1000  # the demo fills every view

    plan = lanes.plan(NAMES, 2)
    seen: list[int] = []
    folded = lanes.rebuild(settings, plan, progress=seen.append)
    assert folded == head and seen and max(seen) == head
    assert dump(c.engine) == expected
    assert c.views.positions() == {n: head for n in NAMES}

    # catch-up from empty tables, each lane in its own process
    with c.engine.begin() as conn:
        for v in c.views.views:
            v.view.conn = conn
            v.clear()
            v.view.conn = None
        conn.exec_driver_sql("UPDATE view_tracking SET position = 0")
    took: dict[str, float] = {}
    assert lanes.catch_up(settings, plan, head, took=took) == head
    assert dump(c.engine) == expected
    assert set(took) == {",".join(lane) for lane in plan} and all(t > 0 for t in took.values())


def test_a_failed_lane_is_named_and_the_other_lanes_still_commit(settings: Settings,
                                                                  demo: Container) -> None:
    head = demo.views.head()
    with pytest.raises(lanes.LaneFailed, match=r"^lane no_such_view: KeyError"):
        lanes.rebuild(settings, [["partnership_list"], ["no_such_view"]])
    assert demo.views.positions()["partnership_list"] == head


def _status(env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run([KEMITRAAN, "projections", "status"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.split("\n\n")[0].splitlines()[1:]]
    return {view: int(lag) for view, _position, lag in rows}


def test_kemitraan_project_in_two_processes_catches_up_and_stops_on_ctrl_c(
        settings: Settings, demo: Container) -> None:
    head = demo.views.head()
    env = _cli_env(settings)
    assert all(lag == head for lag in _status(env).values())  # nothing folded yet
    proc = subprocess.Popen([KEMITRAAN, "project", "--processes", "2", "--poll", "0.1"],
                            preexec_fn=as_in_a_terminal,
                            text=True, env=env, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_status(env).values()):
            time.sleep(0.3)
        assert _status(env) == {n: 0 for n in NAMES}
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        proc.wait(timeout=30)
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, err
    assert "in 2 process(es)" in err
    # the rebuild command in two processes too, with its progress bar
    result = subprocess.run([KEMITRAAN, "projections", "rebuild", "--processes", "2"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"rebuilt all views: {head} events folded" in result.stderr
    assert _status(env) == {n: 0 for n in NAMES}


def test_sqlite_refuses_more_than_one_process(tmp_path: Path) -> None:
    env = _cli_env(Settings(data_dir=tmp_path))
    for args in (["project", "--processes", "2"], ["projections", "rebuild", "--processes", "2"]):
        result = subprocess.run([KEMITRAAN, *args], capture_output=True, text=True, env=env,
                                timeout=60)
        assert result.returncode == 2
        assert "--processes above 1 needs PostgreSQL" in result.stderr


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(x) for x in out.stdout.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_lanes_whose_parent_is_killed_exit_and_leave_the_views_as_they_were(
        settings: Settings, demo: Container) -> None:
    c = demo
    head = c.views.head()
    c.views.catch_up()
    before = dump(c.engine)
    env = _cli_env(settings)
    proc = subprocess.Popen([KEMITRAAN, "projections", "rebuild", "--processes", "2"],
                            env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_children(proc.pid)) < 3:  # 2 lanes + tracker
        time.sleep(0.05)
    lanes_ = _children(proc.pid)
    assert len(lanes_) >= 3 and proc.poll() is None
    proc.kill()  # SIGKILL: no finally, no atexit
    proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in lanes_):
        time.sleep(0.1)
    assert not any(_alive(p) for p in lanes_)
    # the rebuild's transactions rolled back: the same views, still at the head
    assert c.views.positions() == {n: head for n in NAMES}
    assert dump(c.engine) == before
