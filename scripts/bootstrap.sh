#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: the Python venv (.venv) with the project
# and its dev tools, the pinned npm tools (Prism, playwright-core), and, with --browser, Debian's Chromium.
# With --distributed: Debian's PostgreSQL and Redis servers (only the binaries; the distributed test starts
# its own on free ports), and a separate venv, build/distributed-venv, with Airflow, its Celery and Postgres
# extras, and this provider installed from a wheel, as a deployment would install it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

browser=false
distributed=false
for arg in "$@"; do
    case "$arg" in
        --browser) browser=true ;;
        --distributed) distributed=true ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done

missing=()
if $browser && ! command -v chromium >/dev/null; then missing+=(chromium); fi
if ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if $distributed && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then missing+=(postgresql); fi
if $distributed && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/pip install -q -e ".[dev]"
npm ci --no-audit --no-fund --loglevel=error

if $distributed; then
    venv=build/distributed-venv
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
    fi
    # celery 5.7 removed a module that the Celery provider 3.26.0 imports (its workers then die at start).
    "$venv/bin/pip" install -q "apache-airflow[postgres]==3.3.2" "apache-airflow-providers-celery==3.26.0" "celery<5.7"
    # The provider itself: a fresh wheel every time (same version number, so force the reinstall), built without
    # setuptools' scratch folders of an earlier build, which would carry modules removed since into the wheel.
    rm -rf build/lib build/bdist.*
    "$venv/bin/pip" install -q --no-deps --force-reinstall .
fi
