#!/usr/bin/env bash
# Install the product into ./.venv (offline-friendly: PyPI and Debian packages only).
#   scripts/install.sh          the product (Dagster, dbt-duckdb, Great Expectations, plotly ...)
#   scripts/install.sh --test   also the test tools, plus Debian's chromium and fonts-noto-cjk
#                               for the browser tests (Playwright never downloads a browser)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  fi
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
echo "installed into $(pwd)/.venv"
