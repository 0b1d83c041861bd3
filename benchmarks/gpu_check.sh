#!/usr/bin/env bash
# The prepared GPU check (see benchmarks/gpu_check.py --help):
#
#   benchmarks/gpu_check.sh [--output gpu_check.json]     # one GPU: under 8 minutes
#   benchmarks/gpu_check.sh --tiny --device cpu           # tiny models on the CPU (CI)
#
# Runs from a checkout without installing it: the package comes from src/, run by
# $PYTHON, else the project's .venv (make setup), else python3 from PATH. Wheels
# carried in .whl/ (packages the GPU machine's image lacks, e.g. Biopython) are
# installed into a scratch folder first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
    python=$PYTHON
elif [ -x .venv/bin/python ]; then
    python=.venv/bin/python
else
    python=python3
fi
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site .whl/*.whl
    export PYTHONPATH="/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$python" benchmarks/gpu_check.py "$@"
