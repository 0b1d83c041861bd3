"""All-or-nothing output files: a step's outputs appear together, or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TextIO


def _file_mode() -> int:
    """Mode for new files under the current umask (temporary files may be created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicOutputs:
    """Opens outputs under temporary names and renames them into place only on success.

    A step that fails half-way (bad record, disk full, killed) must not leave a
    truncated file that a resumed run or a later step would take as finished.
    """

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path]] = []
        self._handles: list[TextIO] = []

    def open(self, path: str | os.PathLike[str]) -> TextIO:
        """A text handle that writes to ``path`` once the ``with`` block succeeds."""
        temporary = self.reserve(path)
        handle = temporary.open("w", encoding="utf-8", newline="\n")
        self._handles.append(handle)
        return handle

    def reserve(self, path: str | os.PathLike[str]) -> Path:
        """A temporary file name for writers that take a path; renamed to ``path`` on success."""
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.partial")
        self._files.append((final, temporary))
        return temporary

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.close()
        for final, temporary in self._files:
            if exc_type is None:
                os.chmod(temporary, _file_mode())
                os.replace(temporary, final)
            else:
                temporary.unlink(missing_ok=True)
