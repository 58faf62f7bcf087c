"""
Following list pages (``has_more`` and the ``after`` cursor), with a check that the cursor moves and a cap.

The cap counts pages taken, which grows by one with every answer whatever the server sends, so it bounds the
listing even if the cursor check were ever wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from airflow_provider_openai_fusion._http.request import RequestSpec
from airflow_provider_openai_fusion.exceptions import APIResponseValidationError

MAX_PAGES = 1000


@dataclasses.dataclass
class Pages:
    """
    The state of one listing: the items so far, the pages taken and the cursors already followed.

    :param spec: the first page's call.
    :param limit: stop after this many items; ``None`` for all.
    :param max_pages: the most pages followed before the listing fails.
    """

    spec: RequestSpec
    limit: int | None = None
    max_pages: int = MAX_PAGES
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cursors: set[str] = dataclasses.field(default_factory=set)
    pages: int = 0

    def add(self, page: Any) -> RequestSpec | None:
        """
        Take one page; return the request for the next one, or ``None`` when the listing is complete.

        A page that repeats a cursor already followed, or the page cap, ends the listing with an error instead
        of a loop.

        :param page: a list answer (``data``, ``has_more``, optionally ``last_id``).
        """
        self.pages += 1
        if not isinstance(page, Mapping):
            raise APIResponseValidationError(f"the answer to {self.spec.label} is not a list page (a JSON object)")
        data = page.get("data")
        data = data if isinstance(data, list) else []
        self.items += data
        if not page.get("has_more") or not data or (self.limit is not None and len(self.items) >= self.limit):
            return None
        last = data[-1] if isinstance(data[-1], Mapping) else {}
        cursor = page.get("last_id") or last.get("id")
        if not cursor:
            return None
        cursor = str(cursor)
        if cursor in self.cursors:
            raise APIResponseValidationError(
                f"the server repeated the page cursor {cursor[:64]!r} of {self.spec.label}; stopped after "
                f"{self.pages} pages instead of looping"
            )
        if self.pages >= self.max_pages:
            raise APIResponseValidationError(
                f"{self.spec.label} still had more after {self.max_pages} pages; stopped (pass a limit)"
            )
        self.cursors.add(cursor)
        return dataclasses.replace(self.spec, params={**(self.spec.params or {}), "after": cursor})

    def result(self) -> list[dict[str, Any]]:
        """The items collected, at most ``limit`` of them."""
        return self.items[: self.limit] if self.limit is not None else self.items
