"""The Responses API: one model response, with structured output, hosted tools and background mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import Context, conf

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.operators._base import OpenAIFusionBaseOperator

if TYPE_CHECKING:
    from airflow_provider_openai_fusion.api._structured import StructuredFormat
    from airflow_provider_openai_fusion.api.responses import BackgroundResponses

# The task_state_store key (Airflow >= 3.3) holding the background response of this task instance, so a retry
# finds it again; it is removed once the response's result has been handled.
STATE_KEY = "openai_fusion_background_response"
# The forms of the XCom: the whole response, or its id and metadata with only the text or the parsed object.
RETURNS = ("full", "text", "parsed")


class OpenAIResponseOperator(OpenAIFusionBaseOperator):
    """
    Create a model response (POST /responses): text or input items in, the response out, with
    ``output_text`` and, given ``text_format``, ``output_parsed`` (the answer as a JSON object, validated).

    With ``background=True`` the response is created in the background (``store: true``) and the task waits on
    GET /responses/{id}, in the triggerer when ``deferrable``; a kill or the ``timeout`` cancels it. The response
    id is kept in the task instance's ``task_state_store`` (Airflow 3.3+), so a retry re-attaches to a response
    an earlier try started (still running, or finished but not yet handled) instead of paying for a second one.

    :param model: the model, e.g. ``gpt-5.6-luna``. (templated)
    :param input: text, or a list of input items (messages with roles, images, files); JSON text of a list is
        accepted. (templated)
    :param instructions: the system (developer) message. (templated)
    :param text_format: structured output: a pydantic model class, a JSON schema dict (bare, or
        ``{"name", "schema", "strict"}``) or ``"package.module:ClassName"``; made strict for OpenAI (every
        property required, ``additionalProperties: false``), and the answer is validated back. (templated,
        except a class)
    :param tools: hosted tools (``web_search``, ``file_search``, ``code_interpreter``, ``mcp``, ...); the
        tool-call items stay in the response's ``output``. Function tools are refused: nothing would run them.
        (templated)
    :param previous_response_id: continue from this response (e.g. an upstream task's XCom ``id``). (templated)
    :param temperature: sampling temperature, 0 to 2.
    :param max_output_tokens: the cap on generated tokens (reasoning included); at least 16.
    :param max_input_tokens: cost guard: count the input first (POST /responses/input_tokens) and fail before
        generating when it is over this.
    :param metadata: up to 16 string pairs stored with the response. (templated)
    :param background: create the response in the background and wait for it.
    :param wait_for_completion: with ``background``, wait for the response (default); ``False`` returns the
        response as created (its ``id``, status ``queued``) at once, for a DAG scheduled on the
        ``response.completed`` webhook to fetch with ``OpenAIResponseResultOperator``.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``); with ``background``.
    :param poll_interval: seconds between checks of a background response.
    :param timeout: give up on a background response after this many seconds (or a timedelta), cancel it and
        fail with its last status; default: the task's ``execution_timeout``, else 2 hours.
    :param allow_incomplete: return an ``incomplete`` response (e.g. ``max_output_tokens`` reached) instead of
        failing.
    :param advanced: any other request field (``reasoning``, ``include``, ``tool_choice``, ...). (templated)
    :param service_tier: ``auto``, ``default``, ``flex`` (half price, slower, may be unavailable; the client timeout
        becomes 15 minutes unless the connection sets one) or ``priority``.
    :param flex_fallback: with ``service_tier="flex"``, send the request once more on the default tier when flex
        answers 429 ``resource_unavailable`` or times out (logged; each answer priced at its tier).
    :param prompt_cache_key: groups requests sharing a prompt prefix for better cache hits (cached input tokens are
        billed at the cached rate). (templated)
    :param prompt_cache_retention: ``in_memory`` or ``24h``.
    :param items: bulk mode: one response per item, sent concurrently at the rate limit's speed, answers written
        to ``output_path``. An item is the ``input`` (text or input items) or a request object (fields merged over
        the named arguments, e.g. ``{"custom_id": "doc-1", "input": "..."}``). Not with ``background``,
        ``max_input_tokens`` or ``previous_response_id``. (templated)
    :param items_path: bulk mode: a JSON-lines file of items (local path or ``ObjectStoragePath`` URI). (templated)
    :param output_path: bulk mode: the JSON-lines file of answers, one line per item in input order, in the Batch
        API's output shape. (templated)
    :param on_error: bulk mode: ``fail`` (default: the task fails once the output is written, and its retry sends
        only the failed items) or ``record`` (failed items stay as error lines; the task succeeds).
    :param max_concurrency: bulk mode: the most requests in flight (default 8, at most 64).
    :param returns: what the XCom holds: ``"full"`` (default) the whole response; ``"text"``
        ``{"id", "metadata", "output_text"}``; ``"parsed"`` ``{"id", "metadata", "output_parsed"}`` (needs
        ``text_format``). The short forms keep XCom small over thousands of mapped tasks, and ``metadata``
        carries an item's key through the mapping. (The name ``output`` is taken by Airflow's ``.output``.)
    :param conn_id: the Airflow Connection of type ``openai_fusion``. (templated)
    :return: the API response plus ``output_text`` and, with ``text_format``, ``output_parsed``; or the short
        form that ``returns`` names.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "model",
        "input",
        "instructions",
        "text_format",
        "tools",
        "previous_response_id",
        "metadata",
        "advanced",
        "prompt_cache_key",
        "items",
        "items_path",
        "output_path",
    )
    template_fields_renderers = {
        "input": "json",
        "tools": "json",
        "metadata": "json",
        "advanced": "json",
        "items": "json",
    }

    def __init__(
        self,
        *,
        model: str,
        input: Any = None,
        instructions: str | None = None,
        text_format: Any = None,
        tools: list[dict[str, Any]] | str | None = None,
        previous_response_id: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        max_input_tokens: int | None = None,
        metadata: dict[str, str] | str | None = None,
        background: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        allow_incomplete: bool = False,
        advanced: dict[str, Any] | str | None = None,
        service_tier: str | None = None,
        flex_fallback: bool = False,
        prompt_cache_key: str | None = None,
        prompt_cache_retention: str | None = None,
        items: list[Any] | str | None = None,
        items_path: str | None = None,
        output_path: str | None = None,
        on_error: str = "fail",
        max_concurrency: int = 8,
        returns: str = "full",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.returns = returns
        self.items = items
        self.items_path = items_path
        self.output_path = output_path
        self.on_error = on_error
        self.max_concurrency = max_concurrency
        self.service_tier = service_tier
        self.flex_fallback = flex_fallback
        self.prompt_cache_key = prompt_cache_key
        self.prompt_cache_retention = prompt_cache_retention
        self.model = model
        self.input = input
        self.instructions = instructions
        # Airflow calls a callable template field with the context; a class is one, so it is kept aside.
        self.text_format = None if isinstance(text_format, type) else text_format
        self._text_format_class = text_format if isinstance(text_format, type) else None
        self.tools = tools
        self.previous_response_id = previous_response_id
        self.temperature = temperature
        self.max_output_tokens = max_output_tokens
        self.max_input_tokens = max_input_tokens
        self.metadata = metadata
        self.background = background
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.allow_incomplete = allow_incomplete
        self.advanced = advanced
        self._response_id: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion._waiting import event_for
        from airflow_provider_openai_fusion.api.responses import create_response
        from airflow_provider_openai_fusion.operators._bulk import bulk_requested
        from airflow_provider_openai_fusion.operators._tiers import send_tiered

        if bulk_requested(self.items, self.items_path):
            return self._execute_bulk()
        self._response_id = None  # a kill of this try must not cancel what an earlier try of this instance made
        body, structured = self._request()
        self.check_model(body["model"])
        response = self._earlier_response(context, body) if self.background else None
        if response is None:
            counted = self._check_input_tokens(body)
            self.check_budget(_budget.response, body, counted)
            flex_fallback = bool(self.flex_fallback) and not self.background
            response = send_tiered(self, create_response, body, flex_fallback, _budget.response, counted)
            self.log.info("Created response %s (status %s)", response.get("id"), response.get("status"))
            if self.background:
                self._remember(context, response, body)
        self._response_id = str(response.get("id"))
        if self.background and not self.wait_for_completion:
            return dict(response)
        if self.background and response.get("status") not in self._kind.terminal:
            response = self._wait(response)
        return self._result(context, event_for(self._kind, response), structured)

    @property
    def _kind(self) -> BackgroundResponses:
        from airflow_provider_openai_fusion.api.responses import BackgroundResponses

        return BackgroundResponses(allow_incomplete=bool(self.allow_incomplete))

    def _request(self) -> tuple[dict[str, Any], StructuredFormat | None]:
        """The request body and the structured format, every argument checked before any request."""
        from airflow_provider_openai_fusion.api._base import request_body, required
        from airflow_provider_openai_fusion.api.responses import CreateResponseRequest

        required("input", self.input, "the Responses API")
        named, advanced, structured = self._named()
        return request_body(CreateResponseRequest, named, advanced), structured

    def _named(self) -> tuple[dict[str, Any], dict[str, Any], StructuredFormat | None]:
        """The named request fields, ``advanced`` and the structured format, checked (``input`` may be unset)."""
        from airflow_provider_openai_fusion.api._base import (
            json_list,
            json_object,
            positive_int,
            positive_number,
            required,
            text_or_list,
        )
        from airflow_provider_openai_fusion.api._structured import structured_format
        from airflow_provider_openai_fusion.operators._tiers import tier_fields

        required("model", self.model, "the Responses API")
        if not self.wait_for_completion and not self.background:
            raise InvalidArgumentError("wait_for_completion", "False applies to background responses: set background")
        self.poll_interval = positive_number("poll_interval", self.poll_interval)
        self.max_input_tokens = positive_int("max_input_tokens", self.max_input_tokens)
        max_output_tokens = positive_int("max_output_tokens", self.max_output_tokens)
        if self.timeout is not None:
            seconds = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else self.timeout
            self.timeout = positive_number("timeout", seconds)
        advanced = json_object(self.advanced, "advanced") or {}
        for name in ("background", "store") if self.background else ("background",):
            if name in advanced and (name == "background" or advanced[name] is not True):
                raise InvalidArgumentError(
                    f"advanced.{name}", "use the operator's background argument; background responses are stored"
                )
        structured = structured_format(self._text_format_class or self.text_format)
        if self.returns not in RETURNS:
            raise InvalidArgumentError("returns", f"{self.returns!r} is not one of {', '.join(RETURNS)}")
        if self.returns == "parsed" and structured is None:
            raise InvalidArgumentError("returns", '"parsed" needs text_format (the schema the answer is parsed with)')
        named = {
            "model": self.model,
            "input": text_or_list(self.input),
            "instructions": self.instructions,
            "text": structured.text_param() if structured else None,
            "tools": json_list(self.tools, "tools"),
            "previous_response_id": self.previous_response_id,
            "temperature": self.temperature,
            "max_output_tokens": max_output_tokens,
            "metadata": json_object(self.metadata, "metadata"),
            "background": True if self.background else None,
            "store": True if self.background else None,
            **tier_fields(
                self.service_tier, self.prompt_cache_key, self.prompt_cache_retention, bool(self.flex_fallback)
            ),
        }
        return named, advanced, structured

    def _execute_bulk(self) -> dict[str, Any]:
        from airflow_provider_openai_fusion import _budget
        from airflow_provider_openai_fusion.api._base import request_body, text_or_list
        from airflow_provider_openai_fusion.api.responses import CreateResponseRequest, create_response
        from airflow_provider_openai_fusion.operators._bulk import execute_bulk

        for name in ("background", "max_input_tokens", "previous_response_id"):
            if getattr(self, name):
                raise InvalidArgumentError(name, "applies to a single response, not to bulk mode (items)")
        named, advanced, _ = self._named()

        def build(item: Any) -> dict[str, Any]:
            fields = item if isinstance(item, dict) else {"input": text_or_list(item)}
            return request_body(CreateResponseRequest, {**named, **fields}, advanced)

        return execute_bulk(self, build, create_response, lambda body: _budget.response(body, None), "responses")

    def _check_input_tokens(self, body: dict[str, Any]) -> int | None:
        """Count the input (POST /responses/input_tokens, free) when a limit or a budget needs it; check the limit."""
        from airflow_provider_openai_fusion.api.responses import count_input_tokens

        if self.max_input_tokens is None and self.max_cost_usd is None and self.max_run_cost_usd is None:
            return None
        counted = self.hook.request(count_input_tokens(body))["input_tokens"]
        self.log.info("The input counts %d tokens (max_input_tokens: %s)", counted, self.max_input_tokens)
        if self.max_input_tokens is not None and counted > self.max_input_tokens:
            raise InvalidArgumentError(
                "max_input_tokens", f"the input counts {counted} tokens, over the limit of {self.max_input_tokens}"
            )
        return cast("int | None", counted)

    def _earlier_response(self, context: Context, body: dict[str, Any]) -> dict[str, Any] | None:
        """The background response an earlier try of this task instance started for the same request, if alive."""
        from airflow_provider_openai_fusion.api.responses import ACTIVE, retrieve_response
        from airflow_provider_openai_fusion.exceptions import NotFoundError

        store = context.get("task_state_store")
        if store is None:
            self.log.warning("No task_state_store (Airflow < 3.3): a retry cannot find this try's response again")
            return None
        saved = store.get(STATE_KEY)
        if not isinstance(saved, Mapping) or saved.get("request") != _fingerprint(body):
            return None
        try:
            response = self.hook.request(retrieve_response(str(saved.get("id"))))
        except NotFoundError:
            return None
        if response.get("status") not in (*ACTIVE, "completed"):
            return None
        self.log.info("Re-attaching to response %s (%s) of an earlier try", response["id"], response.get("status"))
        return cast("dict[str, Any] | None", response)

    def _remember(self, context: Context, response: Mapping[str, Any], body: dict[str, Any]) -> None:
        if (store := context.get("task_state_store")) is not None:
            store.set(STATE_KEY, {"id": response.get("id"), "request": _fingerprint(body)})

    def _wait(self, response: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowTaskTimeout

        from airflow_provider_openai_fusion._waiting import Watch, drive, wait_deadline

        deadline = wait_deadline(self.timeout, self.execution_timeout, self._kind.default_timeout)
        if self.deferrable:
            self._defer(deadline)
        watch = Watch(self._kind, str(self._response_id), self.log)
        try:
            return cast("dict[str, Any]", drive(watch.until_done(self.poll_interval, deadline), self.hook.request))
        except (AirflowSensorTimeout, AirflowTaskTimeout):
            self._cancel()
            raise

    def _defer(self, deadline: float) -> None:
        from airflow_provider_openai_fusion.triggers.responses import OpenAIResponseTrigger

        trigger = OpenAIResponseTrigger(
            job_id=str(self._response_id),
            conn_id=self.conn_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            cancel_on_kill=True,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """
        Resume after the trigger: the response's result, or the task fails (and a timed-out response is cancelled).

        :param context: the task's context.
        :param event: the trigger's event.
        """
        _, structured = self._request()
        self._response_id = str(event.get("job_id")) if isinstance(event, Mapping) else None
        return self._result(context, event, structured)

    def _result(self, context: Context, event: Any, structured: StructuredFormat | None) -> dict[str, Any]:
        """
        Check a finished response (status, refusal, structured output) and build the XCom; a timed-out wait
        cancels the response. Once the response has ended, this task instance forgets it.
        """
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from airflow_provider_openai_fusion._waiting import finish, resumed
        from airflow_provider_openai_fusion.api.responses import (
            check_refusal,
            parse_output,
            short_output_text,
            without_tool_secrets,
        )

        ended = isinstance(event, Mapping) and event.get("status") in self._kind.terminal
        try:
            event = resumed(self._kind, event, self.hook.request)
            if ended and isinstance(event.get("job"), Mapping):
                job = event["job"]
                self.log.info("Response %s %s", job.get("id"), job.get("status"))
                self.log_usage(job, self.model)
            response = finish(self._kind, event)
            check_refusal(response)
            result = {**without_tool_secrets(response), "output_text": short_output_text(response, self.log)}
            if structured is not None:
                result["output_parsed"] = parse_output(response, structured)
            return _shape(result, self.returns)
        except AirflowSensorTimeout:
            if not event.get("cancelled"):
                self._cancel()
            raise
        finally:
            if ended and self.background and (store := context.get("task_state_store")) is not None:
                store.delete(STATE_KEY)

    def _cancel(self) -> None:
        from airflow_provider_openai_fusion.api.responses import cancel_response

        if not self._response_id:
            return
        try:
            response = self.hook.request(cancel_response(self._response_id))
        except Exception as exc:  # the task is failing already: keep its own error, report this one
            self.log.warning("Could not cancel response %s: %s", self._response_id, exc)
            return
        self.log.info("Cancelled response %s (status %s)", self._response_id, response.get("status"))

    def on_kill(self) -> None:
        """Cancel the background response this task is waiting for."""
        if self.background:
            self._cancel()


def _shape(result: dict[str, Any], returns: str) -> dict[str, Any]:
    """The XCom that ``returns`` names: the whole result, or its id and metadata with the text or parsed object."""
    if returns == "full":
        return result
    key = "output_parsed" if returns == "parsed" else "output_text"
    return {"id": result.get("id"), "metadata": result.get("metadata") or {}, key: result.get(key)}


def _fingerprint(body: Mapping[str, Any]) -> str:
    """A short hash of the request, so a retry whose request changed does not re-attach to the old response."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
