#!/usr/bin/env bash
# The compatibility matrix alone: build the sdist and wheel, check them, install the wheel into a fresh venv per
# Airflow/Python cell (tests/compat/matrix.py) and run the tour DAG in each; then print the README's table rows.
# The same tests run inside `bash scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
rm -rf build/compat/results
started=$SECONDS
status=0
.venv/bin/python -m pytest tests/compat -v "$@" || status=$?
echo
echo "Measured on $(date -u +%Y-%m-%d) with \`bash scripts/compat-matrix.sh\` ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s, $(nproc) cores):"
echo
echo "| Airflow | Python | Result | Fresh venv + install | Imports, \`providers list\`, \`providers hooks\` | Tour DAG (\`db migrate\`, \`dags test\`) | Cell |"
echo "|---|---|---|---|---|---|---|"
cat build/compat/results/*.md 2>/dev/null || true
exit "$status"
