"""
Bad input: every operator (and the sensor) refuses wrong arguments with an InvalidArgumentError that names the
argument, and sends nothing: the hook's transport sees no request at all.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_openai_fusion import operators, sensors
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError


def _png(side: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Bad:
    """One bad-input case: the operator class, its arguments (``{tmp}`` is a folder of real files), the argument
    the error must name."""

    operator: str
    kwargs: dict[str, Any]
    argument: str

    def build(self, tmp: Path) -> Any:
        module = sensors if self.operator.endswith("Sensor") else operators
        kwargs = {name: _fill(value, tmp) for name, value in self.kwargs.items()}
        return getattr(module, self.operator)(task_id="bad", **kwargs)


def _fill(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_fill(item, tmp) for item in value]
    return value


CHAT = [{"role": "user", "content": "hi"}]
SPEECH = "a-speech-model"
RESPONSE = "OpenAIResponseOperator"
BATCH, BATCH_SENSOR = "OpenAIBatchOperator", "OpenAIBatchSensor"
BODIES = [{"model": "gpt-4o-mini", "messages": CHAT}]
BATCH_OK = {"endpoint": "/v1/chat/completions", "requests": BODIES, "output_path": "{tmp}/results.jsonl"}
MODELS, COMPLETION, CHAT_OP, EDIT, MODERATION = (
    "OpenAIGetModelsOperator",
    "OpenAICompletionOperator",
    "OpenAIChatCompletionOperator",
    "OpenAIEditOperator",
    "OpenAIModerationOperator",
)
EMBEDDINGS, CUSTOM, GENERATE, EDIT_IMAGE, AUDIO, FILES, FINE_TUNES, SENSOR = (
    "OpenAIEmbeddingsOperator",
    "OpenAICustomAPICallOperator",
    "OpenAIGenerateImageOperator",
    "OpenAIEditImageOperator",
    "OpenAIManageAudioOperator",
    "OpenAIManageFilesOperator",
    "OpenAIManageFineTunesOperator",
    "OpenAIFineTuningJobSensor",
)
STORES = "OpenAIManageVectorStoresOperator"
EMB = {"model": "text-embedding-3-small"}
GEN = {"prompt": "a cat", "output_path": "{tmp}/out"}
IMG = {"output_path": "{tmp}/out"}

CASES = [
    Bad(MODELS, {"action": "delete"}, "action"),
    Bad(MODELS, {"action": "retrieve"}, "model"),
    Bad(MODELS, {"action": "list", "limit": 0}, "limit"),
    Bad(COMPLETION, {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "temperature": 3}, "temperature"),
    Bad(COMPLETION, {"model": "", "prompt": "hi"}, "model"),
    Bad(COMPLETION, {"model": "m", "prompt": "hi", "advanced": {"prompt": "again"}}, "advanced"),
    Bad(COMPLETION, {"model": "m", "prompt": "hi", "advanced": {"temprature": 1}}, "advanced.temprature"),
    Bad(COMPLETION, {"model": "m", "prompt": "hi", "advanced": "{not json"}, "advanced"),
    Bad(COMPLETION, {"model": "m", "prompt": "hi", "advanced": {"n": 0}}, "advanced.n"),
    Bad(CHAT_OP, {"model": "gpt-4o-mini", "messages": []}, "messages"),
    Bad(CHAT_OP, {"model": "gpt-4o-mini", "messages": "[{not json"}, "messages"),
    Bad(CHAT_OP, {"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    Bad(CHAT_OP, {"model": "gpt-4o-mini", "messages": CHAT, "temperature": -0.1}, "temperature"),
    Bad(CHAT_OP, {"model": "gpt-4o-mini", "messages": CHAT, "advanced": {"messages": CHAT}}, "advanced"),
    Bad(
        CHAT_OP,
        {"model": "gpt-4o-mini", "messages": CHAT, "advanced": {"reasoning_effort": "max"}},
        "advanced.reasoning_effort",
    ),
    Bad(EDIT, {"model": "gpt-4o-mini", "input": "teh", "instruction": ""}, "instruction"),
    Bad(EDIT, {"model": "gpt-4o-mini", "input": 123, "instruction": "fix"}, "input"),
    Bad(EDIT, {"model": "gpt-4o-mini", "input": "teh", "instruction": "fix", "temperature": 9}, "temperature"),
    Bad(MODERATION, {"input": []}, "input"),
    Bad(MODERATION, {"input": None}, "input"),
    Bad(MODERATION, {"input": "hi", "model": ""}, "model"),
    Bad(EMBEDDINGS, {**EMB, "input": []}, "input"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a", "b", "c"], "limit": 2}, "input"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "limit": 0}, "limit"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "dimensions": 0}, "dimensions"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "max_concurrency": 0}, "max_concurrency"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "advanced": {"model": "other"}}, "advanced"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "advanced": {"encoding_format": "int8"}}, "advanced.encoding_format"),
    Bad(CUSTOM, {"url": "https://evil.example/v1/models"}, "url"),
    Bad(CUSTOM, {"url": "../admin"}, "url"),
    Bad(CUSTOM, {"url": "models", "method": "TRACE"}, "method"),
    Bad(CUSTOM, {"url": "models", "body": {"a": 1}}, "body"),
    Bad(CUSTOM, {"url": "models", "method": "POST", "body": "{bad json"}, "body"),
    Bad(CUSTOM, {"url": "models", "headers": {"Authorization": "Bearer mine"}}, "headers"),
    Bad(CUSTOM, {"url": "models", "headers": "[1, 2]"}, "headers"),
    Bad(CUSTOM, {"url": "models", "headers": {"X-A": "b\r\nX-C: d"}}, "headers"),
    Bad(CUSTOM, {"url": "models", "query": {"a": {"nested": 1}}}, "query"),
    Bad(GENERATE, {**GEN, "n": 0}, "n"),
    Bad(GENERATE, {**GEN, "advanced": {"output_compression": 101}}, "advanced.output_compression"),
    Bad(GENERATE, {**GEN, "prompt": ""}, "prompt"),
    Bad(GENERATE, {"prompt": "a cat", "output_path": ""}, "output_path"),
    Bad(GENERATE, {**GEN, "advanced": {"prompt": "a dog"}}, "advanced"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "remix", "image": "{tmp}/square.png", "prompt": "x"}, "operation"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "edit", "image": "{tmp}/missing.png", "prompt": "x"}, "image"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "edit", "image": "{tmp}/notes.txt", "prompt": "x"}, "image"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "edit", "image": "{tmp}/square.png"}, "prompt"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "variation", "image": ["{tmp}/square.png", "{tmp}/square.png"]}, "image"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "variation", "image": "{tmp}/square.png", "mask": "{tmp}/square.png"}, "mask"),
    Bad(
        EDIT_IMAGE,
        {"operation": "edit", "image": "{tmp}/square.png", "prompt": "x", "output_path": None},
        "output_path",
    ),
    Bad(AUDIO, {"operation": "sing", "file": "{tmp}/speech.mp3"}, "operation"),
    Bad(AUDIO, {"operation": "transcribe", "file": None}, "file"),
    Bad(AUDIO, {"operation": "transcribe", "file": "{tmp}/missing.mp3"}, "file"),
    Bad(
        AUDIO,
        {"operation": "transcribe", "file": "{tmp}/speech.mp3", "advanced": {"response_format": "mp3"}},
        "advanced.response_format",
    ),
    Bad(FILES, {"action": "rename"}, "action"),
    Bad(FILES, {"action": "retrieve"}, "file_id"),
    Bad(FILES, {"action": "upload", "file": "{tmp}/train.jsonl", "purpose": "homework"}, "purpose"),
    Bad(FILES, {"action": "upload", "file": "{tmp}/missing.jsonl", "purpose": "fine-tune"}, "file"),
    Bad(FILES, {"action": "retrieve_content", "file_id": "file-abc"}, "output_path"),
    Bad(FILES, {"action": "list", "limit": 0}, "limit"),
    Bad(FINE_TUNES, {"action": "pause"}, "action"),
    Bad(FINE_TUNES, {"action": "create", "model": "gpt-4o-mini-2024-07-18"}, "training_file"),
    Bad(FINE_TUNES, {"action": "create", "training_file": "file-abc"}, "model"),
    Bad(FINE_TUNES, {"action": "get"}, "job_id"),
    Bad(FINE_TUNES, {"action": "list", "limit": 0}, "limit"),
    Bad(FINE_TUNES, {"action": "get", "job_id": "ftjob-1", "training_file": "file-abc"}, "training_file"),
    Bad(FINE_TUNES, {"action": "list", "wait_for_completion": True}, "wait_for_completion"),
    Bad(FINE_TUNES, {"action": "delete_model"}, "model"),
    Bad(STORES, {"action": "reindex"}, "action"),
    Bad(STORES, {"action": "get"}, "vector_store_id"),
    Bad(STORES, {"action": "sync", "name": "docs"}, "files"),
    Bad(STORES, {"action": "add_files", "vector_store_id": "vs_1", "files": ["{tmp}/missing.md"]}, "files"),
    Bad(STORES, {"action": "search", "vector_store_id": "vs_1"}, "query"),
    Bad(STORES, {"action": "search", "vector_store_id": "vs_1", "query": "q", "max_num_results": 0}, "max_num_results"),
    Bad(STORES, {"action": "search", "vector_store_id": "vs_1", "query": "q", "filters": "[1]"}, "filters"),
    Bad(STORES, {"action": "list", "query": "q"}, "query"),
    Bad(SENSOR, {"job_id": ""}, "job_id"),
    Bad(SENSOR, {"job_id": "ftjob-1", "on_cancelled": "explode"}, "on_cancelled"),
    Bad(BATCH, {**BATCH_OK, "endpoint": "/v1/images/generations"}, "endpoint"),
    Bad(BATCH, {**BATCH_OK, "input_path": "{tmp}/train.jsonl"}, "requests"),
    Bad(BATCH, {**BATCH_OK, "output_path": None}, "output_path"),
    Bad(BATCH, {**BATCH_OK, "on_expired": "ignore"}, "on_expired"),
    Bad(BATCH, {**BATCH_OK, "poll_interval": float("nan")}, "poll_interval"),
    Bad(BATCH, {**BATCH_OK, "metadata": {"airflow_dag_id": "x"}}, "metadata"),
    Bad(BATCH_SENSOR, {"batch_id": " "}, "batch_id"),
    Bad(BATCH_SENSOR, {"batch_id": "batch_1", "on_cancelled": "ignore"}, "on_cancelled"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": ""}, "input"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": "hi", "max_input_tokens": -1}, "max_input_tokens"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": "hi", "text_format": "no_such_pkg:Model"}, "text_format"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": "hi", "text_format": {"type": "array"}}, "text_format"),
    Bad(RESPONSE, {"model": "gpt-4o-mini", "input": "hi", "tools": [{"type": "function", "name": "f"}]}, "tools"),
    Bad(CHAT_OP, {"model": "   ", "messages": CHAT}, "model"),
    Bad(EMBEDDINGS, {"model": "\t", "input": ["a"]}, "model"),
    Bad(CUSTOM, {"url": "models", "method": "POST", "body": {"temperature": float("nan")}}, "body"),
    Bad(CUSTOM, {"url": "models", "method": "POST", "body": '{"x": [1, Infinity]}'}, "body"),
    Bad(CUSTOM, {"url": "models", "query": {"a": float("inf")}}, "query"),
    Bad(CUSTOM, {"url": "m" * 100_000}, "url"),
    Bad(CUSTOM, {"url": "models", "headers": {"Host": "evil.example"}}, "headers"),
    Bad(CHAT_OP, {"model": "m", "messages": CHAT, "advanced": {"logit_bias": {"1": float("nan")}}}, "advanced"),
    Bad(AUDIO, {"operation": "transcribe", "file": "{tmp}/\udcff.mp3"}, "file"),
    Bad(
        AUDIO,
        {"operation": "speech", "input": "hi", "model": SPEECH, "output_path": "{tmp}/notes.txt/hi.mp3"},
        "output_path",
    ),
    Bad(
        AUDIO, {"operation": "speech", "input": "hi", "model": SPEECH, "output_path": "{tmp}/voice.mp3"}, "output_path"
    ),
    Bad(AUDIO, {"operation": "speech", "input": "hi", "output_path": "{tmp}/hi.mp3"}, "model"),
    Bad("OpenAIBatchResultsOperator", {"batch_id": " ", "output_path": "{tmp}/r.jsonl"}, "batch_id"),
    Bad("OpenAIBatchResultsOperator", {"batch_id": "batch_1", "output_path": None}, "output_path"),
    Bad(
        "OpenAIBatchResultsOperator",
        {"batch_id": "batch_1", "output_path": "{tmp}/r.jsonl", "on_expired": "keep"},
        "on_expired",
    ),
    Bad("OpenAIResponseResultOperator", {"response_id": " "}, "response_id"),
    Bad("OpenAIUsageReportOperator", {"source": "bank"}, "source"),
    Bad("OpenAIUsageReportOperator", {"source": "run", "output_path": "{tmp}/usage.txt"}, "output_path"),
    Bad(FILES, {"action": "retrieve", "file_id": " "}, "file_id"),
    Bad(FILES, {"action": "delete", "file_id": "file-1?purge=1"}, "file_id"),
    Bad(FILES, {"action": "retrieve_content", "file_id": "file-abc", "output_path": "{tmp}"}, "output_path"),
    Bad(GENERATE, {"prompt": "a cat", "output_path": "{tmp}/taken"}, "output_path"),
    Bad(GENERATE, {"prompt": "a cat", "output_path": "{tmp}/notes.txt"}, "output_path"),
    Bad(GENERATE, {"prompt": "a cat", "output_path": "{tmp}/notes.txt/out"}, "output_path"),
    Bad(EDIT_IMAGE, {**IMG, "operation": "edit", "image": "{tmp}/square.png", "prompt": "x", "model": " "}, "model"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "output_path": "{tmp}/notes.txt/vectors.jsonl"}, "output_path"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"], "output_path": "{tmp}"}, "output_path"),
    Bad(EMBEDDINGS, {**EMB, "input": ["a"] * 1200}, "output_path"),
    Bad(FINE_TUNES, {"action": "get", "job_id": "ftjob 1"}, "job_id"),
]


class _TaskInstance:
    """The part of a task instance an operator may touch before its first request: XCom pushes."""

    try_number = 1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Real input files the good arguments of the cases point at."""
    (tmp_path / "square.png").write_bytes(_png(4))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "speech.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64)
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    (tmp_path / "taken" / "0.png").mkdir(parents=True)
    (tmp_path / "voice.mp3").mkdir()
    (tmp_path / os.fsdecode(b"\xff.mp3")).write_bytes((tmp_path / "speech.mp3").read_bytes())
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[f"{c.operator}-{c.argument}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_before_any_request(case: Bad, files: Path, make_hook: Callable[..., Any]) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, json={"error": {"message": "no request should get here"}})

    hook = make_hook(record)
    with pytest.raises(InvalidArgumentError) as error:
        operator = case.build(files)
        operator.hook = hook
        ti = _TaskInstance()
        operator.execute(context={"ti": ti, "task_instance": ti})
    assert error.value.argument == case.argument, str(error.value)
    assert f"'{case.argument}'" in str(error.value)
    assert seen == []


def test_every_operator_has_bad_input_cases() -> None:
    covered = {case.operator for case in CASES}
    assert covered == set(operators.__all__) | set(sensors.__all__)
    assert len(CASES) >= 40
