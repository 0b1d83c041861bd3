"""Balancing the classes and splitting frames into train / validation / test.

Splitting by cluster (the default) keeps every cluster of similar genomes
(virnucpro.preprocess.sketches: strains of one species, a phage and the host genome that
carries it as a prophage) inside one split, so a test score never rewards
memorising a genome, or its near-copy, seen in training. A cluster may hold
viral and host genomes; it still goes whole to one split. The same inputs and
seed always give the same split.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CLUSTERS, SOURCES, SPLIT_LIST, SPLIT_SUMMARY
from virnucpro.files.tables import read_table
from virnucpro.files.unique_ids import UniqueIds
from virnucpro.preprocess.settings import DEFAULT_THRESHOLD, GroupBy
from virnucpro.preprocess.sketches import check_threshold, cluster_genomes, read_sketch_files

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
UNUSED = "unused"


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
    labels: dict[str, int] = {}
    for path in paths:
        rows = read_table(path, SOURCES)
        for line, row in enumerate(rows, start=2):
            if row["label"] not in ("0", "1"):
                raise InputError(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}")
            ids.add(row["frame_id"])
            if labels.setdefault(row["genome"], int(row["label"])) != int(row["label"]):
                raise InputError(
                    f"{path}:{line}: genome '{row['genome']}' has both viral and host frames"
                )
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


def genome_clusters(
    frames: Sequence[SourcedFrame],
    sketch_paths: Sequence[str | os.PathLike[str]],
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, int]:
    """Genome -> cluster number (1, 2, ... in the order genomes first appear).

    Clusters come from the sketches (every genome of ``frames`` must have one);
    without sketch files every genome is a cluster of its own.
    """
    genomes = list(dict.fromkeys(frame.genome for frame in frames))
    if not sketch_paths:
        return {genome: number for number, genome in enumerate(genomes, start=1)}
    clusters = cluster_genomes(genomes, read_sketch_files(sketch_paths), threshold)
    return {
        genome: number for number, members in enumerate(clusters, start=1) for genome in members
    }


def _group_key(frame: SourcedFrame, group_by: GroupBy, clusters: Mapping[str, int]) -> object:
    """What keeps frames together: their cluster, their genome, or nothing (the frame itself)."""
    if group_by is GroupBy.cluster:
        return clusters[frame.genome]
    return frame.genome if group_by is GroupBy.genome else frame.frame_id


def _deficit(
    split: str,
    held: Counter[int],
    totals: Counter[int],
    filled: Mapping[str, Counter[int]],
    fractions: Mapping[str, float],
) -> float:
    """How far ``split`` is below its targets for the classes of a group: each class's
    deficit as a share of its frames, weighted by the group's frames of that class."""
    return sum(
        count / totals[label] * (fractions[split] * totals[label] - filled[split][label])
        for label, count in held.items()
    )


def assign_splits(
    frames: Sequence[SourcedFrame],
    test_fraction: float,
    val_fraction: float,
    group_by: GroupBy,
    rng: np.random.Generator,
    clusters: Mapping[str, int],
) -> dict[str, str]:
    """Map each frame id to a split, keeping groups whole.

    Groups (clusters of genomes, genomes or frames) are visited largest first
    (random order among equals) and each goes to the split furthest below its
    targets (``_deficit``). A group of one class goes where that class is
    furthest below its target size, which keeps the sizes close to the fractions
    even when genomes differ a lot in size; a cluster that holds both classes (a
    phage and its host) goes whole to the split that needs its mix most.
    """
    check_fractions(test_fraction, val_fraction)
    fractions = {
        "train": 1 - test_fraction - val_fraction,
        "validation": val_fraction,
        "test": test_fraction,
    }
    groups: dict[object, list[SourcedFrame]] = defaultdict(list)
    for frame in frames:
        groups[_group_key(frame, group_by, clusters)].append(frame)
    names = list(groups)
    keys = [names[index] for index in rng.permutation(len(names))]
    keys.sort(key=lambda key: -len(groups[key]))
    totals = Counter(frame.label for frame in frames)
    filled: dict[str, Counter[int]] = {name: Counter() for name in SPLITS}
    assignment: dict[str, str] = {}
    for key in keys:
        held = Counter(frame.label for frame in groups[key])
        split = max(
            SPLITS, key=lambda name, held=held: _deficit(name, held, totals, filled, fractions)
        )
        filled[split].update(held)
        assignment.update((frame.frame_id, split) for frame in groups[key])
    return assignment


