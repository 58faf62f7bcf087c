#!/usr/bin/env bash
# The main job: set up, then run the tour DAG end to end against the local stand-in behind Prism.
# Pass --live (with OPENAI_API_KEY set) to run only the cheap, non-destructive tasks against api.openai.com.
# The set-up's output goes to build/main-job/bootstrap.log (shown if the set-up fails).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/main-job
echo "Setting up (.venv, npm tools; log: build/main-job/bootstrap.log)"
if ! bash scripts/bootstrap.sh > build/main-job/bootstrap.log 2>&1; then
    tail -n 40 build/main-job/bootstrap.log >&2
    echo "The set-up failed; the whole log is build/main-job/bootstrap.log" >&2
    exit 1
fi
exec .venv/bin/python -m dev.main_job "$@"
