#!/usr/bin/env bash
# Everything a person needs to try the product locally; Ctrl-C stops it all.
# Called by `make run` after the virtual environment exists and the database is migrated.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-8000}"
FAKE_WECHAT_PORT="${FAKE_WECHAT_PORT:-8001}"
export FAKE_WECHAT_PORT
export FAKE_WECHAT_URL="${FAKE_WECHAT_URL:-http://127.0.0.1:$FAKE_WECHAT_PORT/}"
# WeChat sends payment notifications here (notify_url); the tax bureau its confirmations.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"
FAKE_TAX_PORT="${FAKE_TAX_PORT:-8002}"
export FAKE_TAX_PORT
export TAX_LEDGER_URL="${TAX_LEDGER_URL:-http://127.0.0.1:$FAKE_TAX_PORT}"
# The fake data exchange platform (数据交换平台): receives collector batches' booking details.
FAKE_EXCHANGE_PORT="${FAKE_EXCHANGE_PORT:-8004}"
export FAKE_EXCHANGE_PORT
export EXCHANGE_URL="${EXCHANGE_URL:-http://127.0.0.1:$FAKE_EXCHANGE_PORT}"
# The mini-program mock (the resident's phone); a village's QR link /q/<code> leads to it.
MINIPROGRAM_PORT="${MINIPROGRAM_PORT:-8003}"
export MINIPROGRAM_URL="${MINIPROGRAM_URL:-http://127.0.0.1:$MINIPROGRAM_PORT/}"
mkdir -p var/log
# The demo stands inside the 2019 collection season, the one the demo policy describes: the API,
# the worker and both fakes share one business clock that starts at APP_CLOCK_START now and runs
# at real speed (APP_CLOCK_ANCHOR makes them agree to the second). APP_CLOCK_START= (empty) runs
# everything on the real clock instead.
if [ -z "${APP_CLOCK_START+set}" ]; then
  export APP_CLOCK_START="2019-11-20T09:00:00+08:00"
fi
if [ -n "$APP_CLOCK_START" ]; then
  export APP_CLOCK_ANCHOR="${APP_CLOCK_ANCHOR:-$(date +%s)}"
  CLOCK_NOTE="business clock from $APP_CLOCK_START (set APP_CLOCK_START= for the real clock)"
  # A `flask ...` command typed beside the demo reads this and stands on the same clock.
  echo "$APP_CLOCK_START $APP_CLOCK_ANCHOR" > var/demo-clock
else
  CLOCK_NOTE="the real clock"
  rm -f var/demo-clock
fi
# A secret of this installation's own for resident session tokens, made once.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s var/secret-key ] || (umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > var/secret-key)
  SECRET_KEY=$(cat var/secret-key)
  export SECRET_KEY
fi
# The installation's receipt signing key (Ed25519), made once, so a printed receipt's QR code keeps
# verifying after a restart; backend/config.py reads var/receipt-signing-key.pem in fake mode.
if [ -z "${RECEIPT_SIGNING_KEY:-}" ] && [ ! -s var/receipt-signing-key.pem ]; then
  (umask 077; "$BIN/python" -c 'import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key = Ed25519PrivateKey.generate()
sys.stdout.buffer.write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))' \
    > var/receipt-signing-key.pem)
fi

# The demo merchant's WeChat Pay API v3 keys (merchant and platform halves), made once and shared
# by the fake platform and the API, so `WECHAT_PAY_API=v3 make run` pays through API v3.
"$BIN/python" -c 'from fakes.wechat.v3keys import ensure_keys; ensure_keys("var/wechat-v3")'

# The two API workers must count rate limits together: use the local Redis when one answers
# (otherwise each worker counts on its own, which is fine for trying things out).
if [ -z "${REDIS_URL:-}" ] && "$BIN/python" -c "import socket; socket.create_connection(('127.0.0.1', 6379), 0.5)" 2>/dev/null; then
  export REDIS_URL=redis://127.0.0.1:6379/0
fi
PAY_API="${WECHAT_PAY_API:-v2}"
OTHER_PAY_API=$([ "$PAY_API" = v3 ] && echo v2 || echo v3)
LIMITS_AT="${REDIS_URL:-memory of each worker (no Redis found on 127.0.0.1:6379)}"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
trap stop INT TERM EXIT

