#!/usr/bin/env bash
# Kemitraan Ledger: the two commands of the README.
#   ./run.sh demo [--port 8000]   seed the demo ledger (embedded SQLite) and serve API + docs
#   ./run.sh test [pytest args]   run the whole test suite (SQLite and PostgreSQL)
# Both create ./.venv and install the project into it on first use (and when pyproject changes).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${KEMITRAAN_VENV:-.venv}

ensure_venv() {
  local extras=$1 stamp="$VENV/.installed-$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install --quiet -e ".[${extras}]"
    touch "$stamp"
  fi
}

ensure_postgres() {
  # The tests create (and drop) their own database on the server at 127.0.0.1:5432.
  if "$VENV/bin/python" - <<'PY' 2>/dev/null; then return 0; fi
import psycopg, os
psycopg.connect(host=os.environ.get("KEMITRAAN_TEST_PG_HOST", "127.0.0.1"), user="postgres",
                dbname="postgres", connect_timeout=3).close()
PY
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL..." >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
}

ensure_chromium() {
  # The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
  if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then return 0; fi
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Chromium for the browser tests..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || {
      apt-get update -q >/dev/null 2>&1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1
    } || echo "Could not install chromium: the browser tests will fail" >&2
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo)
    ensure_venv test
    exec "$VENV/bin/kemitraan" demo "$@"
    ;;
  test)
    ensure_venv test
    ensure_postgres
    ensure_chromium
    # One pytest worker per core, at most 4 (each has its own PostgreSQL database and data
    # dirs); KEMITRAAN_TEST_WORKERS=0 runs in one process.
    workers=${KEMITRAAN_TEST_WORKERS:-$(n=$(nproc 2>/dev/null || echo 2); echo $((n > 4 ? 4 : n)))}
    exec "$VENV/bin/python" -m pytest -n "$workers" "$@"
    ;;
  *)
    echo "usage: ./run.sh demo [--port N] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
