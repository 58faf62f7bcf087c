"""
Find the models the provider's operators name in DAG files, by reading them with ``ast`` (never importing them).

Found: the ``model`` and ``text_model`` arguments of the provider's operators (also in ``.partial(...)``), any
``"model"`` key of a dict literal inside their arguments (batch request bodies, ``advanced``), and ``model`` /
``text_model`` in a ``default_args`` dict literal. A string with ``{{`` is listed as templated; a name bound to a
string at module level is followed; anything else is listed as dynamic.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_openai_fusion.areas import AREAS

OPERATORS = frozenset(name for area in AREAS for name in area.operators)
MODEL_ARGUMENTS = ("model", "text_model")


@dataclass(frozen=True)
class ModelUse:
    """
    One model named in a DAG file.

    :param model: the model id (or the template, or the expression, as written).
    :param kind: ``literal``, ``templated`` or ``dynamic``.
    :param path: the DAG file.
    :param line: the line number.
    :param where: the operator and argument, e.g. ``OpenAIChatCompletionOperator(model=)`` or ``default_args``.
    """

    model: str
    kind: str
    path: Path
    line: int
    where: str


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
    return found


def _value(node: ast.expr, constants: dict[str, str]) -> tuple[str, str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.Name) and node.id in constants:
        text = constants[node.id]
    elif isinstance(node, ast.Constant) and node.value is None:
        return "", "none"
    else:
        return ast.unparse(node), "dynamic"
    return text, "templated" if "{{" in text or "{%" in text else "literal"


def _operator_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "partial":
        func = func.value
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name if name in OPERATORS else None


def _dict_models(node: ast.AST) -> Iterator[tuple[ast.expr, str]]:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Dict):
            for key, value in zip(inner.keys, inner.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in MODEL_ARGUMENTS:
                    yield value, str(key.value)


def uses_in(path: Path) -> list[ModelUse]:
    """
    The model uses of one DAG file (the file is parsed, not run).

    :param path: a Python file.
    :raises SyntaxError: when the file is not valid Python.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants = _constants(tree)
    found: list[ModelUse] = []

    def add(node: ast.expr, where: str) -> None:
        model, kind = _value(node, constants)
        if kind != "none":
            found.append(ModelUse(model, kind, path, node.lineno, where))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            operator = _operator_name(node)
            for keyword in node.keywords:
                if keyword.arg == "default_args":
                    for value, key in _dict_models(keyword.value):
                        add(value, f"default_args[{key!r}]")
                elif operator and keyword.arg in MODEL_ARGUMENTS:
                    add(keyword.value, f"{operator}({keyword.arg}=)")
                elif operator and keyword.arg:
                    for value, key in _dict_models(keyword.value):
                        add(value, f"{operator}({keyword.arg}=...{key!r})")
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "default_args" for target in node.targets
        ):
            for value, key in _dict_models(node.value):
                add(value, f"default_args[{key!r}]")
    return sorted(set(found), key=lambda use: (use.line, use.where))


def scan(folder: Path) -> tuple[list[ModelUse], list[str]]:
    """
    Every model use in the ``.py`` files under ``folder`` (recursively), and a note per file that cannot be parsed.

    :param folder: the DAGs folder (or one file).
    """
    files = [folder] if folder.is_file() else sorted(folder.rglob("*.py"))
    uses: list[ModelUse] = []
    notes: list[str] = []
    for path in files:
        try:
            uses += uses_in(path)
        except (SyntaxError, UnicodeDecodeError, ValueError) as error:
            notes.append(f"{path}: not read ({type(error).__name__}: {error})")
    return uses, notes
