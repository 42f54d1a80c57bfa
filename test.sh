#!/usr/bin/env bash
# Set up (first time only, with the test tools) and run the whole test suite, the import-layer
# contracts included (tests/test_layers.py). The work is in scripts/bootstrap.py, which test.cmd
# calls the same way on Windows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec "${PYTHON:-python3}" scripts/bootstrap.py test "$@"
