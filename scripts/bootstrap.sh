#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: the Python venv (.venv) with the project
# and its dev tools, the pinned npm tools (Prism, playwright-core), and, with --browser, Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/pip install -q -e ".[dev]"
npm ci --no-audit --no-fund --loglevel=error
