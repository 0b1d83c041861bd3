"""Feature files: a float32 matrix in safetensors, with its ids and provenance.

No pickle: safetensors holds the matrix (tensor ``features``, one row per id);
the header metadata holds the ids in row order (JSON) and where the vectors came
from (SPEC §6). Readers check the metadata before any use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from virnucpro.atomic import AtomicOutputs
from virnucpro.errors import InputError

TENSOR = "features"
FORMAT = "virnucpro-features/1"
# Provenance every feature file carries (all strings, as safetensors metadata must be).
PROVENANCE = (
    "embedder",
    "modality",
    "model_id",
    "revision",
    "dimension",
    "precision",
    "chunk_size",
)


@dataclass
class Features:
    """Rows of ``matrix`` belong to ``ids``; ``metadata`` says how they were made."""

    ids: list[str]
    matrix: np.ndarray
    metadata: dict[str, str]

    @property
    def dimension(self) -> int:
        return self.matrix.shape[1]


def write_features(path: str | os.PathLike[str], features: Features) -> None:
    """Write ``features`` atomically, checking that rows, ids and dimension agree."""
    matrix = np.ascontiguousarray(features.matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(features.ids):
        raise ValueError(f"{matrix.shape} matrix for {len(features.ids)} ids")
    metadata = {**features.metadata, "format": FORMAT, "ids": json.dumps(features.ids)}
    metadata["dimension"] = str(matrix.shape[1])
    with AtomicOutputs() as outputs:
        save_file({TENSOR: matrix}, outputs.reserve(path), metadata=metadata)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The header metadata of a feature file, without reading the matrix."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such feature file")
    try:
        with safe_open(file, "np") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise InputError(f"{file}: not a safetensors feature file ({error})") from None
    if metadata.get("format") != FORMAT:
        raise InputError(
            f"{file}: not a virnucpro feature file (format {metadata.get('format')!r})"
        )
    missing = [key for key in (*PROVENANCE, "ids") if key not in metadata]
    if missing:
        raise InputError(f"{file}: feature metadata lacks {', '.join(missing)}")
    return metadata


def read_features(path: str | os.PathLike[str]) -> Features:
    """Read and check a feature file: ids, rows and dimension must agree."""
    metadata = read_metadata(path)
    with safe_open(path, "np") as handle:
        matrix = handle.get_tensor(TENSOR)
    ids = json.loads(metadata.pop("ids"))
    metadata.pop("format")
    if matrix.dtype != np.float32 or matrix.ndim != 2:
        raise InputError(
            f"{path}: features must be a float32 matrix, got {matrix.dtype} {matrix.shape}"
        )
    if matrix.shape[0] != len(ids):
        raise InputError(f"{path}: {matrix.shape[0]} rows for {len(ids)} ids")
    if str(matrix.shape[1]) != metadata["dimension"]:
        raise InputError(
            f"{path}: matrix has {matrix.shape[1]} columns but metadata says dimension "
            f"{metadata['dimension']}"
        )
    return Features(ids, matrix, metadata)
