"""Feature files: a float32 matrix in safetensors, with its ids and provenance.

No pickle: safetensors holds the matrix (tensor ``features``, one row per id);
the header metadata holds the ids in row order (JSON) and where the vectors came
from. Readers check the metadata before any use. NaN and Inf are
refused on writing and on reading, naming the row: a non-finite vector would
give ``nan`` scores that compare false and end up as a confident call.

Files are byte-identical for identical inputs: safetensors writes its metadata
in a per-process hash order, so the header is rewritten with sorted keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import FEATURES

TENSOR = "features"
# Provenance every feature file carries (all strings, as safetensors metadata must be):
# the model (its files' digest included), the settings, and the digest of the frames
# it embedded (ids and letters, in row order); merged files join DNA and protein's with +.
PROVENANCE = (
    "embedder",
    "modality",
    "model_id",
    "revision",
    "weights_sha256",
    "dimension",
    "precision",
    "chunk_size",
    "frames_sha256",
    "longest_frame",
)
# What a merged file keeps of each side (DNA and protein), as dna_... and protein_...
MERGED_KEYS = (
    "embedder",
    "model_id",
    "revision",
    "weights_sha256",
    "frames_sha256",
    "longest_frame",
)
MERGED_PROVENANCE = tuple(
    f"{modality}_{key}" for modality in ("dna", "protein") for key in (*MERGED_KEYS, "dimension")
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


def deterministic_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its header's metadata in sorted key order."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data must stay 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def _first_non_finite(matrix: np.ndarray) -> int | None:
    rows = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    return int(rows[0]) if rows.size else None


def write_features(path: str | os.PathLike[str], features: Features) -> None:
    """Write ``features`` atomically, checking that rows, ids and dimension agree."""
    matrix = np.ascontiguousarray(features.matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(features.ids):
        raise ValueError(f"{matrix.shape} matrix for {len(features.ids)} ids")
    row = _first_non_finite(matrix)
    if row is not None:
        precision = features.metadata.get("precision", "fp32")
        hint = "" if precision == "fp32" else f" (an overflow in {precision}? try fp32)"
        raise InputError(
            f"{path}: not written: the vector of '{features.ids[row]}' (row {row + 1}) holds NaN "
            f"or Inf{hint}"
        )
    metadata = {**features.metadata, "format": FEATURES.format, "ids": json.dumps(features.ids)}
    metadata["dimension"] = str(matrix.shape[1])
    data = deterministic_safetensors(save({TENSOR: matrix}, metadata=metadata))
    with AtomicOutputs() as outputs:
        outputs.write_bytes(path, data)


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
    if metadata.get("format") != FEATURES.format:
        raise InputError(
            f"{file}: not a virnucpro feature file (format {metadata.get('format')!r})"
        )
    needed = (*PROVENANCE, *(MERGED_PROVENANCE if metadata.get("modality") == "merged" else ()))
    missing = [key for key in (*needed, "ids") if key not in metadata]
    if missing:
        raise InputError(f"{file}: feature metadata lacks {', '.join(missing)}")
    return metadata


def _ids(path: str | os.PathLike[str], text: str) -> list[str]:
    """The row ids of the metadata: a JSON list of distinct non-empty strings."""
    try:
        ids = json.loads(text)
    except ValueError:
        raise InputError(f"{path}: the feature ids in the metadata are not valid JSON") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise InputError(f"{path}: the feature ids in the metadata are not a list of names")
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: a feature id is listed twice in the metadata")
    return ids


def read_header(path: str | os.PathLike[str]) -> Features:
    """A feature file's ids and metadata with no rows read (a 0-row matrix of its
    dimension): enough to check it against a classifier before any matrix is loaded."""
    metadata = read_metadata(path)
    ids = _ids(path, metadata.pop("ids"))
    metadata.pop("format")
    try:
        dimension = int(metadata["dimension"])
    except ValueError:
        raise InputError(f"{path}: dimension {metadata['dimension']!r} is not a number") from None
    return Features(ids, np.empty((0, dimension), dtype=np.float32), metadata)


def read_features(path: str | os.PathLike[str]) -> Features:
    """Read and check a feature file: ids, rows and dimension must agree, values be finite."""
    metadata = read_metadata(path)
    try:
        with safe_open(path, "np") as handle:
            matrix = handle.get_tensor(TENSOR)
    except (SafetensorError, OSError) as error:
        raise InputError(f"{path}: no readable '{TENSOR}' matrix ({error})") from None
    ids = _ids(path, metadata.pop("ids"))
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
    row = _first_non_finite(matrix)
    if row is not None:
        raise InputError(f"{path}: row {row + 1} ('{ids[row]}') holds NaN or Inf")
    return Features(ids, matrix, metadata)