# The fake keeps its trades in a file, so the bills it serves survive a restart.
"$BIN/python" -m fakes.wechat --host 127.0.0.1 --port "$FAKE_WECHAT_PORT" \
  --state-file var/fake-wechat-state.json --v3-keys var/wechat-v3 >>var/log/fake-wechat.log 2>&1 &
pids+=($!)
# The fake tax bureau: accepts the ledger messages, confirms treasury entries back to us.
"$BIN/python" -m fakes.tax --host 127.0.0.1 --port "$FAKE_TAX_PORT" \
  --callback-url "$PUBLIC_BASE_URL/api/tax/v1/treasury-entries" \
  --state-file var/fake-tax-state.json >>var/log/fake-tax.log 2>&1 &
pids+=($!)
# The fake data exchange platform: the worker pushes entered collector batches' booking details.
"$BIN/python" -m fakes.exchange --host 127.0.0.1 --port "$FAKE_EXCHANGE_PORT" >>var/log/fake-exchange.log 2>&1 &
pids+=($!)
# The demo data: regions, people and staff (seed-demo), then the collection season so far
# (registrations pushed to the bureau, payments since 1 September, refunds, treasury entries,
# progress), whose WeChat trades go into the fake platform started above, so past days' bills can be
# pulled and reconciled, and whose registrations the fake bureau is told it holds.
for health in "${FAKE_WECHAT_URL}_control/health" "$TAX_LEDGER_URL/_control/health"; do
  for _ in $(seq 1 50); do
    "$BIN/python" -c "import urllib.request; urllib.request.urlopen('$health', timeout=1)" 2>/dev/null && break
    sleep 0.2
  done
done
"$BIN/flask" --app backend seed-season
# The job runner: finds payments whose notification was lost, closes expired orders, and
# delivers the tax ledger outbox.
WORKER_INTERVAL_SECONDS="${WORKER_INTERVAL_SECONDS:-15}" "$BIN/flask" --app backend worker \
  >>var/log/worker.log 2>&1 &
pids+=($!)
# The mini-program mock: its pages, with the resident API and the WeChat stand-ins on its own origin.
"$BIN/python" miniprogram-mock/server.py --host 127.0.0.1 --port "$MINIPROGRAM_PORT" \
  --api-url "http://127.0.0.1:$PORT" --wechat-url "$FAKE_WECHAT_URL" >>var/log/miniprogram.log 2>&1 &
pids+=($!)
"$BIN/gunicorn" --config gunicorn.conf.py --workers 2 --bind "127.0.0.1:$PORT" --access-logfile var/log/access.log \
  --error-logfile - 'backend:create_app()' &
pids+=($!)

# Wait until the API answers before printing the addresses.
for _ in $(seq 1 50); do
  if "$BIN/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done

cat <<MSG

  API                    http://127.0.0.1:$PORT/api/   (health: http://127.0.0.1:$PORT/healthz)
  API docs (Swagger UI)  http://127.0.0.1:$PORT/api/docs   (OpenAPI: /api/openapi.json)
  Fake WeChat platform   http://127.0.0.1:$FAKE_WECHAT_PORT/   (payments through WeChat Pay API $PAY_API; WECHAT_PAY_API=$OTHER_PAY_API make run for the other)
  Fake tax bureau        http://127.0.0.1:$FAKE_TAX_PORT/   (messages: /_control/messages, collector declarations: /_control/declarations)
  Fake data exchange     http://127.0.0.1:$FAKE_EXCHANGE_PORT/   (booking details: /_control/bookings)
  Mini-program (phone)   ${MINIPROGRAM_URL}   (a village's QR link: http://127.0.0.1:$PORT/q/<village code>)
  Worker                 checks unpaid orders, follows refunds, sends the tax ledger outbox, declares collector batches and pushes their booking details every ${WORKER_INTERVAL_SECONDS:-15} s (var/log/worker.log)
  Logs                   var/log/
  Demo staff tokens      var/demo-credentials.txt
  Staff dashboard        http://127.0.0.1:$PORT/staff/   (sign in with an account name and its token from var/demo-credentials.txt, e.g. demo-admin)
  Rate limits counted in $LIMITS_AT
  Time                   $CLOCK_NOTE

  Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "a process exited; see the output above and var/log/" >&2
