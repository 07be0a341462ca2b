#!/usr/bin/env bash
# Install (from Debian) and start a local PostgreSQL for the test suite, then write its URL to
# var/test-postgres-url. Idempotent: safe to run before every `make test`.
set -euo pipefail
mkdir -p var
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is not installed and this user cannot install it; postgres tests will fail." >&2
    exit 0
  fi
fi
if command -v pg_lsclusters >/dev/null; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  pg_lsclusters -h | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
  pg_ctlcluster "$ver" main start 2>/dev/null || true
  for i in $(seq 1 30); do pg_isready -q -h localhost && break; sleep 1; done
  port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
  run_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
  run_pg "psql -p $port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='careline'\"" | grep -q 1 || \
    run_pg "psql -p $port -qc \"CREATE ROLE careline LOGIN SUPERUSER PASSWORD 'careline'\""
  run_pg "psql -p $port -qtAc \"SELECT 1 FROM pg_database WHERE datname='careline_test'\"" | grep -q 1 || \
    run_pg "createdb -p $port -O careline careline_test"
  echo "postgresql+psycopg://careline:careline@localhost:$port/careline_test" > var/test-postgres-url
  echo "PostgreSQL ready: $(cat var/test-postgres-url | sed 's/:careline@/:***@/')"
fi
