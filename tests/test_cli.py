"""The `kemitraan` command as an operator runs it: a real process, real environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projections.funnel_cube import jakarta_today
from tests.terminal import as_in_a_terminal

KEMITRAAN = str(Path(sys.executable).with_name("kemitraan"))


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    full_env.update({"KEMITRAAN_DATA_DIR": str(data_dir), **env})
    return subprocess.run([KEMITRAAN, *args], capture_output=True, text=True, env=full_env,
                          timeout=60)


def test_token_create_prints_the_token_alone_and_it_authenticates(tmp_path: Path) -> None:
    from api.auth import secret_hash
    from api.settings import Settings
    from api.wiring import build

    result = run(["token", "create", "--role", "dinas", "--region", "32.16",
                  "--name", "DPMPTSP Kab. Bekasi"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kl_")
    container = build(Settings(data_dir=tmp_path))
    try:
        who = container.ledger.authenticate(secret_hash(lines[0]))
        assert who is not None and (who.role.value, who.region) == ("dinas", "32.16")
    finally:
        container.close()
    assert lines[0] not in (tmp_path / "kemitraan.db").read_bytes().decode("latin-1")


def test_an_auditor_token_without_region_is_national(tmp_path: Path) -> None:
    result = run(["token", "create", "--role", "auditor"], tmp_path)
    assert result.returncode == 0, result.stderr


def test_token_list_shows_who_holds_what_and_token_revoke_ends_a_token(tmp_path: Path) -> None:
    import json

    from api.auth import secret_hash
    from api.settings import Settings
    from api.wiring import build

    dinas = run(["token", "create", "--role", "dinas", "--region", "32.16",
                 "--name", "DPMPTSP Kab. Bekasi"], tmp_path).stdout.strip()
    run(["token", "create", "--role", "auditor", "--name", "Auditor nasional"], tmp_path)
    listed = run(["token", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [["dinas", "32.16"], ["auditor", "(national)"]]
    assert dinas not in listed.stdout  # the secret is never shown (nor stored)
    rows = [json.loads(line)
            for line in run(["token", "list", "--json"], tmp_path).stdout.splitlines()]
    assert [(r["role"], r["name"], r["revoked_at"]) for r in rows] == [
        ("dinas", "DPMPTSP Kab. Bekasi", None), ("auditor", "Auditor nasional", None)]
    assert rows[0]["issued_at"].endswith("+07:00")  # shown in WIB

    revoked = run(["token", "revoke", rows[0]["id"], "--reason", "bocor"], tmp_path)
    assert revoked.returncode == 0 and rows[0]["id"] in revoked.stdout, revoked.stderr
    container = build(Settings(data_dir=tmp_path))
    try:
        assert container.ledger.authenticate(secret_hash(dinas)) is None
    finally:
        container.close()
    assert [line.split()[1] for line in run(["token", "list"], tmp_path).stdout.splitlines()] == [
        "auditor"]
    every = [json.loads(line) for line in
             run(["token", "list", "--all", "--json"], tmp_path).stdout.splitlines()]
    assert every[0]["id"] == rows[0]["id"] and every[0]["revoked_at"] is not None
    again = run(["token", "revoke", rows[0]["id"]], tmp_path)
    assert (again.returncode, again.stdout) == (1, "")
    assert "already revoked" in again.stderr


@pytest.mark.parametrize("args", [
    ["token", "create"],
    ["serve", "--port", "abc"],
    ["token", "create", "--role", "wizard"],
    ["token", "create", "--role", "dinas"],
    ["token", "create", "--role", "umkm", "--nib", "123"],
    ["token", "revoke", "not-an-id"],
    ["token", "list", "--role", "wizard"],
    ["token", "revoke", "00000000-0000-0000-0000-000000000000"],
])
def test_bad_arguments_exit_non_zero_with_one_line(tmp_path: Path, args: list[str]) -> None:
    result = run(args, tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_unreachable_database_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    result = run(["token", "create", "--role", "admin"], tmp_path,
                 KEMITRAAN_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot open the event store" in result.stderr


def test_an_unknown_log_format_is_a_bad_setting(tmp_path: Path) -> None:
    result = run(["token", "list"], tmp_path, KEMITRAAN_LOG_FORMAT="xml")
    assert result.returncode == 2 and "KEMITRAAN_LOG_FORMAT" in result.stderr


def test_a_bad_setting_is_named_with_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    result = run(["token", "create", "--role", "admin"], tmp_path,
                 KEMITRAAN_MAX_UPLOAD_BYTES="20MB")
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "KEMITRAAN_MAX_UPLOAD_BYTES" in line and "integer" in line, line


def test_python_dash_m_reaches_every_command(tmp_path: Path) -> None:
    """`python -m api.cli` (no installed script) knows the commands registered last too."""
    result = subprocess.run([sys.executable, "-m", "api.cli", "rules", "--help"],
                            capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    assert "load" in result.stdout


def test_a_malformed_database_url_exits_with_one_line(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, KEMITRAAN_DATABASE_URL="mysql://x@y/z")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_in_use_is_one_line_and_exit_2_before_any_work(tmp_path: Path,
                                                               command: str) -> None:
    """A real listening socket holds the port; `demo` must not seed (nor print tokens) first."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([command, "--port", str(port)], tmp_path)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.splitlines() == [
        f"kemitraan: port {port} on 127.0.0.1 is already in use; choose another with --port"]
    assert not (tmp_path / "kemitraan.db").exists()  # no ledger opened, nothing seeded


