"""The pause of the cyclic garbage collector: paused within the block, as it was after it, however the block ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from airflow_provider_openai_fusion._collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Each test starts with the collector enabled and leaves it enabled, whatever it did."""
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_within_the_block_and_enabled_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_enabled_again_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_paused_before_the_block_stays_paused_after_it() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_when_false_leaves_the_collector_as_it_is() -> None:
    with collector_paused(when=False):
        assert gc.isenabled()
    assert gc.isenabled()
