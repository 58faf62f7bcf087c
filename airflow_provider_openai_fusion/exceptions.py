"""
The provider's error tree.

::

    OpenAIFusionError (AirflowException)
    ├── InvalidArgumentError        a task argument is wrong; names it; no request was sent   [fail, no retry]
    │   └── ModelRetiredError       the model is past its shutdown date at OpenAI              [fail, no retry]
    ├── ConnectionConfigError       the Airflow Connection is unusable; names the field        [fail, no retry]
    ├── BudgetExceededError         the worst-case cost would pass max_cost_usd or max_run_cost_usd; nothing sent
                                                                                                [fail, no retry]
    └── APIError                    something went wrong talking to the API
        ├── APIStatusError          the API answered with an error status
        │   ├── BadRequestError            400  [fail, no retry]
        │   ├── AuthenticationError        401  [fail, no retry]
        │   ├── PermissionDeniedError      403  [fail, no retry]
        │   ├── NotFoundError              404  [fail, no retry]
        │   ├── ConflictError              409
        │   ├── UnprocessableEntityError   422  [fail, no retry]
        │   ├── RateLimitError             429
        │   └── InternalServerError        5xx
        ├── APIConnectionError      no answer: connection refused or reset
        │   └── APITimeoutError     no answer in time
        └── APIResponseValidationError   an answer that is not what the API promises (bad JSON, bad image data)
    ├── JobFailedError              a long-running job ended without its result   [fail, no retry]
    │   └── FineTuningJobError      a fine-tuning job failed or was cancelled
    ├── ResponseRefusedError        the model refused to answer (Responses API)                 [fail, no retry]
    ├── StructuredOutputError       the answer does not match the requested text_format         [fail, no retry]
    ├── VectorStoreFileError        files of a vector-store file batch failed (retryable: sync resends only them)
    └── OutputTooLargeError         a result past the size bound of an XCom or a trigger event   [fail, no retry]

Errors marked *fail* also derive from ``AirflowFailException``: Airflow does not retry them, since a retry
would get the same answer. The others are ordinary exceptions, so the task's own ``retries`` apply once the
hook's ``max_retries`` are spent. Every API error carries OpenAI's ``message``, ``type``, ``code``, ``param``
and the ``x-request-id`` as they came. No error ever holds the API key or request headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class OpenAIFusionError(AirflowException):
    """Base of every error this provider raises."""


class InvalidArgumentError(OpenAIFusionError, AirflowFailException):
    """
    A task argument is invalid; raised before any request is sent.

    :param argument: the name of the operator argument (or connection field) at fault.
    :param reason: why it is wrong.
    """

    def __init__(self, argument: str, reason: str) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"Invalid argument '{argument}': {reason}")


class ModelRetiredError(InvalidArgumentError):
    """
    The ``model`` argument names a model past its shutdown date; raised before any request.

    :param model: the model the task names.
    :param shutdown: the shutdown date, as ``YYYY-MM-DD``.
    :param replacement: the recommended replacement, or ``None`` when none is known.
    :param where: where it was shut down (``"at OpenAI"``, ``"at this server"``).
    :param origin: where the date comes from (the server's ``GET /models`` or the provider's table), if said.
    """

    def __init__(
        self,
        model: str,
        shutdown: str,
        replacement: str | None,
        *,
        where: str = "at OpenAI",
        origin: str | None = None,
    ) -> None:
        self.model = model
        self.shutdown = shutdown
        self.replacement = replacement
        self.origin = origin
        said = f" ({origin})" if origin else ""
        advice = (
            f"the recommended replacement is {replacement}"
            if replacement
            else "no replacement is known: choose a current model"
        )
        super().__init__("model", f"{model} was shut down {where} on {shutdown}{said}; {advice}")


class ConnectionConfigError(OpenAIFusionError, AirflowFailException):
    """
    The Airflow Connection cannot be used as it is.

    :param conn_id: the connection id.
    :param field: the connection field at fault.
    :param reason: why it is wrong.
    """

    def __init__(self, conn_id: str, field: str, reason: str) -> None:
        self.conn_id = conn_id
        self.field = field
        self.reason = reason
        super().__init__(f"Connection '{conn_id}', field '{field}': {reason}")


class BudgetExceededError(OpenAIFusionError, AirflowFailException):
    """
    A paid call would pass a budget: its worst-case estimate alone (``max_cost_usd``), or with what this DAG run has
    already spent (``max_run_cost_usd``). Raised before the request, so nothing was sent or billed.

    :param argument: the budget argument to change (``max_cost_usd`` or ``max_run_cost_usd``).
    :param estimate_usd: the call's worst-case estimate.
    :param budget_usd: the budget.
    :param spent_usd: what the DAG run has already recorded (``max_run_cost_usd`` only).
    :param detail: how the estimate was made and what would lower it.
    """

    def __init__(
        self, argument: str, estimate_usd: float, budget_usd: float, spent_usd: float | None = None, detail: str = ""
    ) -> None:
        self.argument = argument
        self.estimate_usd = estimate_usd
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        spent = "" if spent_usd is None else f" on top of ${spent_usd:.6f} this DAG run has already spent"
        total = estimate_usd + (spent_usd or 0.0)
        super().__init__(
            f"Budget '{argument}' of ${budget_usd:.6f} refuses this call: its worst case is ${estimate_usd:.6f}{spent} "
            f"(${total:.6f} > ${budget_usd:.6f}); no request was sent. {detail}".rstrip()
        )


class APIError(OpenAIFusionError):
    """
    A failure while talking to the API.

    :param message: what happened, as the API (or the transport) said it.
    :param request_id: the ``x-request-id`` of the answer, when there was one.
    """

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id
        super().__init__(self._render())

    def _render(self) -> str:
        suffix = f" (request id: {self.request_id})" if self.request_id else ""
        return f"{self.message}{suffix}"


class APIStatusError(APIError):
    """
    The API answered with an error status.

    :param message: OpenAI's error message.
    :param status_code: the HTTP status.
    :param error_type: OpenAI's error ``type``.
    :param code: OpenAI's error ``code``.
    :param param: the request parameter OpenAI blamed.
    :param request_id: the ``x-request-id`` header.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code  # type: ignore[assignment]  # AirflowException types it HTTPStatus
        self.type = error_type
        self.code = code
        self.param = param
        super().__init__(message, request_id=request_id)

    def _render(self) -> str:
        details = [f"status {self.status_code}"]
        details += [
            f"{name}: {value}"
            for name, value in (("type", self.type), ("code", self.code), ("param", self.param))
            if value
        ]
        if self.request_id:
            details.append(f"request id: {self.request_id}")
        return f"OpenAI API error: {self.message} ({', '.join(details)})"


