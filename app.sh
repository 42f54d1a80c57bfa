#!/usr/bin/env bash
# Set up (first time only) and open Transformer Workbench on the default project.
# The work is in scripts/bootstrap.py, which app.cmd calls the same way on Windows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec "${PYTHON:-python3}" scripts/bootstrap.py app "$@"
