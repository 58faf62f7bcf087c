#!/usr/bin/env bash
# The main job: set up, then run the tour DAG end to end against the local stand-in behind Prism.
# Pass --live (with OPENAI_API_KEY set) to run only the cheap, non-destructive tasks against api.openai.com.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m dev.main_job "$@"
