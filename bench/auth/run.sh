#!/usr/bin/env bash
# Reproduce the auth benchmark (see bench/auth/README.md). Installs wrk when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk
fi
exec .venv/bin/python bench/auth/run.py "$@"
