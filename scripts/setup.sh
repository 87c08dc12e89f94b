#!/usr/bin/env bash
# Create .venv and install tvmsym with its test extras (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test,mpi]"   # mpi: tests/distributed (mpiexec -n 2, 3)
