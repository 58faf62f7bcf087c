#!/usr/bin/env bash
# The whole test suite: set up (Python venv, npm tools, Debian's Chromium, PostgreSQL and Redis, the venv of the
# distributed test), lint, types, the documentation site (mkdocs build --strict: a warning or a broken link fails),
# then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --browser --distributed
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy    # strict, on the package and tests/typing (pyproject.toml: [tool.mypy])
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
exec .venv/bin/python -m pytest "$@"
