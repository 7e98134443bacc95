#!/usr/bin/env bash
# Reproduce the app benchmark (see bench/app/README.md). Installs wrk when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk
fi
exec .venv/bin/python bench/app/run.py "$@"
