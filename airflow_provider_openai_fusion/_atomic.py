"""The one atomic file writer: a file written under a temporary name beside its target, renamed when complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class AtomicFile:
    """
    A file written under a temporary name beside ``path`` and renamed onto it only when complete, so a failed
    write never leaves a half-written file where the finished one belongs (and an older file there stays intact).

    :param path: the file to write; its folder is created.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        self.path = path
        self.temp = Path(name)
        self.handle = os.fdopen(fd, "wb")

    def commit(self) -> Path:
        """Close the file and rename it onto its target; return the target."""
        self.handle.close()
        os.replace(self.temp, self.path)
        return self.path

    def discard(self) -> None:
        """Close the file and remove it; the target is untouched."""
        self.handle.close()
        self.temp.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> Path:
    """
    Write ``data`` to ``path`` through an :class:`AtomicFile`.

    :param path: the local file to write.
    :param data: the content.
    """
    target = AtomicFile(path)
    try:
        target.handle.write(data)
    except BaseException:
        target.discard()
        raise
    return target.commit()
