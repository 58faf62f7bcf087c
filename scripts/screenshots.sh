#!/usr/bin/env bash
# Regenerate the screenshots of the connection form (docs/connection-form-empty.png,
# docs/connection-form-filled.png, docs/connection-test-result.png): run the browser test with its
# screenshots going to docs/ instead of a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --browser
OPENAI_FUSION_SCREENSHOTS="$PWD/docs" exec .venv/bin/python -m pytest tests/browser -q
