"""Reading the TSV tables the steps hand to each other, with their header checked."""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Iterator, Sequence

from virnucpro.errors import InputError
from virnucpro.files.sequence_files import open_text


def read_table(
    path: str | os.PathLike[str], columns: Sequence[str], what: str
) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated table whose header must hold ``columns``."""
    with open_text(path) as handle:
        try:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = [column for column in columns if column not in (reader.fieldnames or ())]
            if missing:
                raise InputError(
                    f"{path}: not {what} (no {', '.join(missing)} column in the header)"
                )
            yield from reader
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{path}: cannot read {what}: {error}") from None
