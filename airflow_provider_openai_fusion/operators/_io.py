"""
The paths operators read from and write to: local paths, or Airflow ``ObjectStoragePath`` URIs.

A value with ``://`` (``s3://...``, ``file:///...``) is an ``ObjectStoragePath``: an input is first copied to a
local temporary file (streamed), an output is written locally first and then copied (streamed) to its place.
Local outputs are written under a temporary name beside the target and renamed when complete, so a failed
run never leaves a half-written file where the finished one belongs.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_provider_openai_fusion._atomic import write_atomically
from airflow_provider_openai_fusion.exceptions import InvalidArgumentError

MB = 1024 * 1024
COPY_CHUNK = 1 << 20


def is_uri(value: str) -> bool:
    """Whether ``value`` names an ``ObjectStoragePath`` (it has a scheme) rather than a local path."""
    return "://" in value


def _object_path(value: str) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(value)


def path_text(argument: str, value: Any) -> str:
    """
    Check that ``value`` is a non-empty path (text or path object) and return it as text.

    :param argument: the argument's name, for the error.
    :param value: the value given.
    """
    if isinstance(value, os.PathLike):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(argument, f"must be a local path or an ObjectStoragePath URI, got {value!r}")
    return value.strip()


@contextmanager
def local_input(argument: str, value: Any) -> Iterator[Path]:
    """
    Yield a local, existing, regular file for ``value``; a URI is copied to a temporary file first.

    :param argument: the argument's name, for the error.
    :param value: a local path or an ``ObjectStoragePath`` URI.
    """
    text = path_text(argument, value)
    if not is_uri(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise InvalidArgumentError(argument, f"no such file: {text}")
        yield path
        return
    source = _object_path(text)
    if not source.is_file():
        raise InvalidArgumentError(argument, f"no such file: {text}")
    with tempfile.TemporaryDirectory(prefix="openai-fusion-in-") as folder:
        local = Path(folder) / (source.name or "input")
        with source.open("rb") as reader, local.open("wb") as writer:
            shutil.copyfileobj(reader, writer, COPY_CHUNK)
        yield local


def check_file(argument: str, path: Path, *, max_bytes: int, suffixes: Sequence[str] | None = None) -> int:
    """
    Check a local input file's size (and extension) against an endpoint's limits; return its size.

    :param argument: the argument's name, for the error.
    :param path: the local file.
    :param max_bytes: the endpoint's limit.
    :param suffixes: accepted extensions without the dot (lower case), or ``None`` for any.
    """
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            argument, f"the file name {path.name!r} is not valid UTF-8; rename the file"
        ) from None
    size = path.stat().st_size
    if size == 0:
        raise InvalidArgumentError(argument, f"{path.name} is empty")
    if size > max_bytes:
        raise InvalidArgumentError(
            argument, f"{path.name} is {size / MB:.1f} MB; this endpoint accepts at most {max_bytes / MB:g} MB"
        )
    if suffixes is not None and path.suffix.lower().lstrip(".") not in suffixes:
        raise InvalidArgumentError(argument, f"{path.name} has an unsupported format; accepted: {', '.join(suffixes)}")
    return size


def check_output(argument: str, value: Any, *, folder: bool = False, names: Sequence[str] = ()) -> None:
    """
    Check, before any (paid) request, that an output can be written where ``value`` says: a local file path must
    not be a folder (a folder must not be a file, and the ``names`` it will hold must not be folders), and the
    nearest existing folder on the way must be writable. URIs are checked when written.

    :param argument: the argument's name, for the error.
    :param value: a local path or an ``ObjectStoragePath`` URI.
    :param folder: whether ``value`` is a folder to write files into.
    :param names: file names that will be written into the folder.
    """
    text = path_text(argument, value)
    if is_uri(text):
        return
    path = Path(text).expanduser()
    if folder and path.exists() and not path.is_dir():
        raise InvalidArgumentError(argument, f"{text} is a file; give a folder to write into")
    if not folder and path.is_dir():
        raise InvalidArgumentError(argument, f"{text} is a folder; give the path of the file to write")
    if clash := next((name for name in names if (path / name).is_dir()), None):
        raise InvalidArgumentError(argument, f"{path / clash} is a folder, where a file must be written")
    existing = path if folder else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidArgumentError(argument, f"{existing} is a file, so {text} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidArgumentError(argument, f"{existing} is not writable, so {text} cannot be written")


def write_output(argument: str, value: Any, write: Callable[[Path], Path]) -> str:
    """
    Have ``write`` produce the output at ``value`` and return where it went.

    For a local path, checked first (:func:`check_output`, so a download inside ``write`` is not paid for in
    vain), ``write`` receives that path (and writes it atomically). For a URI, ``write`` receives a path in a
    local temporary folder, whose result is then streamed to the ``ObjectStoragePath``.

    :param argument: the argument's name, for the error.
    :param value: a local path or an ``ObjectStoragePath`` URI.
    :param write: writes the file at the local path it is given and returns it.
    """
    text = path_text(argument, value)
    if not is_uri(text):
        check_output(argument, text)
        return str(write(Path(text).expanduser()))
    target = _object_path(text)
    with tempfile.TemporaryDirectory(prefix="openai-fusion-out-") as folder:
        local = write(Path(folder) / (target.name or "output"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with local.open("rb") as reader, target.open("wb") as writer:
            shutil.copyfileobj(reader, writer, COPY_CHUNK)
    return str(target)


def write_outputs(argument: str, folder: Any, files: Sequence[tuple[str, bytes]]) -> list[str]:
    """
    Write named files into a folder (local or ``ObjectStoragePath``); return their paths in order.

    :param argument: the argument's name, for the error.
    :param folder: a local folder or an ``ObjectStoragePath`` URI of a folder.
    :param files: ``(file name, content)`` pairs.
    """
    text = path_text(argument, folder)
    if not is_uri(text):
        base = Path(text).expanduser()
        if base.exists() and not base.is_dir():
            raise InvalidArgumentError(argument, f"{text} is a file; give a folder to write the images into")
        return [str(write_atomically(base / name, data)) for name, data in files]
    base_uri = text.rstrip("/")
    return [write_output(argument, f"{base_uri}/{name}", functools.partial(_write, data=data)) for name, data in files]


def _write(path: Path, data: bytes) -> Path:
    return write_atomically(path, data)
