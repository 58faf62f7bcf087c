"""The hook: the Airflow Connection, the two clients and the generic verbs every API area goes through."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseHook

from airflow_provider_openai_fusion.exceptions import OpenAIFusionError

if TYPE_CHECKING:
    import httpx

    from airflow_provider_openai_fusion._http.request import ClientSettings, RequestSpec
    from airflow_provider_openai_fusion._http.telemetry import CallSpan
    from airflow_provider_openai_fusion._http.transport import AsyncDriver, BodyObserver, Response, Sink, SyncDriver
    from airflow_provider_openai_fusion.pricing import Price


def _checked(spec: RequestSpec, answer: Response) -> Response:
    """Check a JSON answer against the spec's response schema, if it names one; return it unchanged."""
    if spec.response is not None:
        from airflow_provider_openai_fusion.api._base import check_response

        check_response(answer.body, spec.response, listing=spec.listing, what=spec.label)
    return answer


def _sink(spec: RequestSpec, decode: str = "json", path: Path | None = None, **limits: Any) -> Any:
    decode = "json" if spec.response is not None else decode
    if path is None and not limits:
        return _decoding_sink(decode)
    from airflow_provider_openai_fusion._http.transport import Sink

    return Sink(decode, path, **limits)


@cache
def _decoding_sink(decode: str) -> Any:
    """The sink of an answer read into memory, made once per way of decoding it (a sink is immutable)."""
    from airflow_provider_openai_fusion._http.transport import Sink

    return Sink(decode)


