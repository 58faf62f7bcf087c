#!/usr/bin/env bash
# The documentation site (MkDocs, mkdocs.yml): `bash scripts/docs.sh serve` serves it on http://127.0.0.1:8000 with
# live reload; `bash scripts/docs.sh build` builds it into build/site with --strict (a warning fails the build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/mkdocs ] || bash scripts/bootstrap.sh
case "${1:-serve}" in
    serve) exec .venv/bin/mkdocs serve --dev-addr 127.0.0.1:8000 ;;
    build) exec .venv/bin/mkdocs build --strict ;;
    *) echo "usage: bash scripts/docs.sh [serve|build]" >&2; exit 2 ;;
esac
