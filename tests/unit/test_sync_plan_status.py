"""
The vector-store sync plan and the status of the files already there: cases added for surviving mutants of
``plan_sync`` (scripts/mutation.sh vector_sync). A file still being processed (``in_progress``) is kept, not
uploaded again; a failed or cancelled one is replaced.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_openai_fusion.api.vector_stores import (
    HASH_ATTRIBUTE,
    NAME_ATTRIBUTE,
    OWNER,
    OWNER_KEY,
    plan_sync,
)


def _store_file(status: str) -> dict[str, Any]:
    attributes = {OWNER_KEY: OWNER, NAME_ATTRIBUTE: "a.md", HASH_ATTRIBUTE: "h1"}
    return {"id": "file-a", "status": status, "attributes": attributes}


@pytest.mark.parametrize(
    ("status", "kept"), [("completed", True), ("in_progress", True), ("failed", False), ("cancelled", False)]
)
def test_a_marked_file_with_the_same_content_is_kept_while_usable(status: str, kept: bool) -> None:
    plan = plan_sync({"a.md": "h1"}, [_store_file(status)])
    if kept:
        assert (plan.add, plan.remove, plan.unchanged) == ([], [], [("a.md", "file-a")])
    else:
        assert (plan.add, [f["id"] for f in plan.remove], plan.unchanged) == (["a.md"], ["file-a"], [])
        assert plan.replaced == {"a.md": "file-a"}
