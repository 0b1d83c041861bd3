"""Joining DNA and protein features of the same frames: [DNA | protein] per id.

The join is a view: the classify, train and evaluate steps are given each shard's
DNA and protein files (``feature_sources`` pairs them by their frames) and join a
shard's two matrices when they read it. The pipeline writes no merged copy, which
was a byte copy of both files, a third of the features' disk; ``merge_features``
still writes one file for those who want it, and a merged file is read as one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from virnucpro import __version__
from virnucpro.errors import InputError
from virnucpro.files.feature_files import (
    MERGED_KEYS,
    Features,
    read_features,
    read_header,
    write_features,
)

log = logging.getLogger(__name__)


def _check_modality(
    features: Features, expected: str, path: str | os.PathLike[str], option: str
) -> None:
    found = features.metadata["modality"]
    if found != expected:
        raise InputError(
            f"{option} {path} holds {found} features (embedder '{features.metadata['embedder']}'); "
            f"{option} needs {expected} features"
        )


def merged(
    dna: Features,
    protein: Features,
    dna_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
) -> Features:
    """Each frame's DNA and protein vectors side by side, in the DNA file's order; of
    headers (0-row matrices, ``read_header``), the merged header."""
    _check_modality(dna, "dna", dna_path, "--dna")
    _check_modality(protein, "protein", protein_path, "--protein")
    for key in ("chunk_size", "precision"):
        if dna.metadata[key] != protein.metadata[key]:
            raise InputError(
                f"{key} differs: {dna.metadata[key]} in {dna_path} (DNA) but "
                f"{protein.metadata[key]} in {protein_path} (protein)"
            )
    rows = {frame_id: row for row, frame_id in enumerate(protein.ids)}
    only_dna = [frame_id for frame_id in dna.ids if frame_id not in rows]
    only_protein = sorted(set(protein.ids) - set(dna.ids))
    if only_dna or only_protein:
        raise InputError(
            f"frame ids differ: {len(only_dna)} only in {dna_path} (DNA, e.g. "
            f"{', '.join(only_dna[:2]) or '-'}), {len(only_protein)} only in {protein_path} "
            f"(protein, e.g. {', '.join(only_protein[:2]) or '-'})"
        )
    if len(dna.matrix) or len(protein.matrix):
        order = [rows[frame_id] for frame_id in dna.ids]
        matrix = np.hstack([dna.matrix, protein.matrix[order]])
    else:
        matrix = np.empty((0, dna.dimension + protein.dimension), dtype=np.float32)
    metadata = {
        **{key: f"{dna.metadata[key]}+{protein.metadata[key]}" for key in MERGED_KEYS},
        "modality": "merged",
        "precision": dna.metadata["precision"],
        "chunk_size": dna.metadata["chunk_size"],
        "dimension": str(dna.dimension + protein.dimension),
        **{f"dna_{key}": dna.metadata[key] for key in MERGED_KEYS},
        "dna_dimension": str(dna.dimension),
        **{f"protein_{key}": protein.metadata[key] for key in MERGED_KEYS},
        "protein_dimension": str(protein.dimension),
        "tool_version": __version__,
    }
    return Features(list(dna.ids), matrix, metadata)


def merge_features(
    dna_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
) -> Features:
    """Write the merged features of a DNA and a protein file of the same frames."""
    dna, protein = read_features(dna_path), read_features(protein_path)
    joined = merged(dna, protein, dna_path, protein_path)
    write_features(output_path, joined)
    log.info(
        "merged %d frames: %s (%d-d) + %s (%d-d) = %d-d into %s",
        len(dna.ids), dna.metadata["embedder"], dna.dimension, protein.metadata["embedder"],
        protein.dimension, joined.dimension, output_path,
    )  # fmt: skip
    return joined


@dataclass(frozen=True)
class FeatureSource:
    """One shard's merged features: a merged file, or a DNA and a protein file of the
    same frames, joined when read."""

    path: Path  # the merged file, or the DNA file
    protein: Path | None = None

    def __str__(self) -> str:
        return str(self.path) if self.protein is None else f"{self.path} + {self.protein.name}"

    def header(self) -> Features:
        """The merged header: ids and metadata, no row read."""
        if self.protein is None:
            return read_header(self.path)
        return merged(read_header(self.path), read_header(self.protein), self.path, self.protein)

    def read(self) -> Features:
        """The merged features, checked as a merged file is."""
        if self.protein is None:
            return read_features(self.path)
        return merged(
            read_features(self.path), read_features(self.protein), self.path, self.protein
        )


def _frames_key(ids: Sequence[str]) -> str:
    """The same key for two files of the same frames, in any row order."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def feature_sources(paths: Sequence[str | os.PathLike[str]]) -> list[FeatureSource]:
    """Merged files as they are, and DNA files each with the protein file of the same
    frames, in the order given (a file left without its partner is an error)."""
    given: list[tuple[Path, str | None]] = []  # (merged or DNA file, DNA frames' key)
    keys: dict[str, dict[str, Path]] = {"dna": {}, "protein": {}}
    for path in map(Path, paths):
        header = read_header(path)
        modality = header.metadata["modality"]
        if modality == "merged":
            given.append((path, None))
            continue
        key, side = _frames_key(header.ids), keys[modality]
        if key in side:
            raise InputError(
                f"{side[key]} and {path} hold {modality} features of the same frames: a shard "
                "given twice, or the protein features of two embedders?"
            )
        side[key] = path
        if modality == "dna":
            given.append((path, key))
    sources = []
    for path, key in given:
        partner = None if key is None else keys["protein"].pop(key, None)
        if key is not None and partner is None:
            raise InputError(
                f"{path}: DNA features without the protein features of the same frames: give "
                "each shard's DNA and protein files"
            )
        sources.append(FeatureSource(path, partner))
    if keys["protein"]:
        raise InputError(
            f"{next(iter(keys['protein'].values()))}: protein features without the DNA features "
            "of the same frames: give each shard's DNA and protein files"
        )
    return sources
