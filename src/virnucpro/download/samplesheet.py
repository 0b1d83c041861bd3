"""The labelled samplesheet of the downloaded files, as ``--mode compare`` and
``--mode train`` take it: ``sample,sequences,label``.

``sample`` is the file name without ``.genomic.gbff.gz`` (``viral.1``,
``bacteria.123``); ``sequences`` is the file's path relative to the samplesheet's
folder (just the name beside the downloads), or absolute where the samplesheet
is kept elsewhere (a pipeline task's folder).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.names import check_name

COLUMNS = ("sample", "sequences", "label")
#: Its file name in the download folder, unless another path is given
SAMPLESHEET = "samplesheet.csv"
_SUFFIXES = (".gz", ".gbff", ".genomic")


@dataclass(frozen=True)
class Sample:
    """One downloaded file and its label (viral or host)."""

    path: Path
    label: str


def sample_name(file_name: str) -> str:
    """``viral.1`` for ``viral.1.genomic.gbff.gz``; refused if not a safe sample name."""
    name = file_name
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return check_name(name, f"sample name of {file_name}:")


def sequences_path(path: Path, samplesheet: Path, absolute: bool = False) -> str:
    """How the samplesheet names ``path``: relative to its folder, or absolute (symbolic
    links resolved, so that a pipeline task's staged folder reads as the real one)."""
    if absolute:
        return str(path.resolve())
    return os.path.relpath(os.path.abspath(path), os.path.abspath(samplesheet.parent))


def write_samplesheet(
    samples: Sequence[Sample],
    path: Path,
    absolute: bool = False,
    outputs: AtomicOutputs | None = None,
) -> None:
    """Write the samplesheet atomically (with the other ``outputs`` of a run, if given)."""
    names = [sample_name(sample.path.name) for sample in samples]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise InputError(f"two files give the same sample name: {', '.join(twice)}")
    if outputs is None:
        with AtomicOutputs() as own:
            write_samplesheet(samples, path, absolute, own)
        return
    writer = csv.writer(outputs.open(path), lineterminator="\n")
    writer.writerow(COLUMNS)
    for name, sample in zip(names, samples, strict=True):
        writer.writerow([name, sequences_path(sample.path, path, absolute), sample.label])
