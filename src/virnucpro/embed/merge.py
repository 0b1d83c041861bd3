"""Joining DNA and protein features of the same frames: [DNA | protein] per id."""

from __future__ import annotations

import logging
import os

import numpy as np

from virnucpro import __version__
from virnucpro.errors import InputError
from virnucpro.files.feature_files import MERGED_KEYS, Features, read_features, write_features

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


def merge_features(
    dna_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
) -> Features:
    """Concatenate each frame's DNA and protein vectors, in the DNA file's order."""
    dna, protein = read_features(dna_path), read_features(protein_path)
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
    matrix = np.hstack([dna.matrix, protein.matrix[[rows[frame_id] for frame_id in dna.ids]]])
    metadata = {
        **{key: f"{dna.metadata[key]}+{protein.metadata[key]}" for key in MERGED_KEYS},
        "modality": "merged",
        "precision": dna.metadata["precision"],
        "chunk_size": dna.metadata["chunk_size"],
        **{f"dna_{key}": dna.metadata[key] for key in MERGED_KEYS},
        "dna_dimension": str(dna.dimension),
        **{f"protein_{key}": protein.metadata[key] for key in MERGED_KEYS},
        "protein_dimension": str(protein.dimension),
        "tool_version": __version__,
    }
    merged = Features(list(dna.ids), matrix, metadata)
    write_features(output_path, merged)
    log.info(
        "merged %d frames: %s (%d-d) + %s (%d-d) = %d-d into %s",
        len(dna.ids), dna.metadata["embedder"], dna.dimension, protein.metadata["embedder"],
        protein.dimension, matrix.shape[1], output_path,
    )  # fmt: skip
    return merged
