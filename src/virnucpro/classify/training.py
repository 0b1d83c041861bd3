"""Training the classifier with the original tool's settings, deterministically.

Cross-entropy, SGD (lr 2e-4, momentum 0.9), StepLR (step 10, gamma 0.85),
batches of 32, at most 200 epochs, early stopping after 5 epochs without a
lower validation loss. Unlike the original, the best weights are copied when
they are seen and restored at the end.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from virnucpro.classify.classifier import (
    MODALITIES,
    Classifier,
    MLPClassifier,
    features_description,
)
from virnucpro.classify.labelled import (
    LabelledFeatures,
    check_chunk_size_claim,
    named_feature_files,
    select_labelled,
)
from virnucpro.classify.settings import DEFAULT_TRAINING, TrainingSettings
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import TRAINING_LOG

log = logging.getLogger(__name__)


@dataclass
class Epoch:
    """One line of the training log."""

    epoch: int
    train_loss: float
    validation_loss: float
    validation_accuracy: float
    learning_rate: float


def data_digest(*parts: LabelledFeatures) -> str:
    """SHA-256 of the ids, labels and feature values a model was trained on."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(
            "\n".join(
                f"{i}\t{label}" for i, label in zip(part.ids, part.labels, strict=True)
            ).encode()
        )
        digest.update(np.ascontiguousarray(part.matrix).tobytes())
    return digest.hexdigest()


def _evaluate(model: nn.Module, data: LabelledFeatures, loss: nn.Module) -> tuple[float, float]:
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(data.matrix))
        labels = torch.from_numpy(data.labels)
        return float(loss(logits, labels)), float((logits.argmax(dim=1) == labels).float().mean())


def fit(
    train: LabelledFeatures, validation: LabelledFeatures, settings: TrainingSettings
) -> tuple[MLPClassifier, list[Epoch], int]:
    """Train from seeded weights; return the best model, the log and the best epoch."""
    torch.manual_seed(settings.seed)
    model = MLPClassifier(train.matrix.shape[1], settings.hidden, settings.dropout)
    # BatchNorm cannot train on a batch of one: drop a last batch of a single frame.
    loader = DataLoader(
        TensorDataset(torch.from_numpy(train.matrix), torch.from_numpy(train.labels)),
        batch_size=settings.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(settings.seed),
        drop_last=len(train.ids) % settings.batch_size == 1,
    )
    loss = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=settings.learning_rate, momentum=settings.momentum
    )
    schedule = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=settings.step_size, gamma=settings.gamma
    )
    best_loss, best_state, best_epoch, history = (
        float("inf"),
        copy.deepcopy(model.state_dict()),
        0,
        [],
    )
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        total = 0.0
        for features, labels in loader:
            optimizer.zero_grad()
            batch_loss = loss(model(features), labels)
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(labels)
        rate = schedule.get_last_lr()[0]
        schedule.step()
        validation_loss, accuracy = _evaluate(model, validation, loss)
        if not (math.isfinite(total) and math.isfinite(validation_loss)):
            raise InputError(
                f"training diverged: the loss is NaN or Inf at epoch {epoch} (learning rate "
                f"{rate:g}): lower --learning-rate"
            )
        history.append(Epoch(epoch, total / len(loader.dataset), validation_loss, accuracy, rate))
        log.info(
            "epoch %d: train loss %.4f, validation loss %.4f, accuracy %.4f",
            epoch,
            history[-1].train_loss,
            validation_loss,
            accuracy,
        )
        if validation_loss < best_loss:
            best_loss, best_state, best_epoch = (
                validation_loss,
                copy.deepcopy(model.state_dict()),
                epoch,
            )
        elif epoch - best_epoch >= settings.patience:
            log.info("no better validation loss for %d epochs: stopping", settings.patience)
            break
    model.load_state_dict(best_state)
    model.eval()
    return model, history, best_epoch


def train_classifier(
    feature_paths: Sequence[str | os.PathLike[str]],
    train_path: str | os.PathLike[str],
    validation_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    settings: TrainingSettings = DEFAULT_TRAINING,
) -> Classifier:
    """Train on the train list, stop early on the validation list, write the checkpoint."""
    named = named_feature_files(feature_paths)
    files = [features for _, features in named]
    check_chunk_size_claim([name for name, _ in named], files, int(files[0].metadata["chunk_size"]))
    train, validation = select_labelled(files, train_path), select_labelled(files, validation_path)
    if set(train.ids) & set(validation.ids):
        raise InputError(f"{train_path} and {validation_path} share frames")
    if len(set(train.labels.tolist())) < 2:
        raise InputError(f"{train_path} holds one class only: training needs viral and host frames")
    embedders, dimensions, chunk_size, precision = features_description(train.source)
    model, history, best_epoch = fit(train, validation, settings)
    best = history[best_epoch - 1]
    details = {
        "training": {
            **asdict(settings),
            "train_frames": len(train.ids),
            "validation_frames": len(validation.ids),
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "data_sha256": data_digest(train, validation),
        },
        "metrics": {
            "validation_loss": best.validation_loss,
            "validation_accuracy": best.validation_accuracy,
        },
        "models": {
            modality: {
                key: train.source.metadata[f"{modality}_{key}"]
                for key in ("model_id", "revision", "weights_sha256")
            }
            for modality in MODALITIES
        },
    }
    training_ids = {"train": train.ids, "validation": validation.ids}
    classifier = Classifier(
        model, embedders, dimensions, chunk_size, precision, details, training_ids
    )
    folder = Path(output_dir)
    with AtomicOutputs() as outputs:
        classifier.save(folder, outputs)
        table = outputs.open(folder / TRAINING_LOG.name)
        table.write(TRAINING_LOG.header)
        for row in history:
            table.write(
                f"{row.epoch}\t{row.train_loss:.6f}\t{row.validation_loss:.6f}\t{row.validation_accuracy:.6f}\t{row.learning_rate:.6g}\n"
            )
    log.info(
        "trained %s + %s (%d-d) on %d frames: best epoch %d of %d, validation loss %.4f, accuracy %.4f -> %s",
        embedders["dna"], embedders["protein"], train.matrix.shape[1], len(train.ids), best_epoch,
        len(history), best.validation_loss, best.validation_accuracy, folder,
    )  # fmt: skip
    return classifier
