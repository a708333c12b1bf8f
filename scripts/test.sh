#!/usr/bin/env bash
# The test suite, twice: on SQLite and on PostgreSQL, both at once.
# PostgreSQL comes from TEST_DATABASE_URL, or the local default below. Without a reachable server the
# PostgreSQL pass is skipped with a notice, except in CI (CI=true) or when TEST_DATABASE_URL was
# given explicitly: then an unreachable server is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_DEFAULT="postgresql+psycopg://root@127.0.0.1/test"
PG_URL="${TEST_DATABASE_URL:-$PG_DEFAULT}"
PG_REQUIRED=""
if [ -n "${TEST_DATABASE_URL:-}" ] || [ "${CI:-}" = "true" ]; then PG_REQUIRED=1; fi

# The browser tests need Chromium (scripts/system-packages.sh installs it); without it they skip, so say so.
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "NOTICE: Chromium not found at ${CHROMIUM_PATH:-/usr/bin/chromium}: the browser tests (tests/browser) will be SKIPPED."
  echo "        Install it with scripts/system-packages.sh (make test runs it) or apt-get install chromium."
fi

pg_reachable() {
  "$BIN/python" - "$PG_URL" <<'PY'
import sys
import psycopg
from sqlalchemy import make_url
url = make_url(sys.argv[1])
try:
    psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                    password=url.password, dbname=url.database, connect_timeout=3).close()
except Exception as exc:
    print(f"   {exc.__class__.__name__}: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
PY
}

# The two passes run at the same time (each has its own database, ports and output folders): the
# PostgreSQL pass writes to var/test-logs/postgresql.log, shown when both are done.
# TEST_PASSES=sequential runs them one after the other instead.
pg_rc=0
pg_pid=""
PG_LOG=var/test-logs/postgresql.log
if pg_reachable; then
  mkdir -p var/test-logs
  if [ "${TEST_PASSES:-parallel}" = "sequential" ]; then
    echo "== tests on PostgreSQL ($PG_URL) =="
    TEST_DATABASE_URL="$PG_URL" "$BIN/pytest" "$@"
    pg_rc=$?
  else
    echo "== tests on PostgreSQL ($PG_URL): running alongside, output in $PG_LOG =="
    TEST_DATABASE_URL="$PG_URL" "$BIN/pytest" "$@" >"$PG_LOG" 2>&1 &
    pg_pid=$!
    trap '[ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null' INT TERM
  fi
elif [ -n "$PG_REQUIRED" ]; then
  echo "!! PostgreSQL at $PG_URL is unreachable and is required here (CI or TEST_DATABASE_URL set)" >&2
  pg_rc=1
else
  echo
  echo "NOTICE: PostgreSQL at $PG_URL is unreachable: the PostgreSQL pass was SKIPPED."
  echo "        Start PostgreSQL or set TEST_DATABASE_URL to run it."
fi

echo "== tests on SQLite =="
env -u TEST_DATABASE_URL "$BIN/pytest" "$@"
sqlite_rc=$?

if [ -n "$pg_pid" ]; then
  wait "$pg_pid"
  pg_rc=$?
  echo
  echo "== tests on PostgreSQL ($PG_URL) =="
  cat "$PG_LOG"
fi

if [ $sqlite_rc -ne 0 ] || [ $pg_rc -ne 0 ]; then
  echo "FAILED: SQLite pass exit $sqlite_rc, PostgreSQL pass exit $pg_rc" >&2
  exit 1
fi
