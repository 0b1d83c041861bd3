"""The MLP that turns merged [DNA | protein] features into P(virus), and its checkpoint.

A checkpoint is a folder: ``model.safetensors`` (weights, no pickle),
``classifier.json`` (which embedders and dimensions it expects, chunk size,
training settings and metrics) and, for a classifier trained here,
``training_ids.safetensors`` (the frames it was trained and validated on, so
that an evaluation on them is refused). A ``demo`` entry (the bundled
composition classifier's) says in one sentence why its calls are not for real
use: classify and predict warn, the prediction report shows it as a caveat.
Features from another embedder, model, chunk size or dimension are refused with
a message naming both sides, before the weights are read; weights that would
give NaN scores are refused on loading.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as save_arrays
from safetensors.torch import save
from torch import nn

from virnucpro import __version__
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CLASSIFIER, CLASSIFIER_WEIGHTS, TRAINING_IDS
from virnucpro.files.digests import file_digest
from virnucpro.files.feature_files import Features, deterministic_safetensors
from virnucpro.preprocess.chunking import MAX_CHUNK_SIZE

log = logging.getLogger(__name__)

LABELS = ("others", "virus")  # class 0, class 1
MODALITIES = ("dna", "protein")
# Far above any real embedding (ESM2-15B is 5120-d): a larger value is a corrupt file.
_MAX_DIMENSION = 1 << 16
# Far above any real classifier (3328-d input x 512 hidden is 1.7 M weights): more would
# allocate gigabytes for a file that cannot be one of ours.
_MAX_PARAMETERS = 1 << 26


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

    model: MLPClassifier | None  # None until the weights are read (``load_classifier``)
    embedders: dict[str, str]  # modality -> embedder name
    dimensions: dict[str, int]  # modality -> dimension
    chunk_size: int
    precision: str
    details: dict[str, Any] = field(default_factory=dict)  # training settings and metrics
    # split ("train", "validation") -> frame ids the model saw; empty when not known
    training_ids: dict[str, Sequence[str]] = field(default_factory=dict)

    @property
    def protein_embedder(self) -> str:
        return self.embedders["protein"]

    @property
    def demo(self) -> str | None:
        """Why a demo classifier's calls are not for real use (classifier.json's ``demo``);
        None for a real classifier."""
        return self.details.get("demo")

    def check_features(self, features: Features, source: str) -> None:
        """Refuse features made by other embedders or models, with other dimensions or
        chunk size: each difference names the file's value and the classifier's."""
        meta = features.metadata
        found = {
            "DNA embedder": (meta.get("dna_embedder"), self.embedders["dna"]),
            "protein embedder": (meta.get("protein_embedder"), self.embedders["protein"]),
            "DNA dimension": (meta.get("dna_dimension"), str(self.dimensions["dna"])),
            "protein dimension": (meta.get("protein_dimension"), str(self.dimensions["protein"])),
            "chunk size": (meta.get("chunk_size"), str(self.chunk_size)),
        }
        weights = {modality: meta.get(f"{modality}_weights_sha256") for modality in MODALITIES}
        found.update(self._model_differences(weights, source))
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

    def check_models(self, weights: dict[str, str | None], source: str) -> None:
        """Refuse models (modality -> weights digest) other than those it was trained on."""
        wrong = [
            f"{name} {got} (classifier: {want})"
            for name, (got, want) in self._model_differences(weights, source).items()
            if got != want
        ]
        if wrong:
            raise InputError(f"{source} are not the classifier's models: {'; '.join(wrong)}")

    def _model_differences(
        self, weights: dict[str, str | None], source: str
    ) -> dict[str, tuple[str | None, str]]:
        """(found, recorded) weights digest per modality; a classifier that does not record
        its models (the demo, a converted legacy model) accepts any, with a warning."""
        models = self.details.get("models")
        if models is None:
            if any(digest not in (None, "none") for digest in weights.values()):
                log.warning(
                    "the classifier does not record the weights of its models: %s cannot be "
                    "checked against them",
                    source,
                )
            return {}
        return {
            f"{modality} weights_sha256": (weights[modality], models[modality]["weights_sha256"])
            for modality in MODALITIES
        }

    def scores(self, matrix: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Softmax scores (P(others), P(virus)) for each row, in eval mode.

        A NaN score compares false with everything and would end up a confident
        ``others``: any non-finite score stops the step instead.
        """
        if self.model is None:
            raise ValueError("the classifier's weights are not loaded")
        self.model.eval()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(matrix), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(matrix[start : start + batch_size]))
                rows.append(torch.softmax(self.model(batch), dim=1).numpy())
        scores = np.concatenate(rows) if rows else np.empty((0, len(LABELS)), dtype=np.float32)
        bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
        if bad.size:
            raise InputError(
                f"the classifier gives NaN or Inf scores for {bad.size} of {len(scores)} frames "
                f"(row {bad[0] + 1} first) although their features are finite: a corrupt classifier"
            )
        return scores

    def save(self, folder: Path, outputs: AtomicOutputs | None = None) -> None:
        """Write ``model.safetensors``, ``classifier.json`` (and the training ids) together,
        or as part of the step's ``outputs``."""
        if self.model is None:
            raise ValueError("the classifier's weights are not loaded")
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
        ids_file = None
        metadata.pop("training_ids_sha256", None)  # a loaded classifier's, not these ids'
        if self.training_ids:
            arrays = {split: id_hashes(ids) for split, ids in self.training_ids.items()}
            ids_file = deterministic_safetensors(
                save_arrays(arrays, metadata={"format": TRAINING_IDS.format})
            )
            # the ids file is the classifier's only if classifier.json names its digest
            metadata["training_ids_sha256"] = hashlib.sha256(ids_file).hexdigest()
        with nullcontext(outputs) if outputs is not None else AtomicOutputs() as outputs:
            outputs.write_bytes(folder / CLASSIFIER_WEIGHTS, deterministic_safetensors(save(state)))
            outputs.open(folder / CLASSIFIER.name).write(
                json.dumps(metadata, indent=2, sort_keys=True) + "\n"
            )
            if ids_file is None:
                outputs.remove(folder / TRAINING_IDS.name)
            else:
                outputs.write_bytes(folder / TRAINING_IDS.name, ids_file)


