"""
The injected-bug check of issue 28: six deliberate bugs, each put into its own copy of the repository, and the
unit tests that should catch it run against that copy (bounded in time). A bug is caught when the tests fail
and missed when they pass; a run that hits the time bound counts as a hang (not caught: CI would not say which
test). Not part of the test command.

    .venv/bin/python scripts/injected_bugs.py          # prints the table (Markdown) and exits 1 if one is missed
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("airflow_provider_openai_fusion", "tests", "docs", "dev", "example_dags", "pyproject.toml")
TIME_BOUND = 300
UNIT = ["tests/unit/test_request_checks.py", "tests/unit/test_redaction.py", "tests/unit/test_connection.py"]


@dataclass(frozen=True)
class Bug:
    """One bug: the file, the exact text replaced and its replacement, and the tests that should catch it."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...] = tuple(UNIT)


BUGS = (
    Bug(
        '`is_openai` compares with `.endswith("openai.com")` instead of `==`',
        "airflow_provider_openai_fusion/model_lifecycle.py",
        'canonical_host(urlsplit(base_url.strip()).hostname or "") == OPENAI_API_HOST',
        'canonical_host(urlsplit(base_url.strip()).hostname or "").endswith("openai.com")',
    ),
    Bug(
        "redaction no longer applied to dict keys",
        "airflow_provider_openai_fusion/_http/redaction.py",
        "{redact(key, secret): redact(item, secret)",
        "{key: redact(item, secret)",
    ),
    Bug(
        "the header-routing refusal removed (any `X-*` header accepted)",
        "airflow_provider_openai_fusion/_http/request.py",
        "    routing = (\n",
        "    routing = False and (\n",
    ),
    Bug(
        "the percent-encoded form of the key no longer redacted",
        "airflow_provider_openai_fusion/_http/redaction.py",
        'rf"%(?:25)*{code:02x}", ',
        "",
    ),
    Bug(
        "the repeated-cursor check of listings disabled",
        "airflow_provider_openai_fusion/_http/pagination.py",
        "if cursor in self.cursors:",
        "if False:",
    ),
    Bug(
        "the page cap of listings disabled",
        "airflow_provider_openai_fusion/_http/pagination.py",
        "if self.pages >= self.max_pages:",
        "if False:",
    ),
)


def _copy(target: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)


def run(bug: Bug) -> tuple[str, float, str]:
    """Inject ``bug`` into a fresh copy, run its tests there; return the verdict, the seconds and the first failure."""
    with tempfile.TemporaryDirectory(prefix="injected-bug-") as folder:
        work = Path(folder)
        _copy(work)
        path = work / bug.path
        text = path.read_text()
        if text.count(bug.old) != 1:
            return f"not injected: the text to replace occurs {text.count(bug.old)} times", 0.0, ""
        path.write_text(text.replace(bug.old, bug.new))
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *bug.tests]
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=TIME_BOUND)
        except subprocess.TimeoutExpired:
            return "hang (not caught)", time.monotonic() - started, ""
        seconds = time.monotonic() - started
        failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
        verdict = "caught" if done.returncode == 1 and failed else "missed" if done.returncode == 0 else "error"
        return verdict, seconds, (failed[0][7:] if failed else done.stdout[-300:])


def main() -> int:
    print("| # | Bug injected | Verdict | Seconds | First failing test |")
    print("|---|---|---|---|---|")
    verdicts = []
    for number, bug in enumerate(BUGS, 1):
        verdict, seconds, first = run(bug)
        verdicts.append(verdict)
        print(f"| {number} | {bug.name} | {verdict} | {seconds:.0f} | `{first.split(' - ')[0]}` |", flush=True)
    return 0 if all(verdict == "caught" for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
