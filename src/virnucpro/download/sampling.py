"""The original's seeded choice of host files, with its categories and counts as defaults.

download_data.py called ``random.seed(42)`` once, then, for each category in a
fixed order, ``random.sample(files, min(k, len(files)))`` on that category's
listed files. One ``random.Random(seed)`` drawn from in the same order gives the
same files for the same listings; the order of the categories is part of the
rule, since every draw moves the one random stream on.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from virnucpro.errors import InputError
from virnucpro.files.names import check_name

#: The original's seed
ORIGINAL_SEED = 42
#: The original's host categories and files per category, in its order
ORIGINAL_HOST_FILES: tuple[tuple[str, int], ...] = (
    ("bacteria", 1),
    ("archaea", 1),
    ("fungi", 1),
    ("protozoa", 1),
    ("plant", 10),
    ("invertebrate", 10),
    ("vertebrate_mammalian", 10),
    ("vertebrate_other", 10),
)
#: The original's viral training file, in the release's viral/ folder
ORIGINAL_VIRAL_FILES: tuple[str, ...] = ("viral.1.genomic.gbff.gz",)
VIRAL_CATEGORY = "viral"

T = TypeVar("T")


@dataclass(frozen=True)
class CategoryChoice:
    """What one category gave: how many files it listed, how many were asked, and
    those chosen, in the order the draw returned them."""

    category: str
    listed: int
    asked: int
    chosen: tuple


def parse_host_files(values: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """``category=count`` entries (each value may hold several, comma-separated), in the
    order given, which is the order of the draws."""
    entries: list[tuple[str, int]] = []
    for value in values:
        for entry in value.split(","):
            entry = entry.strip()
            if not entry:
                continue
            category, equals, count = entry.partition("=")
            category = category.strip()
            if not equals or not count.strip().isdigit() or int(count) < 1:
                raise InputError(
                    f"bad --host-files entry {entry!r}: expected category=count with a count "
                    "of at least 1, e.g. plant=10"
                )
            check_name(category, "host category")
            if category == VIRAL_CATEGORY:
                raise InputError(
                    "viral is not a host category: the viral files are given with --viral-files"
                )
            if any(category == seen for seen, _ in entries):
                raise InputError(f"host category {category!r} is given twice in --host-files")
            entries.append((category, int(count)))
    if not entries:
        raise InputError("--host-files names no category: give category=count, e.g. plant=10")
    return tuple(entries)


def parse_viral_files(values: Iterable[str]) -> tuple[str, ...]:
    """File names of the viral folder (each value may hold several, comma-separated), in
    the order given; an empty name is refused rather than taken as the default."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                raise InputError(
                    f"--viral-files {value!r} holds an empty file name: give file names of "
                    "the release's viral/ folder, e.g. viral.1.genomic.gbff.gz"
                )
            names.append(name)
    return tuple(names)


def choose(
    listings: Sequence[tuple[str, int, Sequence[T]]], seed: int = ORIGINAL_SEED
) -> list[CategoryChoice]:
    """For each ``(category, count, files)`` in order, ``sample(files, min(count,
    len(files)))`` from one ``random.Random(seed)``: the original's choice."""
    rng = random.Random(seed)
    return [
        CategoryChoice(
            category, len(files), count, tuple(rng.sample(files, min(count, len(files))))
        )
        for category, count, files in listings
    ]
