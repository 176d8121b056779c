"""The `kemitraan` command as an operator runs it: a real process, real environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("args", [
    ["token", "create"],
    ["serve", "--port", "abc"],
    ["token", "create", "--role", "wizard"],
    ["token", "create", "--role", "dinas"],
    ["token", "create", "--role", "umkm", "--nib", "123"],
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


def test_a_malformed_database_url_exits_with_one_line(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, KEMITRAAN_DATABASE_URL="mysql://x@y/z")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
