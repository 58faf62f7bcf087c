"""
Stand-in routes: /responses (create), /responses/{id} (retrieve), /responses/{id}/cancel, /responses/input_tokens.

The "model" answers like the chat stand-in (``text.reply``); with a ``json_schema`` text format it answers an
object generated from the schema (every property, ``$ref``/``$defs`` followed, the first non-null branch of an
``anyOf``), so strict structured output can be checked end to end. A background response is ``queued`` when
created and moves one status per GET: ``in_progress``, then its final status.

How to get the other endings (words in the last input text): ``please fail`` ends ``failed`` (code
``server_error``); ``please refuse`` answers with a refusal part; ``never finish`` stays ``in_progress`` until
cancelled; ``take your time`` stays ``in_progress`` for ``SLOW_LOOKS`` GETs; a ``max_output_tokens`` below the
answer's size ends ``incomplete`` (reason ``max_output_tokens``). Only background responses can be cancelled (else
400), as with OpenAI.

A ``file_search`` tool searches the vector stores the stand-in holds (the last input text is the query, scored as
``POST /vector_stores/{id}/search`` scores it, with the tool's ``filters`` and ``max_num_results``): the output
starts with a ``file_search_call`` item (its ``results`` only with ``include: ["file_search_call.results"]``), and
the answer quotes the best result and cites the files found (``file_citation`` annotations). A vector store id the
stand-in does not hold is refused with a 404, before anything is created.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dev.standin import text
from dev.standin.common import State, error, json_body, new_id, not_found, now, ok, state_of
from dev.standin.vector_stores import search_store
from dev.standin.webhooks import drive

RESPONSE_FIELDS = ("instructions", "metadata", "previous_response_id", "max_output_tokens", "background", "text")
RESPONSE_FIELDS += ("reasoning", "service_tier", "truncation", "max_tool_calls")
NULLABLE_REQUIRED = ("error", "incomplete_details", "instructions")
SLOW_LOOKS = 15
ACTIVE = ("queued", "in_progress")
RESULTS_INCLUDED = "file_search_call.results"
CITED = 3


def _last_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if isinstance(item, dict) and item.get("role") in ("user", None) and "content" in item:
            return text._text_of(item["content"])
    return ""


def _all_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    parts = [items] if isinstance(items, str) else [text._text_of(i.get("content")) for i in items or []]
    return " ".join(part for part in [str(body.get("instructions") or ""), *parts] if part)


def conforming(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """
    A value that conforms to ``schema``: objects with every property, the first enum value, one array item.

    :param schema: the (sub)schema.
    :param root: the whole schema, for ``$ref``.
    :param depth: how deep the value is; past 6, nullable branches and empty arrays end recursion.
    """
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        node: Any = root
        for part in filter(None, schema["$ref"][1:].split("/")):
            node = node[part]
        return conforming(node, root, depth)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if branches := schema.get(key):
            real = [b for b in branches if b.get("type") != "null"]
            if depth > 6 and len(real) < len(branches):
                return None
            return conforming(real[0] if real else branches[0], root, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {key: conforming(sub, root, depth + 1) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [] if depth > 6 else [conforming(schema.get("items", {}), root, depth + 1)]
    return {"string": "example", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "example")


def _answer(body: dict[str, Any]) -> str:
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(conforming(fmt.get("schema"), fmt.get("schema") or {}))
    last = _last_text(body.get("input"))
    return text.reply(str(body.get("instructions") or ""), last, fmt.get("type") == "json_object")


def _usage(body: dict[str, Any], answer: str) -> dict[str, Any]:
    prompt, completion = text.tokens(_all_text(body)), text.tokens(answer)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _file_search_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool for tool in body.get("tools") or [] if isinstance(tool, dict) and tool.get("type") == "file_search"]


def _unknown_store(body: dict[str, Any], state: State) -> str | None:
    """The first vector store id a ``file_search`` tool names that the stand-in does not hold."""
    for tool in _file_search_tools(body):
        for store_id in tool.get("vector_store_ids") or []:
            if store_id not in state.vector_stores:
                return str(store_id)
    return None


def _file_search(body: dict[str, Any], state: State) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``file_search_call`` items of the response, and every result they found (best first)."""
    query = _last_text(body.get("input"))
    items: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for tool in _file_search_tools(body):
        limit = int(tool.get("max_num_results") or 10)
        results = [
            result
            for store_id in tool.get("vector_store_ids") or []
            for result in search_store(state, store_id, [query], tool.get("filters"), limit)
        ]
        results = sorted(results, key=lambda result: -result["score"])[:limit]
        shown = [
            {
                "file_id": result["file_id"],
                "filename": result["filename"],
                "score": result["score"],
                "attributes": result["attributes"],
                "text": result["content"][0]["text"],
            }
            for result in results
        ]
        call = {"id": new_id("fs_"), "type": "file_search_call", "status": "completed", "queries": [query]}
        items.append({**call, "results": shown if RESULTS_INCLUDED in (body.get("include") or []) else None})
        found += results
    return items, sorted(found, key=lambda result: -result["score"])


