#!/usr/bin/env bash
# Create .venv/ in the project root and install what the app (and, with "test", the test suite)
# needs. Idempotent: when pyproject.toml has not changed since the last install, it returns at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(sha1sum pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)-${extras:-app}"
[ -f "$stamp" ] && exit 0

pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    # Ask for the exact release first: a bare "torch" (or a range) pulls a multi-GB CUDA build on
    # machines that have no GPU.
    echo "Installing torch 2.13.0"
    "${pip[@]}" "torch==2.13.0"
fi
echo "Installing Transformer Workbench${extras:+ [$extras]}"
"${pip[@]}" -e ".${extras:+[$extras]}"
rm -f .venv/.installed-*-"${extras:-app}"
touch "$stamp"
