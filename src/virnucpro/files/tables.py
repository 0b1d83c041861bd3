"""Reading the TSV tables the steps hand to each other, with their header checked."""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Iterator

from virnucpro.errors import InputError
from virnucpro.files.contracts import Table
from virnucpro.files.sequence_files import open_text


def read_table(path: str | os.PathLike[str], table: Table) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated table whose header must hold the columns ``table`` needs."""
    with open_text(path) as handle:
        try:
            reader = csv.DictReader(handle, delimiter="\t")
            found = reader.fieldnames or ()
            missing = [column for column in table.needed if column not in found]
            if missing:
                raise InputError(
                    f"{path}: not {table.what} (no {', '.join(missing)} column in the header)"
                )
            yield from reader
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{path}: cannot read {table.what}: {error}") from None