class OpenAIFusionHook(BaseHook):
    """
    Talks to the OpenAI API (or any OpenAI-compatible server) with the settings of an Airflow Connection.

    The Connection is read once. One ``httpx.Client`` and one ``httpx.AsyncClient`` are created on first use
    and reused (keep-alive). Retryable failures are retried up to ``max_retries`` with backoff. Calls are
    described by the builders of ``airflow_provider_openai_fusion.api.<area>``, e.g.
    ``hook.request(chat.create_chat_completion(body))``.

    :param conn_id: the Airflow Connection of type ``openai_fusion``.
    :param timeout: seconds one attempt may take in all (connect, send, the whole answer); wins over the
        connection's ``timeout`` extra.
    :param max_retries: retries of retryable failures; wins over the connection's ``max_retries`` extra.
    :param transport: an httpx transport used by both clients (``httpx.MockTransport`` in tests).
    :param admin: send the connection's ``admin_api_key`` instead of its API key (the organization Usage and
        Costs APIs only).
    :param shared_client: share one ``httpx.AsyncClient`` (and its keep-alive connections) with the other hooks
        of this event loop with the same settings (the triggers of a triggerer: :mod:`._shared`); :meth:`aclose`
        gives it back.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "openai_fusion_default"
    conn_type = "openai_fusion"
    hook_name = "OpenAI Fusion"

    def __init__(
        self,
        conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        admin: bool = False,
        shared_client: bool = False,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._transport = transport
        self._admin = admin
        self._shared_client = shared_client
        from airflow_provider_openai_fusion._http.calls import CallLog

        self.calls = CallLog()
        """
        What this hook's calls did (ids, models, usage; never content), kept while OpenLineage is on or an
        OpenTelemetry SDK is installed (else calls are sent with neither, at no cost).
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @cached_property
    def settings(self) -> ClientSettings:
        """The validated connection settings (the API key is registered with Airflow's secrets masker)."""
        return self._settings_from(self._connection())

    async def aget_settings(self) -> ClientSettings:
        """Read the settings from an event loop, without blocking it (works in the triggerer and in dag.test)."""
        if "settings" not in self.__dict__:
            from asgiref.sync import sync_to_async

            self.__dict__["settings"] = self._settings_from(await sync_to_async(self._connection)())
        return self.settings

    def _connection(self) -> Any:
        """The Airflow Connection; a missing one fails with how to define it (the type and the env var form)."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return self.get_connection(self.conn_id)
        except AirflowNotFoundException as exc:
            raise AirflowNotFoundException(missing_connection_hint(self.conn_id)) from exc

    def _settings_from(self, conn: Any) -> ClientSettings:
        from airflow.sdk.log import mask_secret

        from airflow_provider_openai_fusion.hooks.settings import (
            admin_key_from_connection,
            prices_from_connection,
            settings_from_connection,
        )

        extra = conn.extra_dejson
        for secret in (conn.password, extra.get("admin_api_key")):
            if secret and isinstance(secret, str):
                mask_secret(secret)
                for part in {secret.strip(), *secret.split()}:  # as sent, and the pieces of a wrapped key
                    if len(part) >= 8:
                        mask_secret(part)
        settings = settings_from_connection(
            self.conn_id,
            host=conn.host,
            password=conn.password,
            extra=extra,
            schema=conn.schema,
            port=conn.port,
        )
        self.__dict__["prices"] = prices_from_connection(self.conn_id, extra)
        self.__dict__["timeout_set"] = self._timeout is not None or extra.get("timeout") not in (None, "")
        overrides: dict[str, Any] = {"timeout": self._timeout, "max_retries": self._max_retries}
        if self._admin:
            overrides["api_key"] = admin_key_from_connection(self.conn_id, extra)
        return dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def prices(self) -> Mapping[str, Price]:
        """The connection's ``prices`` extra (model -> :class:`~airflow_provider_openai_fusion.pricing.Price`)."""
        _ = self.settings  # reading the connection fills it
        return cast("Mapping[str, Price]", self.__dict__["prices"])

    @property
    def timeout_set(self) -> bool:
        """Whether the timeout was set (on the hook or in the connection's ``timeout`` extra), not defaulted."""
        _ = self.settings  # reading the connection fills it
        return cast("bool", self.__dict__["timeout_set"])

    def default_timeout(self, seconds: float) -> bool:
        """
        Use ``seconds`` as the timeout unless one was set on the hook or in the connection (e.g. flex processing's
        15 minutes); return whether it changed. Clients already made are closed, so the next call uses it.

        :param seconds: the timeout of one attempt.
        """
        if self.timeout_set or self.settings.timeout == seconds:
            return False
        self.__dict__["settings"] = dataclasses.replace(self.settings, timeout=seconds)
        self.close()
        self.__dict__.pop("_async", None)
        return True

    @cached_property
    def _sync(self) -> SyncDriver:
        from airflow_provider_openai_fusion._http.transport import SyncDriver

        return SyncDriver(self.settings, self._transport)  # type: ignore[arg-type]

    @cached_property
    def _async(self) -> AsyncDriver:
        if self._shared_client:
            from airflow_provider_openai_fusion.hooks._shared import acquire

            return acquire(self.settings, self._transport)
        from airflow_provider_openai_fusion._http.transport import AsyncDriver

        return AsyncDriver(self.settings, self._transport)  # type: ignore[arg-type]

    def get_conn(self) -> ClientSettings:
        """Return the validated connection settings."""
        return self.settings

    def close(self) -> None:
        """Close the sync client (the async one is closed by :meth:`aclose`)."""
        if "_sync" in self.__dict__:
            self.__dict__.pop("_sync").close()

    async def aclose(self) -> None:
        """Close the async client (a shared one is given back, and closed by its last user)."""
        if "_async" in self.__dict__:
            driver = self.__dict__.pop("_async")
            if self._shared_client:
                from airflow_provider_openai_fusion.hooks._shared import release

                await release(driver)
            else:
                await driver.aclose()

    @contextmanager
    def _observed(self, spec: RequestSpec) -> Iterator[CallSpan]:
        """One call inside its OpenTelemetry span; its record goes to :attr:`calls` however it ends."""
        from airflow_provider_openai_fusion._http.telemetry import call_span

        settings = self.settings
        with call_span(
            spec.method,
            spec.path,
            spec.json,
            spec.data,
            settings.base_url,
            settings.api_key,
            self.calls.add,
            self._traced,
        ) as call:
            yield call

    def _answered(self, call: CallSpan, spec: RequestSpec, answer: Response) -> Response:
        body = spec.json if spec.json is not None else spec.data
        call.answered(answer.status_code, answer.headers, answer.body, body, self.settings.api_key)
        return answer

    @cached_property
    def _lineage_on(self) -> bool:
        """Whether OpenLineage will ask for this task's lineage: its provider is installed and configured."""
        try:
            from airflow.providers.openlineage.conf import is_disabled
        except ImportError:
            return False
        return not is_disabled()

    @cached_property
    def _observing(self) -> bool:
        """
        Whether calls are observed: for lineage, or because an OpenTelemetry SDK is installed (Airflow installs its
        own before the task runs, so one look per hook suffices).
        """
        return self._lineage_on or self._traced

    @cached_property
    def _traced(self) -> bool:
        """Whether an OpenTelemetry SDK is installed, so that spans and metrics go somewhere."""
        from airflow_provider_openai_fusion._http.telemetry import sdk_installed

        return sdk_installed()

    def _send(self, spec: RequestSpec, sink: Sink) -> Response:
        if not self._observing:
            return self._sync.send(spec, sink)
        with self._observed(spec) as call:
            return self._answered(call, spec, self._sync.send(spec, sink))

    async def _asend(self, spec: RequestSpec, sink: Sink) -> Response:
        if not self._observing:
            return await self._async.send(spec, sink)
        with self._observed(spec) as call:
            return self._answered(call, spec, await self._async.send(spec, sink))

    def send(self, spec: RequestSpec) -> Response:
        """
        Send one call and return the whole answer: status, headers and the body, decoded (JSON checked against
        the call's response schema when it names one; else JSON, text or bytes by content type).

        :param spec: the call.
        """
        return _checked(spec, self._send(spec, _sink(spec, "auto")))

    async def asend(self, spec: RequestSpec) -> Response:
        """
        Send one call and return the whole answer (async); see :meth:`send`.

        :param spec: the call.
        """
        await self.aget_settings()
        return _checked(spec, await self._asend(spec, _sink(spec, "auto")))

    def send_once(self, spec: RequestSpec, *, timeout: float) -> Response:
        """
        Send one call as a single attempt (no retry) bounded by ``timeout`` seconds in all (or the connection's
        timeout, if shorter), for a side read that must never hold a task up; see :meth:`send`.

        :param spec: the call.
        :param timeout: seconds the attempt may take in all.
        """
        from airflow_provider_openai_fusion._http.transport import SyncDriver

        bounded = dataclasses.replace(self.settings, timeout=min(timeout, self.settings.timeout), max_retries=0)
        driver = SyncDriver(bounded, self._transport)  # type: ignore[arg-type]
        try:
            return _checked(spec, driver.send(spec, _sink(spec, "auto")))
        finally:
            driver.close()

    def request(self, spec: RequestSpec) -> Any:
        """
        Send one call and return its JSON answer, checked against the call's response schema.

        :param spec: the call.
        """
        return _checked(spec, self._send(spec, _sink(spec))).body

    async def arequest(self, spec: RequestSpec) -> Any:
        """
        Send one call and return its JSON answer, checked against the call's response schema (async).

        :param spec: the call.
        """
        await self.aget_settings()
        return _checked(spec, await self._asend(spec, _sink(spec))).body

    def download(
        self,
        spec: RequestSpec,
        path: Path,
        *,
        size: int | None = None,
        max_seconds: float | None = None,
        observer: BodyObserver | None = None,
    ) -> Path:
        """
        Stream an answer's body to ``path``: written under a temporary name, renamed when complete. The body may
        exceed its declared size (``size``, else an unencoded answer's ``Content-Length``) by a small slack only,
        and the download has a time ceiling that the arriving bytes cannot extend.

        :param spec: the call.
        :param path: the local file to write.
        :param size: the file's declared size in bytes (the file object's ``bytes``), when known.
        :param max_seconds: the download's ceiling in seconds (per attempt); by default the timeout plus the
            declared size (else the call's cap) at 64 KiB/s, at most 6 hours.
        :param observer: sees the bytes as they are written: ``restart()`` at each attempt, then ``feed(piece)``
            (:class:`~airflow_provider_openai_fusion._http.transport.BodyObserver`).
        """
        sink = _sink(spec, path=path, size=size, max_seconds=max_seconds, observer=observer)
        return self._send(spec, sink).path  # type: ignore[return-value]

    async def adownload(
        self,
        spec: RequestSpec,
        path: Path,
        *,
        size: int | None = None,
        max_seconds: float | None = None,
        observer: BodyObserver | None = None,
    ) -> Path:
        """
        Stream an answer's body to ``path`` (async); see :meth:`download`.

        :param spec: the call.
        :param path: the local file to write.
        :param size: the file's declared size in bytes (the file object's ``bytes``), when known.
        :param max_seconds: the download's ceiling in seconds (per attempt).
        :param observer: sees the bytes as they are written (see :meth:`download`).
        """
        await self.aget_settings()
        sink = _sink(spec, path=path, size=size, max_seconds=max_seconds, observer=observer)
        return (await self._asend(spec, sink)).path  # type: ignore[return-value]

    def paginate(self, spec: RequestSpec, limit: int | None = None) -> list[dict[str, Any]]:
        """
        Follow ``has_more`` across pages and return the items, at most ``limit`` of them. A server that repeats
        its cursor, or more pages than the cap, ends the listing with an error instead of a loop.

        :param spec: the first page's call.
        :param limit: the most items to return; ``None`` for all.
        """
        from airflow_provider_openai_fusion._http.pagination import Pages

        pages = Pages(spec, limit)
        next_spec: RequestSpec | None = spec
        while next_spec is not None:
            next_spec = pages.add(self.request(next_spec))
        return pages.result()

    async def apaginate(self, spec: RequestSpec, limit: int | None = None) -> list[dict[str, Any]]:
        """
        Follow ``has_more`` across pages and return the items, at most ``limit`` of them (async).

        :param spec: the first page's call.
        :param limit: the most items to return; ``None`` for all.
        """
        from airflow_provider_openai_fusion._http.pagination import Pages

        pages = Pages(spec, limit)
        next_spec: RequestSpec | None = spec
        while next_spec is not None:
            next_spec = pages.add(await self.arequest(next_spec))
        return pages.result()

    def bulk(
        self,
        specs: Sequence[RequestSpec],
        max_concurrency: int,
        tokens: Sequence[int] | None = None,
        *,
        return_errors: bool = False,
    ) -> list[Any]:
        """
        Send many calls concurrently and return their JSON answers (checked against each call's response schema)
        in the order of ``specs``. At most ``max_concurrency`` are in flight, and they are paced by the limits the
        server announces (``x-ratelimit-*`` for requests and tokens) so that it has no reason to answer 429. The
        first failure cancels the calls still running, unless ``return_errors``.

        :param specs: the calls.
        :param max_concurrency: the most calls in flight at once.
        :param tokens: each call's estimated tokens (prompt plus the most it may generate), for the token limit.
        :param return_errors: a call that fails with a provider error (an API error after its retries, a bad
            answer) gets that error in its place of the result, and the other calls go on.
        """
        costs = tokens or [0] * len(specs)
        answers: list[Any] = [None] * len(specs)

        def emit(index: int, answer: Any) -> None:
            answers[index] = answer

        on_error = "record" if return_errors else "raise"
        self.bulk_each(len(specs), lambda index: (specs[index], costs[index]), emit, max_concurrency, on_error=on_error)
        return answers

    def bulk_each(
        self,
        count: int,
        call: Callable[[int], tuple[RequestSpec, int] | None],
        emit: Callable[[int, Any], None],
        max_concurrency: int,
        *,
        window: int | None = None,
        on_error: str = "raise",
    ) -> None:
        """
        Send up to ``count`` calls concurrently, paced as :meth:`bulk` does, and hand each position's outcome to
        ``emit`` in order of position as soon as the ones before it are in: memory holds at most ``window``
        answers, never the run. One event loop, one rate-limit gate and one set of clients serve the whole run.

        :param count: the number of positions.
        :param call: the call of a position and its estimated tokens, or ``None`` to send nothing for it; asked
            when a worker takes the position, so it may depend on what came before.
        :param emit: receives each position and its JSON answer, its provider error (``on_error`` ``stop`` or
            ``record``), or ``None`` (nothing sent).
        :param max_concurrency: the most calls in flight at once.
        :param window: the most positions taken and not yet emitted (default: all of them).
        :param on_error: ``raise``: the first failure cancels the calls in flight and is raised; ``stop``: it is
            emitted and no further call is sent (later positions get ``None``); ``record``: every call is sent.
        """
        import asyncio

        asyncio.run(self._bulk(count, call, emit, max_concurrency, window or count, on_error))

    async def _bulk(
        self,
        count: int,
        call: Callable[[int], tuple[RequestSpec, int] | None],
        emit: Callable[[int, Any], None],
        max_concurrency: int,
        window: int,
        on_error: str,
    ) -> None:
        from airflow_provider_openai_fusion._http.bulk import LANE, in_order, lanes
        from airflow_provider_openai_fusion._http.ratelimit import RateLimitGate
        from airflow_provider_openai_fusion._http.transport import AsyncDriver, decode_json_answer

        settings = await self.aget_settings()
        secret = settings.api_key
        gate = RateLimitGate()
        later = _decoding_sink("later")
        held: list[float] = []
        failed = False
        observing = self._observing
        drivers = [
            AsyncDriver(settings, self._transport, connections=LANE)  # type: ignore[arg-type]
            for _ in range(lanes(max_concurrency))
        ]

        async def send(spec: RequestSpec, cost: int, driver: AsyncDriver) -> Any:
            with ExitStack() as observed:
                ticket = await gate.acquire(cost)
                call = observed.enter_context(self._observed(spec)) if observing else None
                answer = await driver.send(spec, later)
                gate.observe(ticket, answer.headers)
                if ticket.waited:
                    held.append(ticket.waited)
                decoded = _checked(spec, await decode_json_answer(answer, secret))
                return (self._answered(call, spec, decoded) if call else decoded).body

        async def work(index: int, lane: int) -> Any:
            nonlocal failed
            chosen = None if failed and on_error == "stop" else call(index)
            if chosen is None:
                return None
            try:
                return await send(*chosen, drivers[lane])
            except OpenAIFusionError as exc:
                if on_error == "raise":
                    raise
                failed = True
                return exc

        try:
            await in_order(count, work, emit, max_concurrency, window)
        finally:
            if held:
                self.log.info(
                    "The server's rate limits held %d of %d calls back, %.2f s in all", len(held), count, sum(held)
                )
            for driver in drivers:
                await driver.aclose()

    def test_connection(self) -> tuple[bool, str]:
        """
        Check the connection as a task uses it: list the models (GET /models, every page) with its API key, Base
        URL, organization and project headers, timeout and retries. The message says what was checked; it is also
        logged, since ``airflow connections test`` prints only "Connection success!". On failure it is OpenAI's
        error message (or the connection's configuration error).
        """
        from airflow_provider_openai_fusion.api import models

        try:
            found = self.paginate(models.list_models())
        except OpenAIFusionError as exc:
            self.log.error("Connection %s failed: %s", self.conn_id, exc)
            return False, str(exc)
        finally:
            self.close()
        settings = self.settings
        headers = [
            f"{name} {value}"
            for name, value in (("organization", settings.organization_id), ("project", settings.project_id))
            if value
        ]
        message = (
            f"Connection works: {len(found)} models available at {settings.base_url} (GET /models with the API key"
            + "".join(f", {header}" for header in headers)
            + f"; timeout {settings.timeout:g} s, {settings.max_retries} retries)"
        )
        self.log.info("%s", message)
        return True, message


def missing_connection_hint(conn_id: str) -> str:
    """
    The message for a connection id that Airflow does not know: what to define, in the UI or as an env var.

    :param conn_id: the connection id the task named.
    """
    env = f"AIRFLOW_CONN_{conn_id.upper()}"  # the name Airflow's environment-variable backend reads
    return (
        f"The connection {conn_id!r} is not defined. Add it in the UI (Admin > Connections, type 'OpenAI Fusion', "
        f"the API key as password), with `airflow connections add {conn_id} --conn-json ...`, in your secrets "
        f"backend, or as an environment variable on every component that runs tasks: "
        f"""{env}='{{"conn_type": "openai_fusion", "password": "sk-..."}}'"""
    )
