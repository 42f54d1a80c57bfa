#!/usr/bin/env bash
# Set up (first time only) and open Transformer Workbench on the default project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh
exec .venv/bin/python main.py "$@"
