#!/usr/bin/env bash
# Create .venv at the repo root with llama-stack-core, every plugin under plugins/ and every distro under
# distro-specs/ installed editable, plus the test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip

editables=(-e ".[postgres,testing]")
for dir in plugins/*/ distro-specs/*/; do
    [ -f "$dir/pyproject.toml" ] && editables+=(-e "$dir")
done
# Prebuilt wheels in ../shared/wheels save long compiles (e.g. llama-cpp-python); pip falls back to PyPI.
find_links=()
[ -d ../shared/wheels ] && find_links=(--find-links ../shared/wheels)

.venv/bin/python -m pip install --quiet "${find_links[@]}" "${editables[@]}" -r requirements-dev.txt
echo "ready: .venv ($(.venv/bin/stack --version))"
