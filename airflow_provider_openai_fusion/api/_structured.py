"""
Structured output for the Responses API: a pydantic class, a JSON schema dict or a dotted path
``"package.module:ClassName"`` becomes the strict ``json_schema`` text format OpenAI accepts. A dotted path is
looked up among the modules already imported, never imported: a templated string must not run any module's code.

Strict mode's rules (OpenAI's structured outputs guide): the root is an object (not ``anyOf``); every object
lists all its properties in ``required`` and has ``additionalProperties: false``; ``$defs`` and ``$ref`` are
allowed; ``not``, conditionals, ``patternProperties`` and open maps are not; at most 10 levels of nesting and
5,000 properties. Optional fields stay optional by allowing ``null`` (pydantic writes ``X | None`` that way).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from airflow_provider_openai_fusion.api._base import json_object
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

ARGUMENT = "text_format"
MAX_DEPTH = 10
MAX_PROPERTIES = 5000
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UNSUPPORTED: tuple[str, ...] = (
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
)
UNSUPPORTED += ("unevaluatedProperties", "propertyNames")
DROPPED = ("default",)
PUBLIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class StructuredFormat:
    """
    A requested structured output.

    :param name: the format's name.
    :param schema: the schema sent (strict unless ``strict`` is false).
    :param strict: whether OpenAI enforces the schema.
    :param source: the pydantic class the answer is validated with, or ``None`` (validated with ``schema``).
    """

    name: str
    schema: dict[str, Any]
    strict: bool
    source: type[BaseModel] | None = None

    def text_param(self) -> dict[str, Any]:
        """The request's ``text`` field."""
        return {"format": {"type": "json_schema", "name": self.name, "schema": self.schema, "strict": self.strict}}


class _NotStrict(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"at {where or '(root)'}: {reason}")


def structured_format(value: Any) -> StructuredFormat | None:
    """
    Turn ``text_format`` into a :class:`StructuredFormat`; fails naming ``text_format`` when it cannot.

    :param value: a pydantic class, a schema dict (bare, or ``{"name", "schema", "strict"}``), JSON text of one,
        or ``"package.module:ClassName"`` (a pydantic class or a dict, public name, of a module already imported).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        value = json_object(value, ARGUMENT) if value.lstrip().startswith("{") else _import(value.strip())
    if isinstance(value, type) and issubclass(value, BaseModel):
        return StructuredFormat(_name(value.__name__), _make_strict(value.model_json_schema()), True, value)
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            ARGUMENT, f"must be a pydantic model class, a JSON schema dict or 'package.module:Class', got {value!r}"
        )
    if "schema" in value:
        schema, name, strict = value["schema"], value.get("name", "output"), value.get("strict", True)
    else:
        schema, name, strict = value, value.get("title", "output"), True
    if not isinstance(schema, Mapping):
        raise InvalidArgumentError(ARGUMENT, f"'schema' must be a JSON schema object, got {type(schema).__name__}")
    if not isinstance(strict, bool):
        raise InvalidArgumentError(ARGUMENT, f"'strict' must be true or false, got {strict!r}")
    return StructuredFormat(_name(str(name)), _make_strict(dict(schema)) if strict else dict(schema), strict)


def _import(path: str) -> Any:
    """
    The pydantic class or schema dict a ``"package.module:Name"`` path names, looked up among the modules already
    imported (by the DAG file, or by what it imports): nothing is imported, so a templated value (from a DAG
    run's conf, say) cannot run the import-time code of any installed module, nor reach a private name.
    """
    module_name, _, attribute = path.partition(":")
    if not DOTTED.fullmatch(module_name) or not PUBLIC_NAME.fullmatch(attribute):
        raise InvalidArgumentError(ARGUMENT, f"must be 'package.module:ClassName' (public names), got {path!r}")
    module = sys.modules.get(module_name)
    if module is None:
        raise InvalidArgumentError(
            ARGUMENT,
            f"module {module_name!r} is not imported; text_format imports nothing: import the module in the DAG "
            "file (or pass the class itself)",
        )
    value = getattr(module, attribute, None)
    if value is None:
        raise InvalidArgumentError(ARGUMENT, f"module {module_name!r} has no {attribute!r}")
    if not (isinstance(value, type) and issubclass(value, BaseModel)) and type(value) is not dict:
        raise InvalidArgumentError(
            ARGUMENT, f"{path!r} is a {type(value).__name__}; it must name a pydantic model class or a schema dict"
        )
    return value


def _name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidArgumentError(ARGUMENT, f"the name {name!r} must be 1-64 letters, digits, '_' or '-'")
    return name


def _make_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Every object closed and fully required, ``$ref`` siblings folded in; refuses what strict mode cannot take."""
    try:
        if "$ref" in schema and "type" not in schema:
            schema = {**_resolve(schema["$ref"], schema, ""), **{k: v for k, v in schema.items() if k != "$ref"}}
        if schema.get("type") != "object" or "anyOf" in schema:
            raise _NotStrict("", "the root must be an object schema (type 'object'), not a list, a value or anyOf")
        counter = [0]
        strict = _strict(schema, "", schema, 0, counter)
        if counter[0] > MAX_PROPERTIES:
            raise _NotStrict("", f"{counter[0]} properties in all, over strict mode's limit of {MAX_PROPERTIES}")
        return cast("dict[str, Any]", strict)
    except _NotStrict as exc:
        raise InvalidArgumentError(ARGUMENT, f"cannot be made strict {exc}") from None


def _resolve(ref: str, root: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        raise _NotStrict(where, f"only local references are supported, not {ref!r}")
    node: Any = root
    for part in filter(None, ref[1:].split("/")):
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        raise _NotStrict(where, f"the reference {ref!r} points nowhere")
    return node


def _strict(node: Any, where: str, root: Mapping[str, Any], depth: int, counter: list[int]) -> Any:
    if not isinstance(node, Mapping):
        return node
    node = {key: value for key, value in node.items() if key not in DROPPED}
    if found := [key for key in UNSUPPORTED if key in node]:
        raise _NotStrict(where, f"'{found[0]}' is not supported in strict mode")
    if "$ref" in node and len(node) > 1:
        node = {**_resolve(node.pop("$ref"), root, where), **node}
        node = {key: value for key, value in node.items() if key not in DROPPED}
    if "allOf" in node:
        if len(node["allOf"]) != 1:
            raise _NotStrict(where, "'allOf' with several schemas is not supported in strict mode")
        node = {**_strict(node.pop("allOf")[0], where, root, depth, counter), **node}
    if node.get("type") == "object" or "properties" in node:
        if depth >= MAX_DEPTH:
            raise _NotStrict(where, f"nested deeper than strict mode's {MAX_DEPTH} levels")
        if node.get("additionalProperties") not in (None, False):
            raise _NotStrict(
                where, "an object with free-form keys (a dict field) cannot be strict; give it fixed properties"
            )
        properties = node.get("properties") or {}
        counter[0] += len(properties)
        node["properties"] = {
            key: _strict(value, f"{where}.{key}".lstrip("."), root, depth + 1, counter)
            for key, value in properties.items()
        }
        node["required"] = list(properties)
        node["additionalProperties"] = False
    if isinstance(node.get("items"), Mapping):
        node["items"] = _strict(node["items"], f"{where}[]", root, depth, counter)
    for key in ("anyOf", "prefixItems"):
        if isinstance(node.get(key), list):
            node[key] = [_strict(item, where, root, depth, counter) for item in node[key]]
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), Mapping):
            node[key] = {name: _strict(item, f"{key}.{name}", root, depth, counter) for name, item in node[key].items()}
    return node