def test_demo_on_a_ledger_of_other_data_says_why_roles_have_no_token(tmp_path: Path) -> None:
    """`kemitraan demo` on a data dir that already holds non-demo data seeds nothing, and says
    so; the company and umkm rows name why there is no token and how to create one."""
    import queue
    import socket
    import threading

    assert run(["token", "create", "--role", "admin"], tmp_path).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    proc = subprocess.Popen([KEMITRAAN, "demo", "--port", str(port)], text=True,
                            env={**env, "KEMITRAAN_DATA_DIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=as_in_a_terminal)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []],
                     daemon=True).start()
    out: list[str] = []
    try:
        while not out or not out[-1].startswith("Dashboard:"):
            out.append(lines.get(timeout=60).rstrip("\n"))
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    rows = {line.split()[0]: line for line in out[1:] if line.startswith("  ")}
    assert list(rows) == ["admin", "dinas", "auditor", "company", "umkm"], out
    for role in ("company", "umkm"):
        assert "no token: this ledger holds no demo company" in rows[role], rows[role]
        assert f"`kemitraan token create --role {role} --nib NIB`" in rows[role], rows[role]
    assert "already holds events" in err and "not seeded" in err, err
    assert "Seeding" not in err


def _ledger_with_partnerships(data_dir: Path, n: int) -> int:
    """Writes n proposed partnerships straight through the use cases; returns the log head."""
    from datetime import date, datetime, timezone
    from uuid import uuid4

    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    now = datetime(2024, 2, 1, tzinfo=timezone.utc)
    container = build(Settings(data_dir=data_dir))
    try:
        lg = container.ledger
        lg.register_business(SYSTEM, now, nib="3216000000001", name="PT Sampel", scale="besar",
                             region_code="32.16", kbli=["47111"])
        lg.register_business(SYSTEM, now, nib="3216000000101", name="UMKM Sampel",
                             scale="mikro", region_code="32.16.01", kbli=["10794"])
        for i in range(n):
            lg.propose_partnership(SYSTEM, now, uuid4(), large_nib="3216000000001",
                                   umkm_nib="3216000000101", pola="rantai_pasok",
                                   title=f"Kontrak {i}", start_date=date(2024, 1, 1),
                                   location_region_code="32.16")
        return container.views.head()
    finally:
        container.close()


def test_project_signs_audit_checkpoints(tmp_path: Path) -> None:
    """Servers with KEMITRAAN_PROJECTIONS=follow do not sign (ADR 0014): `kemitraan project`,
    which folds the views, must, or a deployment of followers would never get checkpoints."""
    from api import audit
    from api.settings import Settings
    from api.wiring import build

    head = _ledger_with_partnerships(tmp_path, 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    proc = subprocess.Popen([KEMITRAAN, "project", "--poll", "0.1"], text=True,
                            preexec_fn=as_in_a_terminal, stderr=subprocess.PIPE,
                            env={**env, "KEMITRAAN_DATA_DIR": str(tmp_path)})
    container = build(Settings(data_dir=tmp_path))
    try:
        reader = audit.checkpointer(container, sign=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and reader.latest() is None:
            time.sleep(0.2)
        latest = reader.latest()
    finally:
        container.close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert latest is not None, err
    assert latest["tree_size"] == head, (latest, head)  # every event of the log is a leaf


def _status(data_dir: Path) -> dict[str, tuple[int, int]]:
    result = run(["projections", "status"], data_dir)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n\n")[0]
    rows = [line.split() for line in table.splitlines()[1:]]
    return {view: (int(position), int(lag)) for view, position, lag in rows}


def _cells_line(data_dir: Path) -> str:
    result = run(["projections", "status"], data_dir)
    return result.stdout.split("\n\n")[1].strip()


def test_projections_status_rebuild_and_project(tmp_path: Path) -> None:
    head = _ledger_with_partnerships(tmp_path, 30)
    before = _status(tmp_path)
    assert "partnership_list" in before
    assert all(lag == head - position for position, lag in before.values())
    # rebuild one view: it reaches the head, with a progress bar on stderr
    result = run(["projections", "rebuild", "partnership_list"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rebuilt partnership_list" in result.stderr
    assert _status(tmp_path)["partnership_list"] == (head, 0)
    # the view of what is real reads the evidence index while folding: it is rebuilt along
    result = run(["projections", "rebuild", "real_partnerships"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rebuilt evidence_index, real_partnerships" in result.stderr
    # a name that is no view: one line, exit 2
    wrong = run(["projections", "rebuild", "nonsense"], tmp_path)
    assert wrong.returncode == 2 and "no view named 'nonsense'" in wrong.stderr
    # `kemitraan project` runs alone and catches every view up, then stops on SIGINT
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    proc = subprocess.Popen([KEMITRAAN, "project", "--poll", "0.1"], text=True,
                            preexec_fn=as_in_a_terminal,
                            env={**env, "KEMITRAAN_DATA_DIR": str(tmp_path)},
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(lag == 0 for _, lag in _status(tmp_path).values()):
                break
            time.sleep(0.3)
        assert all(lag == 0 for _, lag in _status(tmp_path).values())
        # and keeps up with new writes from another process
        new_head = _ledger_with_partnerships_more(tmp_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and \
                min(p for p, _ in _status(tmp_path).values()) < new_head:
            time.sleep(0.3)
        assert min(p for p, _ in _status(tmp_path).values()) == new_head
        # and signs an audit checkpoint of what it folded (ADR 0014), with no API running
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _checkpoint_size(tmp_path) < new_head:
            time.sleep(0.3)
        assert _checkpoint_size(tmp_path) == new_head
        # and, caught up, pre-aggregates the funnel of every year and quarter (ADR 0019)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "due" in _cells_line(tmp_path):
            time.sleep(0.3)
        line = _cells_line(tmp_path)
        kept = jakarta_today().year - 2024 + 1  # the years since the first term start
        assert line == f"funnel cells (ADR 0019): {5 * kept} of {5 * kept} calendar spans fresh"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def _checkpoint_size(data_dir: Path) -> int:
    """Tree size of the newest signed checkpoint, read straight from the table (0 if none)."""
    import sqlalchemy as sa

    from api.settings import Settings
    from projections.checkpoints import checkpoints

    engine = sa.create_engine(f"sqlite:///{Settings(data_dir=data_dir).sqlite_path}")
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(checkpoints.name):
                return 0
            return int(conn.execute(sa.select(sa.func.max(checkpoints.c.tree_size))).scalar()
                       or 0)
    finally:
        engine.dispose()


def _ledger_with_partnerships_more(data_dir: Path) -> int:
    from datetime import date, datetime, timezone
    from uuid import uuid4

    from api.settings import Settings
    from api.wiring import build
    from domain.access import SYSTEM

    container = build(Settings(data_dir=data_dir))
    try:
        w = container.ledger.propose_partnership(
            SYSTEM, datetime(2024, 3, 1, tzinfo=timezone.utc), uuid4(),
            large_nib="3216000000001", umkm_nib="3216000000101", pola="rantai_pasok",
            title="Kontrak baru", start_date=date(2024, 1, 1), location_region_code="32.16")
        return w.position
    finally:
        container.close()


def test_rules_load_enacts_amends_and_reports_json_paths(tmp_path: Path) -> None:
    import json

    src = Path(__file__).resolve().parents[1] / "rules" / "perbup-bekasi-73-2020.json"
    first = run(["rules", "load", str(src)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "perbup-bekasi-73-2020 version 1 (enacted)"
    again = run(["rules", "load", str(src)], tmp_path)
    assert again.stdout.strip() == "perbup-bekasi-73-2020 version 1 (unchanged)"
    pack = json.loads(src.read_text())
    pack["effective_from"] = "2026-01-01"
    changed = tmp_path / "v2.json"
    changed.write_text(json.dumps(pack))
    second = run(["rules", "load", str(changed)], tmp_path)
    assert second.stdout.strip() == "perbup-bekasi-73-2020 version 2 (amended)", second.stderr
    pack["obligations"][0]["measure"] = "vibes"
    changed.write_text(json.dumps(pack))
    bad = run(["rules", "load", str(changed)], tmp_path)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "obligations[0].measure" in bad.stderr


def test_projections_status_says_which_due_spans_still_answer_from_older_cells() -> None:
    from datetime import datetime, timedelta, timezone

    from api.cli import describe_due

    now = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)
    due = [("2026-Q4", now - timedelta(seconds=75)), ("2026", now - timedelta(seconds=200)),
           ("2025-Q3", None)]
    assert describe_due(due, now, 180) == (
        "2026-Q4 (cells 75 s old, still answering), 2026 (cells 200 s old, the scan answers), "
        "2025-Q3 (no cells yet)")
    assert describe_due(due[:1], now, 0) == "2026-Q4 (cells 75 s old, the scan answers)"


def test_a_wrong_audit_key_path_is_refused_and_never_retires_the_live_key(
        tmp_path: Path) -> None:
    """A typo in KEMITRAAN_AUDIT_KEY_PATH used to create a key there and retire the live one,
    even from the read-only `audit check`; a key file that is not a key gave a traceback."""
    assert run(["token", "create", "--role", "auditor"], tmp_path).returncode == 0
    bundle = tmp_path / "a.jsonl"
    assert run(["audit", "export", "--out", str(bundle)], tmp_path).returncode == 0
    typo = tmp_path / "typo.pem"
    check = run(["audit", "check"], tmp_path, KEMITRAAN_AUDIT_KEY_PATH=str(typo))
    assert check.returncode == 0 and not typo.exists(), check.stderr
    export = run(["audit", "export", "--out", str(bundle)], tmp_path,
                 KEMITRAAN_AUDIT_KEY_PATH=str(typo))
    assert export.returncode == 2 and not typo.exists()
    assert export.stderr.strip().splitlines() == [
        f"kemitraan: KEMITRAAN_AUDIT_KEY_PATH: no key file at {typo}"]
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    bad = run(["audit", "export", "--out", str(bundle)], tmp_path,
              KEMITRAAN_AUDIT_KEY_PATH=str(not_a_key))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    # the live key still signs
    run(["token", "create", "--role", "auditor"], tmp_path)
    again = run(["audit", "export", "--out", str(bundle)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert run(["audit", "verify", str(bundle)], tmp_path).returncode == 0


def test_a_data_dir_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = run(["token", "list"], a_file)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "cannot use the data dir" in line, line
