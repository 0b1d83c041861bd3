"""Feature rows for the frames of a split list, with their labels, in the list's order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from virnucpro.embed.merge import feature_sources
from virnucpro.errors import InputError
from virnucpro.files.contracts import SPLIT_LIST
from virnucpro.files.feature_files import Features
from virnucpro.files.tables import read_table


@dataclass
class LabelledFeatures:
    """Rows of ``matrix`` are the features of ``ids``; ``labels`` are 1 (virus) or 0."""

    ids: list[str]
    matrix: np.ndarray
    labels: np.ndarray
    source: Features  # the first feature file, for its metadata


def read_labels(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """``(frame_id, label)`` pairs of a split list (TSV with frame_id and label columns)."""
    pairs = []
    for line, row in enumerate(read_table(path, SPLIT_LIST), start=2):
        if row["label"] not in ("0", "1"):
            raise InputError(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}")
        pairs.append((row["frame_id"], int(row["label"])))
    if not pairs:
        raise InputError(f"{path}: the split list is empty")
    return pairs


def named_feature_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Features]]:
    """Each shard's merged features (merged files, or DNA and protein files joined as they
    are read) with its name for messages, which must come from one set of embedders,
    chunk size and precision."""
    if not paths:
        raise InputError("no feature files given")
    named = [(str(source), source.read()) for source in feature_sources(paths)]
    check_one_set([name for name, _ in named], [features for _, features in named])
    return named


def check_one_set(paths: Sequence[str | os.PathLike[str]], files: Sequence[Features]) -> None:
    """Refuse feature files (or their headers) of different embedders, weights, dimensions,
    chunk sizes or precisions."""
    for path, features in zip(paths, files, strict=True):
        for key in ("embedder", "weights_sha256", "dimension", "chunk_size", "precision"):
            if features.metadata[key] != files[0].metadata[key]:
                raise InputError(
                    f"{path}: {key} {features.metadata[key]} differs from "
                    f"{files[0].metadata[key]} in {paths[0]}"
                )


def check_chunk_size_claim(
    paths: Sequence[str | os.PathLike[str]], files: Sequence[Features], chunk_size: int
) -> None:
    """Refuse genome frames cut at a smaller chunk size than the features are labelled with.

    A chunk of ``chunk_size`` bases gives frames of ``chunk_size - 2`` to
    ``chunk_size`` bases, and every genome longer than a chunk has full chunks;
    an embed step refuses frames longer than its ``--chunk-size``. So frames of
    genomes whose longest is shorter were cut smaller: a classifier trained or
    tested on them at the larger size would be labelled with a size it never saw.
    """
    longest = max(int(features.metadata["dna_longest_frame"]) for features in files)
    if longest < chunk_size - 2:
        raise InputError(
            f"{', '.join(map(str, paths[:2]))}{' ...' if len(paths) > 2 else ''}: the longest DNA "
            f"frame has {longest} bases, but chunks of {chunk_size} bp (the features' chunk "
            f"size) give frames of {chunk_size - 2} bases or more: the frames were cut at a "
            "smaller chunk size; embed them with the --chunk-size they were made with"
        )


def select_labelled(
    files: Sequence[Features], labels_path: str | os.PathLike[str]
) -> LabelledFeatures:
    """The rows of the frames listed in ``labels_path``, in its order, with their labels."""
    pairs = read_labels(labels_path)
    wanted = {frame_id: index for index, (frame_id, _) in enumerate(pairs)}
    if len(wanted) != len(pairs):
        raise InputError(f"{labels_path}: a frame id is listed twice")
    matrix = np.zeros((len(pairs), files[0].dimension), dtype=np.float32)
    found = np.zeros(len(pairs), dtype=bool)
    for features in files:
        for row, frame_id in enumerate(features.ids):
            index = wanted.get(frame_id)
            if index is None:
                continue
            if found[index]:
                raise InputError(f"frame '{frame_id}' is in two feature files")
            matrix[index] = features.matrix[row]
            found[index] = True
    if not found.all():
        missing = [pairs[i][0] for i in np.flatnonzero(~found)[:3]]
        raise InputError(
            f"{int((~found).sum())} frames of {labels_path} are in no feature file (e.g. {', '.join(missing)})"
        )
    labels = np.array([label for _, label in pairs], dtype=np.int64)
    return LabelledFeatures([frame_id for frame_id, _ in pairs], matrix, labels, files[0])
