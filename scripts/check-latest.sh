#!/usr/bin/env bash
# The whole suite against the newest releases pyproject.toml allows, in a throw-away environment;
# on failure it names the newly released package that broke it and the pin that works around it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" scripts/bootstrap.py latest "$@"
