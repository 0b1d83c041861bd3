"""``manifest.tsv``: what the download folder holds, so that a rerun trusts nothing else.

One row per file: where it came from, its label and category, its size and
SHA-256 (computed from the checked bytes), what this run did with it
(``downloaded``, ``present``: already there with that size and SHA-256, or
``unused``: kept from an earlier choice, not in the samplesheet), for host
files how many files its category listed and how many were asked for, and the
RefSeq release it was downloaded from (``unknown`` where the release folder had
no ``RELEASE_NUMBER``, and in a manifest written before the column existed). A
file whose size or SHA-256 differs from its row, or whose row names another
release than today's, is downloaded again.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import MANIFEST
from virnucpro.files.tables import read_table

#: Status of a file: fetched by this run, found complete, or kept from an earlier choice
DOWNLOADED, PRESENT, UNUSED = "downloaded", "present", "unused"
#: The listed and asked columns of a file that was not drawn from a listing (viral)
NOT_DRAWN = "n/a"
#: The release of a file downloaded where the release folder had no RELEASE_NUMBER
UNKNOWN_RELEASE = "unknown"


@dataclass(frozen=True)
class ManifestRow:
    """One file of the download folder (``listed``, ``asked``: ``n/a`` for viral files;
    ``release``: the RefSeq release the file came from)."""

    file: str
    url: str
    label: str
    category: str
    bytes: int
    sha256: str
    status: str
    listed: str = NOT_DRAWN
    asked: str = NOT_DRAWN
    release: str = UNKNOWN_RELEASE


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """The rows of an earlier run by file name; none when there is no manifest yet."""
    if not path.is_file():
        return {}
    rows = {}
    for row in read_table(path, MANIFEST):
        try:
            size = int(row["bytes"])
        except (TypeError, ValueError):
            raise InputError(
                f"{path}: not a download manifest (bytes {row['bytes']!r} of {row['file']!r} "
                "is not a number); delete it to check every file again"
            ) from None
        values = {column: row.get(column) or "" for column in MANIFEST.columns}
        release = values["release"] or UNKNOWN_RELEASE  # a manifest older than the column
        rows[row["file"]] = ManifestRow(**{**values, "bytes": size, "release": release})
    return rows


def write_manifest(
    rows: Iterable[ManifestRow], path: Path, outputs: AtomicOutputs | None = None
) -> None:
    """Write the manifest atomically (with the other ``outputs`` of a run, if given)."""
    if outputs is None:
        with AtomicOutputs() as own:
            write_manifest(rows, path, own)
        return
    writer = csv.writer(outputs.open(path), delimiter="\t", lineterminator="\n")
    writer.writerow(MANIFEST.columns)
    writer.writerows([str(value) for value in astuple(row)] for row in rows)
