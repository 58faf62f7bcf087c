"""
Ownership against a loopback server that holds other people's objects: the provider detaches, deletes and
re-attaches to only what it created and recorded. Each case counts the requests the server saw and the objects
they touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import InvalidArgumentError
from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook
from airflow_provider_openai_fusion.operators import OpenAIManageVectorStoresOperator
from tests.conftest import ROOT
from tests.reliability.fault_server import Behaviour, FaultServer, Request, json_reply
from tests.vector_stores_fake import OWNER, FakeVectorStores

ROWS = (
    "`sync` by name into a marked store that also holds another team's file and a file given by id in an earlier run",
    "`sync` by name into a store without the provider's mark in its metadata",
)


def playing(fake: FakeVectorStores) -> Callable[[Request], Behaviour]:
    """The fault server's responder: ``fake`` answers every request."""

    def respond(request: Request) -> Behaviour:
        path = request.target.split("?", 1)[0].removeprefix("/v1/")
        status, payload = fake.answer(request.method, path, request.body)
        return json_reply(status, payload)

    return respond


def shared_store(fake: FakeVectorStores, tmp_path: Path, metadata: dict[str, str] | None) -> list[str]:
    """A store named ``docs`` shared with another team; one stale and one changed file are the provider's."""
    fake.add_store("vs_shared", "docs", metadata)
    fake.add_file("vs_shared", "file-ours-stale", {"filename": "old.md", "sha256": "h0", **OWNER})
    fake.add_file("vs_shared", "file-ours-a", {"filename": "a.md", "sha256": "h1", **OWNER})
    fake.add_file("vs_shared", "file-team-b", {"filename": "old.md", "sha256": "h0"})
    fake.add_file("vs_shared", "file-given-earlier")
    (tmp_path / "a.md").write_text("a, new version")
    return [str(tmp_path / "a.md")]


def sync(hook: OpenAIFusionHook, files: list[str], **kwargs: Any) -> Any:
    operator = OpenAIManageVectorStoresOperator(task_id="t", action="sync", files=files, poll_interval=0.01, **kwargs)
    operator.hook = hook
    try:
        return operator.execute({})
    finally:
        hook.close()


def test_sync_into_a_shared_store_deletes_only_its_own_files(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    fake = FakeVectorStores()
    files = shared_store(fake, tmp_path, OWNER)
    server.script(playing(fake))
    result = sync(hook_at(server.base_url), files, name="docs")

    assert fake.touched("file-team-b") == fake.touched("file-given-earlier") == []
    assert set(fake.files) >= {"file-team-b", "file-given-earlier"}
    assert sorted(call for call in fake.calls if call.startswith("DELETE")) == [
        "DELETE files/file-ours-a",
        "DELETE files/file-ours-stale",
        "DELETE vector_stores/vs_shared/files/file-ours-a",
        "DELETE vector_stores/vs_shared/files/file-ours-stale",
    ]
    assert server.attempts == len(fake.calls) == 9
    assert [item["file_id"] for item in result["unmanaged"]] == ["file-team-b", "file-given-earlier"]
    assert [item["replaced_file_id"] for item in result["changed"]] == ["file-ours-a"]


def test_sync_refuses_a_store_found_by_name_that_it_did_not_create(
    server: FaultServer, hook_at: Callable[..., OpenAIFusionHook], tmp_path: Path
) -> None:
    fake = FakeVectorStores()
    files = shared_store(fake, tmp_path, {"owner": "search-team"})
    server.script(playing(fake))
    with pytest.raises(InvalidArgumentError, match="vector store vs_shared named 'docs' was not created") as info:
        sync(hook_at(server.base_url), files, name="docs")
    assert info.value.argument == "name"
    assert [f"{r.method} {r.target}" for r in server.requests] == ["GET /v1/vector_stores?limit=100"]


def test_the_reliability_page_lists_every_ownership_case() -> None:
    """docs/reliability.md has a row for each case tested here, in the reliability matrix section."""
    page = (ROOT / "docs" / "reliability.md").read_text()
    section = page.split("## Reliability matrix", 1)[1].split("\n## ", 1)[0]
    assert [row for row in ROWS if f"| {row} |" not in section] == []
