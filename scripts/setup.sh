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
# Prebuilt wheels in ../shared/wheels (and /opt/wheels) save long compiles (e.g. llama-cpp-python); pip falls back
# to PyPI.
find_links=()
for dir in ../shared/wheels /opt/wheels; do
    [ -d "$dir" ] && find_links+=(--find-links "$dir")
done
# A CPU-only torch when such a wheel is at hand: a plain `torch>=2.1` from the index is the newest CUDA build
# (several GB of nvidia-* wheels) that nothing here uses.
constraints=()
constraints_file="$(mktemp)"
trap 'rm -f "$constraints_file"' EXIT
for wheel in ../shared/wheels/torch-*+cpu-*.whl /opt/wheels/torch-*+cpu-*.whl; do
    if [ -f "$wheel" ]; then
        echo "torch==$(basename "$wheel" | cut -d- -f2)" >"$constraints_file"
        constraints=(-c "$constraints_file")
        break
    fi
done
# Test-only dependencies no pyproject declares yet: llama-cpp-python's OpenAI-compatible server (the
# llama_cpp_base_url fixture) and pypdf (PDF ingestion in the vector_io tests).
test_extras=("llama-cpp-python[server]" pypdf)

.venv/bin/python -m pip install --quiet "${find_links[@]}" "${constraints[@]}" "${editables[@]}" \
    -r requirements-dev.txt "${test_extras[@]}"
echo "ready: .venv ($(.venv/bin/stack --version))"
