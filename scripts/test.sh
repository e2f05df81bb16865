#!/usr/bin/env bash
# The one test command (README "Tests", .ci/run): install and start what the tests need, lint,
# type-check, run the whole suite (slow, docker, prometheus and browser tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh
python3 -m ruff check rightsize tests benchmarks notebooks
python3 -m mypy
python3 -m pytest -q "$@"
