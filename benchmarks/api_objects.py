"""The API objects the benchmarks' server answers with, shaped as OpenAI's API returns them."""

from __future__ import annotations

import json

CHAT_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1760000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
        "system_fingerprint": "fp_bench",
    }
).encode()


def model_response(response_id: str, done: bool) -> dict:
    """A model response as the Responses API returns it: ``in_progress`` (background) or ``completed``."""
    message = {
        "id": f"msg_{response_id}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello! How can I help you today?", "annotations": []}],
    }
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1760000000,
        "status": "completed" if done else "in_progress",
        "background": not done or response_id != "resp_bench",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4o-mini-2024-07-18",
        "output": [message] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {"input_tokens": 9, "output_tokens": 9, "total_tokens": 18} if done else None,
        "metadata": {},
    }


RESPONSE = json.dumps(model_response("resp_bench", True)).encode()


def file_object(file_id: str, size: int) -> dict:
    """A file object as the API returns it."""
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1760000000,
        "filename": "bench.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def fine_tuning_job(job_id: str, done: bool) -> dict:
    """A fine-tuning job as the API returns it."""
    return {
        "id": job_id,
        "object": "fine_tuning.job",
        "created_at": 1760000000,
        "error": None,
        "fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:bench::abc123" if done else None,
        "finished_at": 1760000600 if done else None,
        "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8},
        "model": "gpt-4o-mini-2024-07-18",
        "organization_id": "org-bench",
        "result_files": ["file-result"] if done else [],
        "seed": 42,
        "status": "succeeded" if done else "running",
        "trained_tokens": 1200 if done else None,
        "training_file": "file-training",
        "validation_file": None,
        "estimated_finish": None,
        "integrations": None,
        "metadata": None,
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}},
        },
    }


def job_events(job_id: str) -> dict:
    """A fine-tuning job's events (one page)."""
    event = {
        "id": f"ftevent-{job_id}",
        "object": "fine_tuning.job.event",
        "created_at": 1760000000,
        "level": "info",
        "message": "Fine-tuning job started",
        "data": {},
        "type": "message",
    }
    return {"object": "list", "data": [event], "has_more": False}


def batch(batch_id: str, done: bool) -> dict:
    """A batch as the API returns it."""
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": None,
        "input_file_id": "file-input",
        "completion_window": "24h",
        "status": "completed" if done else "in_progress",
        "output_file_id": "file-output" if done else None,
        "error_file_id": None,
        "created_at": 1760000000,
        "in_progress_at": 1760000001,
        "expires_at": 1760086400,
        "completed_at": 1760000600 if done else None,
        "request_counts": {"total": 10, "completed": 10 if done else 3, "failed": 0},
        "metadata": None,
    }
