#!/usr/bin/env bash
# Install the product into ./.venv (offline-friendly: PyPI and Debian packages only).
#   scripts/install.sh          the product (Dagster, dbt-duckdb, Great Expectations, plotly ...), and Debian's
#                               fonts-noto-cjk when the machine has no Chinese font (the review report's PDF)
#   scripts/install.sh --test   also the test tools, plus Debian's chromium and fonts-noto-cjk
#                               for the browser tests (Playwright never downloads a browser)
#   scripts/install.sh --bench  the product plus psutil for benchmarks/run_benchmarks.py
#   scripts/install.sh --spark  the product plus the Spark extra (dbt-spark, pyspark; needs Java 17):
#                               the models on Spark (docs/development.md, "Spark"); --test installs it too, for
#                               the Spark parity test, with Debian's Java 17 runtime
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,spark]"
  if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -q "Noto Sans CJK" || ! command -v java >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk openjdk-17-jre-headless >/dev/null
  fi
elif [ "${1:-}" = "--bench" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[bench]"
elif [ "${1:-}" = "--spark" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[spark]"
  command -v java >/dev/null || echo "Spark needs a Java 17 runtime: apt-get install openjdk-17-jre-headless" >&2
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
# The review report's PDF and charts need a font with Chinese characters (daxing_kpi.report.fonts): Debian's
# fonts-noto-cjk when none is installed. Without one, `kpi report` writes the .docx only and says why.
if ! fc-list :lang=zh-cn 2>/dev/null | grep -q . && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null; } \
    || echo "could not install fonts-noto-cjk: the review report will be written as .docx only (no PDF, no charts)" >&2
fi
echo "installed into $(pwd)/.venv"
