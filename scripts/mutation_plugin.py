"""
A pytest plugin for ``scripts/mutation.sh`` only: every test starts with the provider's ``functools`` caches
empty. mutmut maps each function to the tests that call it; with a cache (the key's redaction patterns are
built once per key) only the first test that fills it would be mapped, and mutants of the cached function
would survive untested. The normal suite does not load this plugin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _empty_provider_caches() -> Iterator[None]:
    for name, module in list(sys.modules.items()):
        if name.startswith("airflow_provider_openai_fusion") and module is not None:
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
    yield
