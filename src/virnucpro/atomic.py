"""All-or-nothing output files: a step's outputs appear together, or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TextIO


class AtomicOutputs:
    """Opens outputs under temporary names and renames them into place only on success.

    A step that fails half-way (bad record, disk full, killed) must not leave a
    truncated file that a resumed run or a later step would take as finished.
    """

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path, TextIO]] = []

    def open(self, path: str | os.PathLike[str]) -> TextIO:
        """A text handle that writes to ``path`` once the ``with`` block succeeds."""
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.partial")
        handle = temporary.open("w", encoding="ascii", newline="\n")
        self._files.append((final, temporary, handle))
        return handle

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for _, _, handle in self._files:
            handle.close()
        for final, temporary, _ in self._files:
            if exc_type is None:
                os.replace(temporary, final)
            else:
                temporary.unlink(missing_ok=True)