def _hashes(ids: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each frame id, in order."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little")
            for i in ids
        ],
        dtype=np.uint64,
    )


def id_hashes(ids: Sequence[str]) -> np.ndarray:
    """Sorted 64-bit hashes of frame ids: which frames a model saw, 8 bytes each."""
    return np.sort(_hashes(ids))


def training_frames(folder: Path) -> dict[str, np.ndarray] | None:
    """The hashed train and validation ids of a checkpoint; None if it does not record them
    (the bundled demo, a converted legacy model). The file must be the one whose digest
    classifier.json names: an ids file left by another classifier is refused."""
    recorded = describe_classifier(folder).details.get("training_ids_sha256")
    if recorded is None:
        return None
    file = Path(folder) / TRAINING_IDS.name
    if not file.is_file() or file_digest(file) != recorded:
        raise InputError(
            f"{file} is not the classifier's: classifier.json names an ids file of sha256 "
            f"{recorded[:12]} ({'missing' if not file.is_file() else 'another file found'})"
        )
    try:
        with safe_open(file, "np") as handle:
            if (handle.metadata() or {}).get("format") != TRAINING_IDS.format:
                raise InputError(f"{file}: not {TRAINING_IDS.what} file ({TRAINING_IDS.format})")
            arrays = {split: handle.get_tensor(split) for split in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise InputError(f"{file}: not a readable safetensors file ({error})") from None
    if sorted(arrays) != ["train", "validation"] or any(
        array.dtype != np.uint64 or array.ndim != 1 for array in arrays.values()
    ):
        raise InputError(f"{file}: needs 1-d uint64 'train' and 'validation' hashes")
    return arrays


def check_unseen(folder: Path, ids: Sequence[str], what: str) -> bool:
    """Refuse test frames the classifier was trained or validated on; False if unknown.

    Scoring a model on its own training frames inflates every metric (F1 0.92
    instead of 0.63 on the bundled data): a comparison built on that is wrong.
    """
    seen = training_frames(folder)
    if seen is None:
        return False
    hashes = _hashes(ids)
    for split, known in seen.items():
        overlap = np.isin(hashes, known)
        if overlap.any():
            example = ids[int(np.flatnonzero(overlap)[0])]
            raise InputError(
                f"{what}: {int(overlap.sum())} of its {len(ids)} frames are in the classifier's "
                f"{split} frames (e.g. '{example}'): a classifier is tested on frames it never saw"
            )
    return True


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
        if not whole(metadata[key], 1, _MAX_DIMENSION if key != "chunk_size" else MAX_CHUNK_SIZE)
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
    models = metadata.get("models")
    if models is not None and not (
        isinstance(models, dict)
        and sorted(models) == sorted(MODALITIES)
        and all(
            isinstance(model, dict) and isinstance(model.get("weights_sha256"), str)
            for model in models.values()
        )
    ):
        wrong.append("models")
    for key in ("training", "metrics"):
        if not isinstance(metadata.get(key, {}), dict):
            wrong.append(key)
    if not isinstance(metadata.get("training_ids_sha256", ""), str):
        wrong.append("training_ids_sha256")
    demo = metadata.get("demo")
    if demo is not None and not (isinstance(demo, str) and demo.strip()):
        wrong.append("demo (needs a sentence saying why)")
    if wrong:
        raise InputError(f"{file}: invalid {', '.join(wrong)}")
    if sum(metadata["dimensions"].values()) != metadata["input_dimension"]:
        raise InputError(
            f"{file}: dimensions {metadata['dimensions']} do not add up to "
            f"{metadata['input_dimension']}"
        )
    parameters = (metadata["input_dimension"] + 1 + len(LABELS) + 4) * metadata["hidden"]
    if parameters > _MAX_PARAMETERS:
        raise InputError(
            f"{file}: input_dimension {metadata['input_dimension']} x hidden {metadata['hidden']} "
            f"makes {parameters:,} weights, more than any classifier of this tool "
            f"({_MAX_PARAMETERS:,})"
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


def describe_classifier(folder: Path) -> Classifier:
    """A checkpoint's description (embedders, dimensions, chunk size, training), checked,
    without its weights: enough to refuse unlike features before anything is allocated."""
    return _describe(folder)[0]


def _describe(folder: Path) -> tuple[Classifier, dict[str, Any]]:
    folder = Path(folder)
    for name in (CLASSIFIER.name, CLASSIFIER_WEIGHTS):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: not a classifier checkpoint (no {name})")
    metadata = _read_metadata(folder / CLASSIFIER.name)
    known = {*_FIELDS, "tool_version"}
    details = {key: value for key, value in metadata.items() if key not in known}
    classifier = Classifier(
        None,
        metadata["embedders"],
        dict(metadata["dimensions"]),
        metadata["chunk_size"],
        metadata["precision"],
        details,
    )
    return classifier, metadata


def load_classifier(folder: Path, features: Sequence[tuple[str, Features]] = ()) -> Classifier:
    """Read a checkpoint folder, checking its metadata, then ``features`` (source, file)
    against it, then that the weights fit it and give finite scores."""
    classifier, metadata = _describe(folder)
    for source, file in features:
        classifier.check_features(file, source)
    weights_file = Path(folder) / CLASSIFIER_WEIGHTS
    inputs, hidden, dropout = (metadata[k] for k in ("input_dimension", "hidden", "dropout"))
    with torch.device("meta"):
        shapes = MLPClassifier(inputs, hidden, dropout)
    state = _read_weights(weights_file, shapes)
    if not all(bool(torch.isfinite(tensor).all()) for tensor in state.values()):
        raise InputError(f"{weights_file}: the weights hold NaN or Inf")
    if bool((state["norm.running_var"] < 0).any()):
        raise InputError(
            f"{weights_file}: norm.running_var holds negative variances: every score would be NaN"
        )
    model = MLPClassifier(inputs, hidden, dropout)
    model.load_state_dict(state)
    model.eval()
    classifier.model = model
    return classifier
