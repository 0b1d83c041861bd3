"""Importing the original tool's ``300_model.pth`` / ``500_model.pth`` classifiers.

Those files are whole pickled ``MLPClassifier`` modules (3328 inputs: DNABERT-S
768 + ESM2-3B 2560). Unpickling runs code named in the file, so only PyTorch, ``collections`` and
plain container classes may be loaded; the original class, whatever module it
was saved from, is read into a stand-in and its layers are taken by type and
order: Linear, BatchNorm1d, Linear.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from virnucpro.classifier import Classifier, MLPClassifier
from virnucpro.errors import InputError

log = logging.getLogger(__name__)

LEGACY_EMBEDDERS = {"dna": "dnabert_s", "protein": "esm2_3b"}
LEGACY_DIMENSIONS = {"dna": 768, "protein": 2560}
_ALLOWED_MODULES = ("torch", "collections")
_SAFE_BUILTINS = {"set", "frozenset", "dict", "list", "tuple", "slice"}


class _PickledClassifier(nn.Module):
    """Receives the pickled state of the original ``MLPClassifier``; never called."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name == "MLPClassifier":
            return _PickledClassifier
        if module.split(".")[0] in _ALLOWED_MODULES or (
            module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a model file")


# torch.load takes a pickle module: this one differs from pickle by its Unpickler only.
_RESTRICTED_PICKLE = ModuleType("restricted_pickle")
_RESTRICTED_PICKLE.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_RESTRICTED_PICKLE.load = pickle.load  # type: ignore[attr-defined]


def _layers(module: nn.Module, source: Path) -> tuple[nn.Linear, nn.BatchNorm1d, nn.Linear]:
    layers = [m for m in module.modules() if isinstance(m, nn.Linear | nn.BatchNorm1d)]
    kinds = [type(layer).__name__ for layer in layers]
    if kinds != ["Linear", "BatchNorm1d", "Linear"]:
        raise InputError(
            f"{source}: expected Linear, BatchNorm1d, Linear layers, found {', '.join(kinds) or 'none'}"
        )
    return layers[0], layers[1], layers[2]


def convert_legacy_model(source: Path, output_dir: Path, chunk_size: int) -> Classifier:
    """Read an original ``*_model.pth`` and write it as a virnucpro classifier checkpoint."""
    if not source.is_file():
        raise InputError(f"{source}: no such model file")
    try:
        pickled = torch.load(
            source, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as error:
        raise InputError(f"{source}: not an original VirNucPro model file ({error})") from None
    if not isinstance(pickled, nn.Module):
        raise InputError(
            f"{source}: holds a {type(pickled).__name__}, not a pickled MLPClassifier module"
        )
    hidden, norm, output = _layers(pickled, source)
    expected = sum(LEGACY_DIMENSIONS.values())
    if hidden.in_features != expected or output.out_features != 2:
        raise InputError(
            f"{source}: a {hidden.in_features} -> {output.out_features} classifier, expected {expected} -> 2 "
            "(DNABERT-S 768 + ESM2-3B 2560)"
        )
    dropout = next((m.p for m in pickled.modules() if isinstance(m, nn.Dropout)), 0.5)
    model = MLPClassifier(hidden.in_features, hidden.out_features, dropout)
    model.hidden.load_state_dict(hidden.state_dict())
    model.norm.load_state_dict(norm.state_dict())
    model.output.load_state_dict(output.state_dict())
    model.eval()
    details = {
        "legacy": {"source": source.name, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    }
    classifier = Classifier(
        model, dict(LEGACY_EMBEDDERS), dict(LEGACY_DIMENSIONS), chunk_size, "fp32", details
    )
    classifier.save(output_dir)
    log.info(
        "converted %s (%d -> %d -> 2) into %s",
        source,
        hidden.in_features,
        hidden.out_features,
        output_dir,
    )
    return classifier
