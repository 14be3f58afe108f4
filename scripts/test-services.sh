#!/usr/bin/env bash
# Makes sure the services the tests use are there: Debian's chromium for browser tests and a
# PostgreSQL server on the local socket with a database for the store tests. Idempotent and
# quick once done. Writes the settings for pytest to .make/services.env.
# Installing needs root and apt (CI and these machines); elsewhere it says what is missing and
# the tests that need it skip (or fail, when CI=true).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .make
env_file=.make/services.env
: > "$env_file"

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (Debian packages)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} missing and cannot be installed here; tests needing them will not run" >&2
  fi
fi

if command -v chromium >/dev/null 2>&1; then
  echo "MLM_TEST_CHROMIUM=$(command -v chromium)" >> "$env_file"
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 50); do pg_isready -q -h /var/run/postgresql && break; sleep 0.2; done
  su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='root'\"" | grep -q 1 \
    || su postgres -c "psql -qc 'create role root superuser login'"
  su postgres -c "psql -tAc \"select 1 from pg_database where datname='mlm_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O root mlm_test"
  echo "MLM_TEST_POSTGRES_URL=postgresql+psycopg:///mlm_test?host=/var/run/postgresql" >> "$env_file"
fi
