#!/usr/bin/env bash
# The README's test command (`make test`) and what CI runs (.ci/run calls `make test`).
#  1. quality gates: ruff, ruff format, mypy --strict, schema drift;
#  2. the whole suite on SQLite (the embedded default);
#  3. the database tests again on PostgreSQL, in a database of this run's own.
# PostgreSQL and Redis are started if installed but stopped; where they are absent the
# suite still passes and pytest names the integration tests it skipped and why, unless
# MEDIAKG_REQUIRE_SERVICES is set (.ci/run sets it): then a missing service fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
run_id="$(date +%s)_$$"

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

if ! pg_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  echo "test: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 20); do pg_up && break; sleep 0.5; done
fi
if ! redis_up && command -v redis-server >/dev/null; then
  echo "test: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 20); do redis_up && break; sleep 0.5; done
fi

rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! rabbit_up && command -v rabbitmq-server >/dev/null; then
  echo "test: starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 60); do rabbit_up && break; sleep 0.5; done
fi
rabbit_up || echo "test: RabbitMQ not reachable: the RabbitMQ broker test will be skipped"

# .ci/run sets MEDIAKG_REQUIRE_SERVICES=1: on the CI machine every service is there, so a
# missing one fails the run here (and in pytest: tests/fixtures/required.py), never a skip.
if [ -n "${MEDIAKG_REQUIRE_SERVICES:-}" ] && [ "${MEDIAKG_REQUIRE_SERVICES}" != 0 ]; then
  missing=()
  pg_up || missing+=("PostgreSQL 127.0.0.1:5432")
  redis_up || missing+=("Redis 127.0.0.1:6379")
  rabbit_up || missing+=("RabbitMQ 127.0.0.1:5672")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test: MEDIAKG_REQUIRE_SERVICES is set and these do not answer: ${missing[*]}" >&2
    exit 1
  fi
fi

if redis_up; then
  export MEDIAKG_TEST_REDIS_URL="${MEDIAKG_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
  # Every key and channel of this run carries its own prefix: parallel runs never meet.
  export MEDIAKG_TEST_REDIS_PREFIX="mkgtest_${run_id}"
else
  echo "test: Redis not reachable: Redis integration tests will be skipped"
fi

echo "== quality gates"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy"
"$BIN/python" -m app.entrypoints.cli schema check graphql/schema.graphql
# API evolution: no breaking change since the last release unless CHANGELOG.md announces it.
"$BIN/python" -m app.entrypoints.cli schema breaking

echo "== pytest on SQLite (embedded default)"
status=0
MEDIAKG_TEST_DATABASE_URL="" "$BIN/pytest" "$@" || status=$?
[ $status -eq 0 ] || exit $status

if pg_up; then
  db="mediakg_test_${run_id}"
  createdb -h 127.0.0.1 -U postgres "$db"
  trap 'dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" >/dev/null 2>&1 || true' EXIT
  echo "== pytest on PostgreSQL (database $db, tests marked db)"
  MEDIAKG_TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$db" \
    "$BIN/pytest" -m db "$@"
else
  echo "test: PostgreSQL not reachable: the PostgreSQL pass was skipped"
fi