def _cited(answer: str, found: list[dict[str, Any]], structured: bool) -> tuple[str, list[dict[str, Any]]]:
    """The answer quoting the best result (unless it must stay JSON), and a citation of each file found."""
    if not found:
        return answer, []
    if not structured:
        best = found[0]
        answer = f"{answer} According to {best['filename']}: {best['content'][0]['text'][:300].strip()}"
    files = list({result["file_id"]: result for result in found}.values())[:CITED]
    citations = [
        {"type": "file_citation", "file_id": result["file_id"], "filename": result["filename"], "index": len(answer)}
        for result in files
    ]
    return answer, citations


def _final(body: dict[str, Any], state: State) -> dict[str, Any]:
    """The fields of the response once it has ended: output, usage, status."""
    last = _last_text(body.get("input")).lower()
    if "please fail" in last:
        error_ = {"code": "server_error", "message": "The model failed to generate a response."}
        return {"status": "failed", "error": error_, "output": []}
    searches: list[dict[str, Any]] = []
    if "please refuse" in last:
        part = {"type": "refusal", "refusal": "I'm sorry, I cannot help with that."}
        answer, status, reason = "", "completed", None
    else:
        searches, found = _file_search(body, state)
        fmt = (body.get("text") or {}).get("format") or {}
        answer, citations = _cited(_answer(body), found, fmt.get("type") in ("json_schema", "json_object"))
        cap = body.get("max_output_tokens")
        status, reason = "completed", None
        if cap is not None and text.tokens(answer) > cap:
            answer, status, reason = answer[: cap * 4], "incomplete", {"reason": "max_output_tokens"}
            citations = []
        part = {"type": "output_text", "text": answer, "annotations": citations, "logprobs": []}
    message = {"id": new_id("msg_"), "type": "message", "role": "assistant", "status": status, "content": [part]}
    output = [*searches, message]
    return {"status": status, "incomplete_details": reason, "output": output, "usage": _usage(body, answer)}


def _new_response(body: dict[str, Any]) -> dict[str, Any]:
    response = {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": now(),
        "status": "queued",
        "model": body["model"],
        "output": [],
        "error": None,
        "incomplete_details": None,
        "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
    }
    response.update({key: body.get(key) for key in RESPONSE_FIELDS})
    response["metadata"] = body.get("metadata") or {}
    response["background"] = bool(body.get("background"))
    return response


async def create(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    if body.get("model") not in text.known_models(request):
        return text._unknown_model(str(body.get("model")))
    if body.get("background") and body.get("store") is False:
        return error(400, "Background responses must be stored: set store to true.", type_="invalid_request_error")
    state = state_of(request)
    if (missing := _unknown_store(body, state)) is not None:
        return not_found("vector_store", missing, "tools")
    response = _new_response(body)
    state.responses[response["id"]] = (response, body)
    if not body.get("background"):
        response.update(_final(body, state))
    elif state.webhooks is not None:

        async def advance() -> bool:
            _moved(state, response, body)
            return response["status"] not in ACTIVE

        drive(state.job_step_seconds, advance)
    return _answer_of(response)


def _moved(state: State, response: dict[str, Any], body: dict[str, Any]) -> None:
    """Move a background response on; one that ends sends its webhook."""
    was = response["status"]
    _advance(response, body, state)
    _ended(state, response, was)


def _ended(state: State, response: dict[str, Any], was: str) -> None:
    if state.webhooks is not None and was in ACTIVE and response["status"] not in ACTIVE:
        state.webhooks.notify(f"response.{response['status']}", response["id"])


def _answer_of(response: dict[str, Any]) -> Response:
    """The response as JSON, without the unset fields the spec does not allow to be null."""
    return ok({key: value for key, value in response.items() if value is not None or key in NULLABLE_REQUIRED})


def _advance(response: dict[str, Any], body: dict[str, Any], state: State) -> None:
    last = _last_text(body.get("input")).lower()
    body["_looks"] = body.get("_looks", 0) + 1
    if response["status"] == "queued":
        response["status"] = "in_progress"
    elif response["status"] != "in_progress" or "never finish" in last:
        return
    elif "take your time" not in last or body["_looks"] > SLOW_LOOKS:
        response.update(_final(body, state))
        response["completed_at"] = now() if response["status"] == "completed" else None


async def retrieve(request: Request) -> Response:
    found = state_of(request).responses.get(request.path_params["response_id"])
    if found is None:
        return not_found("response", request.path_params["response_id"], "response_id")
    response, body = found
    _moved(state_of(request), response, body)
    return _answer_of(response)


async def cancel(request: Request) -> Response:
    found = state_of(request).responses.get(request.path_params["response_id"])
    if found is None:
        return not_found("response", request.path_params["response_id"], "response_id")
    response, _ = found
    if not response["background"]:
        return error(
            400, "Only responses created with background=true can be cancelled.", type_="invalid_request_error"
        )
    if response["status"] in ACTIVE:
        response["status"] = "cancelled"
        _ended(state_of(request), response, "in_progress")
    return _answer_of(response)


async def input_tokens(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    return ok({"object": "response.input_tokens", "input_tokens": text.tokens(_all_text(body))})


routes = [
    Route("/responses", create, methods=["POST"]),
    Route("/responses/input_tokens", input_tokens, methods=["POST"]),
    Route("/responses/{response_id}", retrieve, methods=["GET"]),
    Route("/responses/{response_id}/cancel", cancel, methods=["POST"]),
]