def _write_clusters(
    table: TextIO,
    frames: Sequence[SourcedFrame],
    assignment: Mapping[str, str],
    clusters: Mapping[str, int],
) -> None:
    """One row per genome: its cluster, label, and the split its frames went to.

    ``frames`` counts the genome's frames in that split; a genome whose frames
    were all left out by balancing is listed as ``unused`` with those frames.
    Split by frame (``--group-by none``), a genome's splits are comma-separated.
    """
    by_genome: dict[str, list[SourcedFrame]] = defaultdict(list)
    for frame in frames:
        by_genome[frame.genome].append(frame)
    table.write(CLUSTERS.header)
    for genome in sorted(by_genome, key=lambda genome: clusters[genome]):
        members = by_genome[genome]
        used = [frame for frame in members if frame.frame_id in assignment]
        held = {assignment[frame.frame_id] for frame in used}
        split = ",".join(name for name in SPLITS if name in held) or UNUSED
        table.write(
            f"{clusters[genome]}\t{genome}\t{members[0].label}\t{len(used) or len(members)}\t{split}\n"
        )


def _log_clusters(
    frames: Sequence[SourcedFrame], assignment: Mapping[str, str], clusters: Mapping[str, int]
) -> None:
    """How many clusters, how many hold several genomes or both classes, the largest, and
    how many span two splits (none when split by cluster)."""
    genomes: dict[int, dict[str, None]] = defaultdict(dict)
    labels: dict[int, set[int]] = defaultdict(set)
    splits: dict[int, set[str]] = defaultdict(set)
    for frame in frames:
        number = clusters[frame.genome]
        genomes[number][frame.genome] = None
        labels[number].add(frame.label)
        if frame.frame_id in assignment:
            splits[number].add(assignment[frame.frame_id])
    largest = max(genomes, key=lambda number: (len(genomes[number]), -number))
    names = list(genomes[largest])
    log.info(
        "%d clusters of %d genomes: %d hold more than one genome, %d both viral and host, "
        "%d span more than one split; the largest, cluster %d, holds %d genomes (%s)",
        len(genomes),
        len(clusters),
        sum(len(members) > 1 for members in genomes.values()),
        sum(len(held) > 1 for held in labels.values()),
        sum(len(held) > 1 for held in splits.values()),
        largest,
        len(names),
        ", ".join(names[:5]) + (", ..." if len(names) > 5 else ""),
    )


def split_dataset(
    sources_paths: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    seed: int,
    test_fraction: float,
    val_fraction: float,
    group_by: GroupBy,
    balance_classes: bool = True,
    sketch_paths: Sequence[str | os.PathLike[str]] = (),
    cluster_threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, list[SourcedFrame]]:
    """Balance, split and write ``train.tsv``, ``validation.tsv``, ``test.tsv``,
    ``summary.tsv`` and ``clusters.tsv``.

    Grouping by cluster needs the sketch files of every sources table; with
    another grouping, sketches given still make the clusters of ``clusters.tsv``
    (to see which clusters span splits), and without them each genome is its own.
    """
    check_fractions(test_fraction, val_fraction)
    check_threshold(cluster_threshold)
    if group_by is GroupBy.cluster and not sketch_paths:
        raise InputError(
            "--group-by cluster needs the sketches of the genomes (--sketches, one file per "
            "sources table, written by build_training_set.py)"
        )
    frames = read_sources(sources_paths)
    if not frames:
        raise InputError("the sources tables hold no frames")
    clusters = genome_clusters(frames, sketch_paths, cluster_threshold)
    rng = np.random.default_rng(seed)
    used = balance(frames, rng) if balance_classes else frames
    assignment = assign_splits(used, test_fraction, val_fraction, group_by, rng, clusters)
    splits = {
        name: [frame for frame in used if assignment[frame.frame_id] == name] for name in SPLITS
    }
    unused = [frame for frame in frames if frame.frame_id not in assignment]
    wanted = {"train": True, "validation": val_fraction > 0, "test": test_fraction > 0}
    out = Path(output_dir)
    with AtomicOutputs() as outputs:
        for name, members in splits.items():
            table = outputs.open(out / f"{name}.tsv")
            table.write(SPLIT_LIST.header)
            for frame in members:
                table.write(f"{frame.frame_id}\t{frame.genome}\t{frame.label}\t{frame.source}\n")
        summary = outputs.open(out / "summary.tsv")
        summary.write(SPLIT_SUMMARY.header)
        for name, members in (*splits.items(), (UNUSED, unused)):
            for label in (1, 0):
                of_label = [frame for frame in members if frame.label == label]
                genomes = {frame.genome for frame in of_label}
                groups = len({clusters[genome] for genome in genomes})
                summary.write(f"{name}\t{label}\t{len(of_label)}\t{len(genomes)}\t{groups}\n")
                if wanted.get(name) and not of_label:
                    log.warning("the %s split has no %s frames", name, "viral" if label else "host")
        _write_clusters(outputs.open(out / "clusters.tsv"), frames, assignment, clusters)
    _log_clusters(frames, assignment, clusters)
    log.info(
        "split %d frames (%d left out by balancing) into %s with seed %d, grouped by %s",
        len(used),
        len(unused),
        ", ".join(f"{name} {len(members)}" for name, members in splits.items()),
        seed,
        group_by.value,
    )
    return splits
