"""api/responses.py and api/_structured.py: strict schemas, output text, refusals, the usage line."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from airflow_provider_openai_fusion.api._structured import structured_format
from airflow_provider_openai_fusion.api.responses import count_input_tokens, output_text, refusal
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from tests.unit.responses_fake import message


class Leaf(BaseModel):
    value: int = Field(default=3, description="a number")


class Tree(BaseModel):
    name: str
    leaf: Leaf = Field(description="the leaf")
    children: list[Tree] = []
    note: str | None = None


def objects(node: Any) -> list[dict[str, Any]]:
    """Every object schema under ``node``."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += objects(value)
    elif isinstance(node, list):
        for value in node:
            found += objects(value)
    return found


def test_a_recursive_pydantic_model_becomes_strict_with_defs_kept() -> None:
    schema = structured_format(Tree).schema
    assert schema["type"] == "object" and set(schema["$defs"]) == {"Leaf", "Tree"}
    for node in objects(schema):
        assert node["additionalProperties"] is False and node["required"] == list(node["properties"])
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}
    assert schema["properties"]["leaf"]["description"] == "the leaf"  # a $ref with siblings is folded in
    assert "default" not in str(schema)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "at a: 'not' is not supported"),
        ({"type": "object", "properties": {"a": {"allOf": [{}, {}]}}}, "'allOf' with several schemas"),
        ({"type": "object", "patternProperties": {".*": {}}}, "'patternProperties' is not supported"),
        ({"anyOf": [{"type": "object"}]}, "the root must be an object schema"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/x", "title": "A"}}}, "points nowhere"),
        ({"type": "object", "properties": {"a": {"$ref": "other.json#/x", "title": "A"}}}, "only local references"),
        ({"name": "n", "schema": {"type": "object"}, "strict": "yes"}, "'strict' must be true or false"),
        ({"name": "n", "schema": "object"}, "'schema' must be a JSON schema object"),
        ("{not json", "is not valid JSON"),
        (42, "must be a pydantic model class"),
    ],
)
def test_what_cannot_be_strict_is_refused_naming_text_format(value: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        structured_format(value)
    assert info.value.argument == "text_format"


def test_nesting_deeper_than_strict_mode_allows_is_refused() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    node = schema
    for _ in range(11):
        child: dict[str, Any] = {"type": "object", "properties": {}}
        node["properties"]["x"] = child
        node = child
    with pytest.raises(InvalidArgumentError, match="nested deeper than strict mode's 10 levels"):
        structured_format(schema)


def test_a_non_strict_schema_passes_as_given_and_json_text_is_accepted() -> None:
    given = {"type": "object", "properties": {"tags": {"type": "object", "additionalProperties": True}}}
    fmt = structured_format({"name": "loose", "schema": given, "strict": False})
    assert fmt is not None and fmt.schema == given and fmt.strict is False
    assert structured_format('{"title": "t", "type": "object", "properties": {}}').name == "t"
    assert structured_format("") is None


def test_output_text_joins_every_text_part_and_refusal_finds_refusals() -> None:
    response = {"output": [message("a"), {"type": "reasoning", "summary": []}, message("b"), message("no", "refusal")]}
    assert output_text(response) == "ab"
    assert refusal(response) == "no" and refusal({"output": [message("a")]}) is None


def test_the_token_count_sends_only_the_fields_it_takes() -> None:
    body = {"model": "m", "input": "x", "background": True, "store": True, "metadata": {"a": "b"}, "tools": []}
    assert count_input_tokens(body).json == {"model": "m", "input": "x", "tools": []}
