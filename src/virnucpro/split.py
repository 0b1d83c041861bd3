"""Balancing the classes and splitting frames into train / validation / test.

Splitting by genome (the default) keeps every genome inside one split, so a
test score never rewards memorising a genome seen in training. The same inputs
and seed always give the same split.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from virnucpro.atomic import AtomicOutputs
from virnucpro.errors import InputError
from virnucpro.tables import read_table
from virnucpro.training_set import SOURCES_HEADER
from virnucpro.unique_ids import UniqueIds

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
UNUSED = "unused"


class GroupBy(str, Enum):
    """What must not be shared between splits."""

    genome = "genome"
    none = "none"


@dataclass(frozen=True)
class SourcedFrame:
    """One training frame: its id, genome, class (1 = virus) and input file."""

    frame_id: str
    genome: str
    label: int
    source: str


def read_sources(paths: Iterable[str | os.PathLike[str]]) -> list[SourcedFrame]:
    """Read the sources tables written by the training-set step, in order."""
    frames: list[SourcedFrame] = []
    ids = UniqueIds("duplicate frame id across the sources tables:")
    for path in paths:
        rows = read_table(path, SOURCES_HEADER, "a sources table")
        for line, row in enumerate(rows, start=2):
            if row["label"] not in ("0", "1"):
                raise InputError(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}")
            ids.add(row["frame_id"])
            frames.append(
                SourcedFrame(row["frame_id"], row["genome"], int(row["label"]), row["source"])
            )
    ids.close()
    return frames


def _proportional_sample(
    frames: Sequence[SourcedFrame], size: int, rng: np.random.Generator
) -> list[SourcedFrame]:
    """``size`` frames drawn from each source in proportion to its share (largest remainder)."""
    by_source: dict[str, list[SourcedFrame]] = defaultdict(list)
    for frame in frames:
        by_source[frame.source].append(frame)
    shares = np.array([len(group) for group in by_source.values()]) * size / len(frames)
    quotas = np.floor(shares).astype(int)
    remainders = np.argsort(-(shares - quotas), kind="stable")
    quotas[remainders[: size - quotas.sum()]] += 1
    chosen: list[SourcedFrame] = []
    for group, quota in zip(by_source.values(), quotas, strict=True):
        picks = np.sort(rng.choice(len(group), size=quota, replace=False))
        chosen.extend(group[pick] for pick in picks)
    return chosen


def balance(frames: Sequence[SourcedFrame], rng: np.random.Generator) -> list[SourcedFrame]:
    """Down-sample the larger class to the size of the smaller, in input order."""
    by_label = {label: [frame for frame in frames if frame.label == label] for label in (1, 0)}
    for label, name in ((1, "viral"), (0, "host")):
        if not by_label[label]:
            raise InputError(f"no {name} frames in the inputs: balancing needs both classes")
    size = min(len(members) for members in by_label.values())
    kept = set()
    for label, members in by_label.items():
        sample = members if len(members) == size else _proportional_sample(members, size, rng)
        kept.update(frame.frame_id for frame in sample)
        log.info(
            "balance: kept %d of %d %s frames", size, len(members), "viral" if label else "host"
        )
    return [frame for frame in frames if frame.frame_id in kept]


def check_fractions(test_fraction: float, val_fraction: float) -> None:
    """Refuse fractions that leave no training data."""
    for name, value in (("test", test_fraction), ("validation", val_fraction)):
        if not 0 <= value < 1:
            raise InputError(f"{name} fraction must be in [0, 1), got {value}")
    if test_fraction + val_fraction >= 1:
        raise InputError(
            f"test + validation fractions must leave frames for training, "
            f"got {test_fraction} + {val_fraction}"
        )


def assign_splits(
    frames: Sequence[SourcedFrame],
    test_fraction: float,
    val_fraction: float,
    group_by: GroupBy,
    rng: np.random.Generator,
) -> dict[str, str]:
    """Map each frame id to a split, class by class, keeping groups whole.

    Groups are visited largest first (random order among equals) and each goes
    to the split that is furthest below its target size, which keeps the sizes
    close to the fractions even when genomes differ a lot in size.
    """
    check_fractions(test_fraction, val_fraction)
    fractions = {
        "train": 1 - test_fraction - val_fraction,
        "validation": val_fraction,
        "test": test_fraction,
    }
    assignment: dict[str, str] = {}
    for label in (1, 0):
        groups: dict[str, list[SourcedFrame]] = defaultdict(list)
        for frame in frames:
            if frame.label == label:
                groups[frame.genome if group_by is GroupBy.genome else frame.frame_id].append(frame)
        keys = [list(groups)[index] for index in rng.permutation(len(groups))]
        keys.sort(key=lambda key: -len(groups[key]))
        total = sum(len(group) for group in groups.values())
        filled = dict.fromkeys(SPLITS, 0)
        for key in keys:
            split = max(SPLITS, key=lambda name: fractions[name] * total - filled[name])
            filled[split] += len(groups[key])
            assignment.update((frame.frame_id, split) for frame in groups[key])
    return assignment


def split_dataset(
    sources_paths: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    seed: int,
    test_fraction: float,
    val_fraction: float,
    group_by: GroupBy,
    balance_classes: bool = True,
) -> dict[str, list[SourcedFrame]]:
    """Balance, split and write ``train.tsv``, ``validation.tsv``, ``test.tsv`` and ``summary.tsv``."""
    check_fractions(test_fraction, val_fraction)
    frames = read_sources(sources_paths)
    if not frames:
        raise InputError("the sources tables hold no frames")
    rng = np.random.default_rng(seed)
    used = balance(frames, rng) if balance_classes else frames
    assignment = assign_splits(used, test_fraction, val_fraction, group_by, rng)
    splits = {
        name: [frame for frame in used if assignment[frame.frame_id] == name] for name in SPLITS
    }
    unused = [frame for frame in frames if frame.frame_id not in assignment]
    wanted = {"train": True, "validation": val_fraction > 0, "test": test_fraction > 0}
    out = Path(output_dir)
    with AtomicOutputs() as outputs:
        for name, members in splits.items():
            table = outputs.open(out / f"{name}.tsv")
            table.write("\t".join(SOURCES_HEADER) + "\n")
            for frame in members:
                table.write(f"{frame.frame_id}\t{frame.genome}\t{frame.label}\t{frame.source}\n")
        summary = outputs.open(out / "summary.tsv")
        summary.write("split\tlabel\tframes\tgenomes\n")
        for name, members in (*splits.items(), (UNUSED, unused)):
            for label in (1, 0):
                of_label = [frame for frame in members if frame.label == label]
                genomes = len({frame.genome for frame in of_label})
                summary.write(f"{name}\t{label}\t{len(of_label)}\t{genomes}\n")
                if wanted.get(name) and not of_label:
                    log.warning("the %s split has no %s frames", name, "viral" if label else "host")
    log.info(
        "split %d frames (%d left out by balancing) into %s with seed %d, grouped by %s",
        len(used),
        len(unused),
        ", ".join(f"{name} {len(members)}" for name, members in splits.items()),
        seed,
        group_by.value,
    )
    return splits
