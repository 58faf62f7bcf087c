"""
Async drivers (an ``httpx.AsyncClient`` and its keep-alive connections) shared by the hooks of one event loop with
the same client settings: the triggers of a triggerer process.

A thousand triggers each with its own client build a thousand clients (each reads the proxy settings of the
environment) and, polling every few seconds, find their one connection expired at each poll (httpx keeps an idle
connection 5 s) and open a new one. One client for all of them is no better: httpcore's pool looks at every
waiting request and every connection each time a request comes or goes, so a thousand polls in one pool stop the
event loop for seconds (it also checks every open connection, with a system call each, for each request). So
each client serves at most :data:`USERS` hooks (each sends one request at a time): a few dozen clients, each with
a few connections, polled often enough to find one open. A hook takes a driver with
:func:`acquire` and gives it back with :func:`release` (its ``aclose``); the last user closes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_openai_fusion._http.request import ClientSettings
    from airflow_provider_openai_fusion._http.transport import AsyncDriver

USERS = 16
"""The most hooks that share one driver."""


@dataclass
class _Shared:
    loop: asyncio.AbstractEventLoop
    driver: AsyncDriver
    users: int


_DRIVERS: dict[tuple[int, ClientSettings, Any], list[_Shared]] = {}


def acquire(settings: ClientSettings, transport: Any = None) -> AsyncDriver:
    """
    A driver of the running event loop for ``settings`` with room for one more user, made when there is none;
    each call must be paired with :func:`release`.

    :param settings: the client settings (a driver is shared only between hooks with equal settings).
    :param transport: the httpx transport (tests; shared only between hooks with the same one); ``None``: real
        sockets.
    """
    from airflow_provider_openai_fusion._http.transport import AsyncDriver

    loop = asyncio.get_running_loop()
    drivers = _DRIVERS.setdefault((id(loop), settings, transport), [])
    drivers[:] = [shared for shared in drivers if shared.loop is loop]  # none left by a closed loop with this id
    shared = next((shared for shared in drivers if shared.users < USERS), None)
    if shared is None:
        shared = _Shared(loop, AsyncDriver(settings, transport), 0)
        drivers.append(shared)
    shared.users += 1
    return shared.driver


async def release(driver: AsyncDriver) -> None:
    """
    Give back a driver from :func:`acquire`; the last user's release closes it.

    :param driver: the driver.
    """
    for key, drivers in list(_DRIVERS.items()):
        for shared in drivers:
            if shared.driver is driver:
                shared.users -= 1
                if shared.users:
                    return
                drivers.remove(shared)
                if not drivers:
                    del _DRIVERS[key]
                break
    await driver.aclose()
