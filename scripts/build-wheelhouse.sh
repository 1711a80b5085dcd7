#!/usr/bin/env bash
# Build a wheelhouse: a wheel and an sdist of llama-stack-core, of every plugin under plugins/ and of every distro
# under distro-specs/, plus wheels of the third-party packages they depend on, so that
#
#     pip install --no-index --find-links WHEELHOUSE llama-stack-distro-starter
#
# works with no package index and compiles nothing (container builds, air-gapped machines, the packaging tests).
#
# Usage: scripts/build-wheelhouse.sh [OUTPUT_DIR] [REQUIREMENT ...]
#   OUTPUT_DIR    where to put the files (default: dist/wheelhouse); re-running reuses what is already there
#   REQUIREMENT   the packages whose third-party dependencies to add (default: every distro and every plugin, with
#                 the core's extras); e.g. `llama-stack-distro-starter llama-stack-provider-fireworks`
# Environment:
#   PYTHON                   interpreter with `build` and `hatchling` (default: .venv/bin/python, else python3)
#   WHEELHOUSE_NO_DEPS=1     only the repository's own packages
#   WHEELHOUSE_CONSTRAINTS   a pip constraints file for the third-party versions; by default the versions installed
#                            with $PYTHON (its `pip freeze`), i.e. the versions the test suite ran with
#   WHEELHOUSE_FIND_LINKS    extra directories of prebuilt wheels, space-separated (default: ../shared/wheels and
#                            /opt/wheels where present: llama-cpp-python and a CPU-only torch, so nothing compiles)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

OUT="${1:-dist/wheelhouse}"
shift $(( $# > 0 ? 1 : 0 ))
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
started=$SECONDS

# -- 1. the repository's packages: sdist, then a wheel built from that sdist (proves the sdist is complete) --------
projects=(.)
for dir in plugins/*/ distro-specs/*/; do
    [ -f "$dir/pyproject.toml" ] && projects+=("${dir%/}")
done
build_flags=(--outdir "$OUT")  # no --sdist/--wheel: build makes the sdist, then the wheel from it
# Without build isolation when the backend is installed: no index needed, and much faster.
"$PYTHON" -c "import build, hatchling" 2>/dev/null && build_flags+=(--no-isolation)

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
export PYTHON logs
build_one() {
    local dir="$1" log
    log="$logs/$(echo "$dir" | tr '/.' '__').log"
    if ! "$PYTHON" -m build "${@:2}" "$dir" >"$log" 2>&1; then
        echo "build failed: $dir" >&2
        cat "$log" >&2
        return 1
    fi
}
export -f build_one
# two at a time: each build is mostly interpreter start-up
printf '%s\n' "${projects[@]}" | xargs -P "${WHEELHOUSE_JOBS:-2}" -I{} bash -c 'build_one "$@"' _ {} "${build_flags[@]}"
local_seconds=$(( SECONDS - started ))
echo "built ${#projects[@]} packages (wheel + sdist) in ${local_seconds}s"

if [ "${WHEELHOUSE_NO_DEPS:-0}" = 1 ]; then
    echo "wheelhouse: $OUT"
    exit 0
fi

# -- 2. third-party dependencies, as wheels only -------------------------------------------------------------------
requirements=("$@")
if [ ${#requirements[@]} -eq 0 ]; then
    requirements=("llama-stack-core[postgres]")
    for dir in plugins/*/ distro-specs/*/; do
        [ -f "$dir/pyproject.toml" ] || continue
        requirements+=("$("$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["name"])' "$dir/pyproject.toml")")
    done
fi

find_links=(--find-links "$OUT")
for dir in ${WHEELHOUSE_FIND_LINKS:-"$ROOT/../shared/wheels" /opt/wheels}; do
    [ -d "$dir" ] && find_links+=(--find-links "$dir")
done

constraints="${WHEELHOUSE_CONSTRAINTS:-}"
if [ -z "$constraints" ]; then
    # name==version lines only (no editables, no direct URLs: pip refuses those in constraints files)
    constraints="$logs/constraints.txt"
    "$PYTHON" -m pip freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==[^ ;]+$' >"$constraints" || true
    # A CPU-only torch when such a wheel is at hand (whatever torch $PYTHON has): the index's default is the CUDA
    # build with several GB of nvidia-* wheels.
    for dir in ${WHEELHOUSE_FIND_LINKS:-"$ROOT/../shared/wheels" /opt/wheels}; do
        for wheel in "$dir"/torch-*+cpu-*.whl; do
            if [ -f "$wheel" ]; then
                grep -v -i '^torch==' "$constraints" >"$constraints.tmp" || true
                echo "torch==$(basename "$wheel" | cut -d- -f2)" >>"$constraints.tmp"
                mv "$constraints.tmp" "$constraints"
                break 2
            fi
        done
    done
fi

deps_started=$SECONDS
# (pip's warnings about local index mirrors that lack a package are noise here: dropped)
"$PYTHON" -m pip download --quiet --dest "$OUT" --only-binary=:all: "${find_links[@]}" -c "$constraints" \
    "${requirements[@]}" 2> >(grep -v -E "^WARNING: Location '.*' is ignored" >&2)
echo "downloaded third-party wheels in $(( SECONDS - deps_started ))s"
echo "wheelhouse: $OUT ($(find "$OUT" -maxdepth 1 -type f | wc -l) files, $(du -sh "$OUT" | cut -f1)) in $(( SECONDS - started ))s"