class BadRequestError(APIStatusError, AirflowFailException):
    """HTTP 400: the request is wrong; retrying cannot help."""


class AuthenticationError(APIStatusError, AirflowFailException):
    """HTTP 401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError, AirflowFailException):
    """HTTP 403: the key may not do this (organization, project or region)."""


class NotFoundError(APIStatusError, AirflowFailException):
    """HTTP 404: no such model, file, job or path."""


class ConflictError(APIStatusError):
    """HTTP 409: a conflicting operation is in progress; retryable."""


class UnprocessableEntityError(APIStatusError, AirflowFailException):
    """HTTP 422: the request is well formed but cannot be processed."""


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests or tokens; retryable."""


class InternalServerError(APIStatusError):
    """HTTP 5xx: the server failed; retryable."""


class APIConnectionError(APIError):
    """The connection failed before an answer arrived (refused, reset, DNS)."""


class APITimeoutError(APIConnectionError):
    """No answer arrived within the timeout."""


class APIResponseValidationError(APIError):
    """The answer is not what the API promises (malformed JSON, invalid image data, truncated body)."""


class JobFailedError(OpenAIFusionError, AirflowFailException):
    """
    A long-running job (fine-tuning job, batch, background response) ended without its result. Airflow does not
    retry the task: the job's own error is final.

    :param noun: what the job is, e.g. ``Fine-tuning job``.
    :param job_id: the job id.
    :param status: the final status, e.g. ``failed`` or ``cancelled``.
    :param error: the job's ``error`` object (``code``, ``message``, ``param``), when it has one.
    """

    def __init__(self, noun: str, job_id: str, status: str, error: Mapping[str, Any] | None = None) -> None:
        self.job_id = job_id
        self.status = status
        self.code = (error or {}).get("code")
        self.message = (error or {}).get("message")
        self.param = (error or {}).get("param")
        if error:
            text = f"{noun} {job_id} {status}: {self.message or 'no message'} (code: {self.code}, param: {self.param})"
        else:
            text = f"{noun} {job_id} was {status}" if status == "cancelled" else f"{noun} {job_id} {status}"
        super().__init__(text)


class FineTuningJobError(JobFailedError):
    """
    The fine-tuning job ended without a model: it failed or was cancelled.

    :param job_id: the job id.
    :param status: ``failed`` or ``cancelled``.
    :param error: the job's ``error`` object, when it failed.
    """

    def __init__(self, job_id: str, status: str, error: Mapping[str, Any] | None = None) -> None:
        super().__init__("Fine-tuning job", job_id, status, error if status == "failed" else None)


class ResponseRefusedError(OpenAIFusionError, AirflowFailException):
    """
    The model refused to answer (a ``refusal`` content part); a retry would most likely be refused again.

    :param response_id: the response id.
    :param refusal: the model's refusal text.
    """

    def __init__(self, response_id: str, refusal: str) -> None:
        self.response_id = response_id
        self.refusal = refusal
        super().__init__(f"Response {response_id}: the model refused: {refusal}")


class StructuredOutputError(OpenAIFusionError, AirflowFailException):
    """
    The answer does not match the requested ``text_format``.

    :param response_id: the response id.
    :param field: where in the answer the mismatch is (``(root)`` for the whole answer).
    :param reason: what is wrong there.
    """

    def __init__(self, response_id: str, field: str, reason: str) -> None:
        self.response_id = response_id
        self.field = field
        self.reason = reason
        super().__init__(f"Response {response_id}: the answer does not match text_format at {field}: {reason}")


class VectorStoreFileError(OpenAIFusionError):
    """
    Files of a vector-store file batch failed to be processed. An ordinary exception: a retry of the task sends
    only what is still missing when the action is ``sync``.

    :param vector_store_id: the store id.
    :param failed: the failed files: ``{"filename", "file_id", "error"}`` each.
    """

    def __init__(self, vector_store_id: str, failed: list[dict[str, Any]]) -> None:
        self.vector_store_id = vector_store_id
        self.failed = failed
        listed = "; ".join(
            f"{item.get('filename') or item.get('file_id')}: {(item.get('error') or {}).get('code')}: "
            f"{(item.get('error') or {}).get('message')}"
            for item in failed[:10]
        )
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        files = "1 file" if len(failed) == 1 else f"{len(failed)} files"
        super().__init__(f"{files} failed in vector store {vector_store_id}: {listed}{more}")


class OutputTooLargeError(OpenAIFusionError, AirflowFailException):
    """
    A result is larger than an XCom (or a trigger event) may be, measured as Airflow would store it; the message
    names the bound and what to do (``output_path``). A retry would get the same answer.
    """
