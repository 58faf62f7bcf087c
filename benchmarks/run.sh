#!/usr/bin/env bash
# Run every benchmark in one go: bash benchmarks/run.sh [--only B1,B2,...]
# Builds its own venv (build/bench-venv) with Airflow 3.3.2, the official OpenAI provider 2.2.0 (for comparison
# only) and this package, then prints the results table and writes it to benchmarks/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/bench-venv
REQUIREMENTS=("apache-airflow==3.3.2" "apache-airflow-providers-openai==2.2.0" "uvloop>=0.19")
STAMP="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "${REQUIREMENTS[*]}" ]; then
    "$VENV/bin/pip" install -q "${REQUIREMENTS[@]}" -e . >"$VENV/pip.log" 2>&1 || { cat "$VENV/pip.log"; exit 1; }
    echo "${REQUIREMENTS[*]}" >"$STAMP"
fi
# pip compiles every package it installs (the official provider included); an editable install is not, and these
# machines set PYTHONDONTWRITEBYTECODE=1: compile ours too, or B1 would time the compiler, not the import.
"$VENV/bin/python" -m compileall -q airflow_provider_openai_fusion
exec "$VENV/bin/python" -m benchmarks.run "$@"
