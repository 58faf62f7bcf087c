#!/usr/bin/env bash
# The compatibility matrix alone: build the sdist and wheel, check them, install the wheel into a fresh venv per
# Airflow/Python cell (tests/compat/matrix.py) and run the tour DAG in each; print the table of what passed and,
# when every test of a whole run passed, put it in the Compatibility section of docs/install.md. `bash scripts/test.sh` runs the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
rm -rf build/compat/results
started=$SECONDS
status=0
.venv/bin/python -m pytest tests/compat -v "$@" || status=$?
if [ "$status" = 0 ] && [ $# = 0 ]; then  # docs/install.md gets whole runs only
    .venv/bin/python -m dev.compat_table "$((SECONDS - started))" --readme
else
    .venv/bin/python -m dev.compat_table "$((SECONDS - started))"
fi
exit "$status"
