"""
A pytest plugin for ``scripts/mutation.sh`` only: every test starts with the provider's ``functools`` caches
and its plain-dict memos (:data:`MEMOS`) empty. mutmut maps each function to the tests that call it; with a
cache (the key's redaction patterns are built once per key) only the first test that fills it would be mapped,
and mutants of the cached function would survive untested. And mutmut forks each mutant's run from the process
whose clean run filled the memos: a mutant of the code that fills one would never run. The normal suite does not
load this plugin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

# Module-level memos that are plain dicts, not functools caches: (module, attribute).
MEMOS = (("airflow_provider_openai_fusion.operators._batch_results", "_CHECKED"),)


@pytest.fixture(autouse=True)
def _empty_provider_caches() -> Iterator[None]:
    for name, module in list(sys.modules.items()):
        if name.startswith("airflow_provider_openai_fusion") and module is not None:
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
    for name, attribute in MEMOS:
        if (module := sys.modules.get(name)) is not None:
            getattr(module, attribute).clear()
    yield
