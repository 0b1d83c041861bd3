"""The MLP that turns merged [DNA | protein] features into P(virus), and its checkpoint.

A checkpoint is a folder: ``model.safetensors`` (weights, no pickle) and
``classifier.json`` (which embedders and dimensions it expects, chunk size,
training settings and metrics). Features from another embedder or with another
dimension are refused with a message, never fed in to fail on a shape.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import nn

from virnucpro import __version__
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CLASSIFIER, CLASSIFIER_WEIGHTS
from virnucpro.files.feature_files import Features, deterministic_safetensors

log = logging.getLogger(__name__)

LABELS = ("others", "virus")  # class 0, class 1
MODALITIES = ("dna", "protein")
# Far above any real embedding (ESM2-15B is 5120-d): a larger value is a corrupt file.
_MAX_DIMENSION = 1 << 16


class MLPClassifier(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear(2), Xavier-uniform weights."""

    def __init__(self, input_dimension: int, hidden: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        self.hidden = nn.Linear(input_dimension, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, len(LABELS))
        nn.init.xavier_uniform_(self.hidden.weight)
        nn.init.xavier_uniform_(self.output.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.activation(self.norm(self.hidden(features)))))


@dataclass
class Classifier:
    """A model with the description of the features it was trained on."""

    model: MLPClassifier
    embedders: dict[str, str]  # modality -> embedder name
    dimensions: dict[str, int]  # modality -> dimension
    chunk_size: int
    precision: str
    details: dict[str, Any] = field(default_factory=dict)  # training settings and metrics

    @property
    def protein_embedder(self) -> str:
        return self.embedders["protein"]

    def check_features(self, features: Features, source: str) -> None:
        """Refuse features made by other embedders, with other dimensions or chunk size."""
        meta = features.metadata
        found = {
            "DNA embedder": (meta.get("dna_embedder"), self.embedders["dna"]),
            "protein embedder": (meta.get("protein_embedder"), self.embedders["protein"]),
            "DNA dimension": (meta.get("dna_dimension"), str(self.dimensions["dna"])),
            "protein dimension": (meta.get("protein_dimension"), str(self.dimensions["protein"])),
            "chunk size": (meta.get("chunk_size"), str(self.chunk_size)),
        }
        wrong = [
            f"{name} {got} (classifier: {want})"
            for name, (got, want) in found.items()
            if got != want
        ]
        if meta.get("modality") != "merged":
            wrong.insert(0, f"{meta.get('modality')} features, not merged DNA + protein features")
        if wrong:
            raise InputError(f"{source} does not match the classifier: {'; '.join(wrong)}")
        if meta.get("precision") != self.precision:
            log.warning(
                "%s was embedded in %s, the classifier's features in %s",
                source, meta.get("precision"), self.precision,
            )  # fmt: skip

    def scores(self, matrix: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Softmax scores (P(others), P(virus)) for each row, in eval mode."""
        self.model.eval()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(matrix), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(matrix[start : start + batch_size]))
                rows.append(torch.softmax(self.model(batch), dim=1).numpy())
        return np.concatenate(rows) if rows else np.empty((0, len(LABELS)), dtype=np.float32)

    def save(self, folder: Path) -> None:
        """Write ``model.safetensors`` and ``classifier.json`` together."""
        metadata = {
            "format": CLASSIFIER.format,
            "input_dimension": self.model.hidden.in_features,
            "hidden": self.model.hidden.out_features,
            "dropout": self.model.dropout.p,
            "embedders": self.embedders,
            "dimensions": self.dimensions,
            "chunk_size": self.chunk_size,
            "precision": self.precision,
            "tool_version": __version__,
            **self.details,
        }
        state = {
            name: tensor.detach().contiguous() for name, tensor in self.model.state_dict().items()
        }
        with AtomicOutputs() as outputs:
            outputs.write_bytes(folder / CLASSIFIER_WEIGHTS, deterministic_safetensors(save(state)))
            outputs.open(folder / CLASSIFIER.name).write(
                json.dumps(metadata, indent=2, sort_keys=True) + "\n"
            )


def features_description(features: Features) -> tuple[dict[str, str], dict[str, int], int, str]:
    """Embedders, dimensions, chunk size and precision of merged features."""
    meta = features.metadata
    if meta.get("modality") != "merged":
        raise InputError(
            f"features of embedder '{meta['embedder']}' are not merged DNA + protein features"
        )
    embedders = {"dna": meta["dna_embedder"], "protein": meta["protein_embedder"]}
    dimensions = {"dna": int(meta["dna_dimension"]), "protein": int(meta["protein_dimension"])}
    return embedders, dimensions, int(meta["chunk_size"]), meta["precision"]


# Keys every classifier.json must hold.
_FIELDS = (
    "format",
    "input_dimension",
    "hidden",
    "dropout",
    "embedders",
    "dimensions",
    "chunk_size",
    "precision",
)


def _read_metadata(file: Path) -> dict[str, Any]:
    """``classifier.json``, checked field by field: one clear line for any defect."""
    try:
        metadata = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{file}: not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise InputError(f"{file}: not a JSON object")
    if metadata.get("format") != CLASSIFIER.format:
        raise InputError(f"{file}: not a virnucpro classifier (format {metadata.get('format')!r})")
    missing = [key for key in _FIELDS if key not in metadata]
    if missing:
        raise InputError(f"{file}: lacks {', '.join(missing)}")

    def whole(value: Any, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    wrong = [
        key
        for key in ("input_dimension", "hidden", "chunk_size")
        if not whole(metadata[key], 1, _MAX_DIMENSION if key != "chunk_size" else 1 << 20)
    ]
    for key in ("embedders", "dimensions"):
        value = metadata[key]
        if not isinstance(value, dict) or sorted(value) != sorted(MODALITIES):
            wrong.append(f"{key} (needs 'dna' and 'protein')")
    if not wrong:
        if not all(isinstance(name, str) and name for name in metadata["embedders"].values()):
            wrong.append("embedders")
        if not all(whole(d, 1, _MAX_DIMENSION) for d in metadata["dimensions"].values()):
            wrong.append("dimensions")
    dropout = metadata["dropout"]
    if not isinstance(dropout, int | float) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        wrong.append("dropout")
    if not isinstance(metadata["precision"], str):
        wrong.append("precision")
    if wrong:
        raise InputError(f"{file}: invalid {', '.join(wrong)}")
    if sum(metadata["dimensions"].values()) != metadata["input_dimension"]:
        raise InputError(
            f"{file}: dimensions {metadata['dimensions']} do not add up to "
            f"{metadata['input_dimension']}"
        )
    return metadata


def _read_weights(file: Path, model: MLPClassifier) -> dict[str, torch.Tensor]:
    """The weights of ``file``, which must be exactly the tensors of ``model``."""
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    try:
        with safe_open(file, "pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
            if shapes != expected:
                wrong = sorted(set(shapes.items()) ^ set(expected.items()))
                raise InputError(
                    f"{file}: weights do not fit classifier.json (e.g. {wrong[0][0]} {wrong[0][1]})"
                )
            return {name: handle.get_tensor(name) for name in expected}
    except (SafetensorError, OSError) as error:
        raise InputError(f"{file}: not a readable safetensors file ({error})") from None


def load_classifier(folder: Path) -> Classifier:
    """Read a checkpoint folder, checking its metadata and that the weights fit it."""
    folder = Path(folder)
    metadata_file, weights_file = folder / CLASSIFIER.name, folder / CLASSIFIER_WEIGHTS
    for file in (metadata_file, weights_file):
        if not file.is_file():
            raise InputError(f"{folder}: not a classifier checkpoint (no {file.name})")
    metadata = _read_metadata(metadata_file)
    with torch.device("meta"):
        shapes = MLPClassifier(metadata["input_dimension"], metadata["hidden"], metadata["dropout"])
    state = _read_weights(weights_file, shapes)
    model = MLPClassifier(metadata["input_dimension"], metadata["hidden"], metadata["dropout"])
    model.load_state_dict(state)
    if not all(bool(torch.isfinite(tensor).all()) for tensor in state.values()):
        raise InputError(f"{weights_file}: the weights hold NaN or Inf")
    model.eval()
    known = {*_FIELDS, "tool_version"}
    details = {key: value for key, value in metadata.items() if key not in known}
    return Classifier(
        model,
        metadata["embedders"],
        dict(metadata["dimensions"]),
        metadata["chunk_size"],
        metadata["precision"],
        details,
    )
