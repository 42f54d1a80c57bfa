#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite: the import-layer contracts, then pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh test
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
