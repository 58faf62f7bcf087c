"""Base classes of the request and response models, and the validation that names the faulty argument."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

M = TypeVar("M", bound=BaseModel)


class RequestModel(BaseModel):
    """A request body: unknown fields are errors, so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """A response body: fields the API adds later are kept."""

    model_config = ConfigDict(extra="allow")


def json_object(value: Any, argument: str) -> dict[str, Any] | None:
    """
    Accept a dict, or JSON text of an object (as a template renders it); ``None`` stays ``None``.

    :param value: the argument's value.
    :param argument: the argument's name, for the error.
    """
    if value is None or isinstance(value, Mapping):
        return None if value is None else dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise InvalidArgumentError(argument, f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
        if isinstance(parsed, dict):
            return parsed
    raise InvalidArgumentError(argument, f"must be a JSON object (a dict), got {type(value).__name__}")


def _describe(error: Mapping[str, Any]) -> str:
    inner = ".".join(str(part) for part in error["loc"][1:])
    return f"{error['msg']}" + (f" (at {inner})" if inner else "")


def validate_request(model: type[M], named: Mapping[str, Any], advanced: Any = None) -> M:
    """
    Validate the named arguments plus ``advanced`` into ``model``; the error names the argument at fault.

    :param model: the request model.
    :param named: the operator's named arguments (``None`` values count as unset).
    :param advanced: extra request fields (a dict or JSON text), merged into the body.
    """
    given = {name: value for name, value in named.items() if value is not None}
    extra = json_object(advanced, "advanced") or {}
    if clashes := sorted(set(given) & set(extra)):
        raise InvalidArgumentError(
            "advanced", f"sets '{clashes[0]}', which is a named argument of the operator; set it there"
        )
    try:
        return model.model_validate({**extra, **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "advanced"
        argument = field if field in given or field not in extra else f"advanced.{field}"
        if error["type"] == "extra_forbidden":
            where = f" (at {'.'.join(map(str, error['loc'][1:]))})" if len(error["loc"]) > 1 else ""
            name = error["loc"][-1] if error["loc"] else field
            raise InvalidArgumentError(argument, f"'{name}' is not a field of this API request{where}") from None
        raise InvalidArgumentError(argument, _describe(error)) from None


def request_body(model: type[BaseModel], named: Mapping[str, Any], advanced: Any = None) -> dict[str, Any]:
    """
    Validate like :func:`validate_request` and return the JSON body to send.

    :param model: the request model.
    :param named: the operator's named arguments.
    :param advanced: extra request fields.
    """
    return validate_request(model, named, advanced).model_dump(mode="json", exclude_none=True)
