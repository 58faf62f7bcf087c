"""
MkDocs hooks (``mkdocs.yml``: ``hooks``): the parts of the documentation site that are rendered from the code.

A page asks for a rendered part with a marker on a line of its own, ``<!-- render:NAME -->``:

- ``reference:operators``, ``reference:sensors``, ``reference:triggers``: a section per area of the AREAS table with
  a mkdocstrings block per class, so that a new area appears in the reference without touching the docs;
- ``reference:api``: a block per public module of ``api/``;
- ``models:defaults`` and ``models:retirements``: the tables of ``model_lifecycle``;
- ``areas``: the list of API areas with their operators, sensors and triggers.

An unknown marker stops the build (the hooks raise), so a typo cannot leave a page silently empty.
"""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Callable
from typing import Any

from airflow_provider_openai_fusion import api
from airflow_provider_openai_fusion.areas import AREAS
from airflow_provider_openai_fusion.defaults import DEFAULT_MODELS
from airflow_provider_openai_fusion.model_lifecycle import REVIEWED_ON, table_rows

_PACKAGE = "airflow_provider_openai_fusion"
_MARKER = re.compile(r"^<!-- render:([a-z:_]+) -->$", re.MULTILINE)


def _blocks(paths: list[str]) -> str:
    return "\n\n".join(f"::: {path}" for path in paths)


def _layer(layer: str) -> str:
    """A section per area of ``layer``, with a block per class of the area (the module's helpers are internal)."""
    sections = []
    for area in AREAS:
        names = getattr(area, layer)
        if names:
            blocks = [
                f"::: {_PACKAGE}.{layer}.{area.name}.{name}\n    options:\n      heading_level: 3" for name in names
            ]
            sections.append(f"## `{area.name}`\n\n" + "\n\n".join(blocks))
    return "\n\n".join(sections)


def _api() -> str:
    names = sorted(m.name for m in pkgutil.iter_modules(api.__path__) if not m.name.startswith("_"))
    return _blocks([f"{_PACKAGE}.api.{name}" for name in names])


def _defaults() -> str:
    rows = [f"| `{use}` | `{model}` |" for use, model in DEFAULT_MODELS.items()]
    return "\n".join(["| Use (`DEFAULT_MODELS` key) | Default |", "|---|---|", *rows])


def _retirements() -> str:
    rows = table_rows()
    lines = [
        f"The retirement table as of {REVIEWED_ON.isoformat()} (`REVIEWED_ON`), {len(rows)} models, by shutdown date:",
        "",
        "| Model | Shutdown | Replacement | Source |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{row['model']}` | {row['shutdown']} | {row['replacement'] or 'none named'} | "
        f"[copy of {row['source_date']}]({row['source']}) |"
        for row in rows
    ]
    return "\n".join(lines)


def _areas() -> str:
    lines = ["| Area | Operators | Sensors | Triggers |", "|---|---|---|---|"]
    for area in AREAS:
        cells = [", ".join(f"`{name}`" for name in names) for names in (area.operators, area.sensors, area.triggers)]
        lines.append(f"| `{area.name}` | {' | '.join(cells)} |")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[], str]] = {
    "reference:operators": lambda: _layer("operators"),
    "reference:sensors": lambda: _layer("sensors"),
    "reference:triggers": lambda: _layer("triggers"),
    "reference:api": _api,
    "models:defaults": _defaults,
    "models:retirements": _retirements,
    "areas": _areas,
}


def render(markdown: str) -> str:
    """
    Replace every ``<!-- render:NAME -->`` marker of ``markdown`` with what ``RENDERERS[NAME]`` renders.

    :param markdown: a page's Markdown.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in RENDERERS:
            raise ValueError(f"unknown render marker {name!r}; known: {', '.join(sorted(RENDERERS))}")
        return RENDERERS[name]()

    return _MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """
    MkDocs event: render the markers of a page before it is converted.

    :param markdown: the page's Markdown.
    :param kwargs: the page, config and files, unused.
    """
    return render(markdown)
