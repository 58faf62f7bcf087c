"""
Triggers share async clients: at most ``USERS`` hooks of one event loop and one set of settings per client, each
given back by ``aclose``, the last one closing it; other settings, another loop or a plain hook get their own.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from airflow_provider_openai_fusion.api import models
from airflow_provider_openai_fusion.hooks._shared import USERS
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.triggers.batches import OpenAIBatchTrigger
from tests.conftest import connection_json
from tests.unit.helpers import Script, ok


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> httpx.MockTransport:
    for conn_id, host in (("openai_fusion_default", "https://api.test/v1"), ("other", "https://other.test/v1")):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(host, max_retries=0))
    return httpx.MockTransport(Script(ok({"object": "list", "data": []})))


def shared(transport: httpx.MockTransport, conn_id: str = "openai_fusion_default") -> OpenAIFusionHook:
    return OpenAIFusionHook(conn_id=conn_id, transport=transport, shared_client=True)


async def test_a_client_serves_at_most_its_users_and_the_last_one_closes_it(transport: httpx.MockTransport) -> None:
    hooks = [shared(transport) for _ in range(USERS + 1)]
    for hook in hooks:
        await hook.arequest(models.list_models())
    drivers = [hook._async for hook in hooks]
    assert all(driver is drivers[0] for driver in drivers[:USERS]) and drivers[USERS] is not drivers[0]
    for hook in hooks[1:USERS]:
        await hook.aclose()
    assert not drivers[0]._client.is_closed
    await hooks[0].arequest(models.list_models())  # the last user still sends
    await hooks[0].aclose()
    await hooks[USERS].aclose()
    assert drivers[0]._client.is_closed and drivers[USERS]._client.is_closed
    again = shared(transport)
    await again.arequest(models.list_models())
    assert again._async is not drivers[0]
    await again.aclose()
    assert again.__dict__.get("_async") is None


async def test_other_settings_and_plain_hooks_get_their_own(transport: httpx.MockTransport) -> None:
    first, other = shared(transport), shared(transport, "other")
    plain = OpenAIFusionHook(transport=transport)
    for hook in (first, other, plain):
        await hook.arequest(models.list_models())
    assert len({id(first._async), id(other._async), id(plain._async)}) == 3
    for hook in (first, other, plain):
        await hook.aclose()


def test_each_event_loop_has_its_own(transport: httpx.MockTransport) -> None:
    async def driver_of_a_new_hook() -> object:
        hook = shared(transport)
        await hook.arequest(models.list_models())
        driver = hook._async
        await hook.aclose()
        return driver

    assert asyncio.run(driver_of_a_new_hook()) is not asyncio.run(driver_of_a_new_hook())


def test_triggers_share_their_clients() -> None:
    triggers = [OpenAIBatchTrigger(job_id=f"batch_{n}", conn_id="openai_fusion_default") for n in range(2)]
    assert all(trigger.hook._shared_client for trigger in triggers)
