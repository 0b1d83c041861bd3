"""One entry point that loads any registered embedder's model onto a device."""

from __future__ import annotations

from pathlib import Path

import torch

from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.embedders.registry import Architecture, EmbedderSpec


def load_encoder(
    spec: EmbedderSpec,
    folder: Path,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
) -> Encoder:
    """Load the model in ``folder`` with our own code, or with the hub's code if asked."""
    if trust_remote_code:
        from virnucpro.embed.embedders.remote import load_remote

        return load_remote(folder, spec.modality, device, dtype)
    if spec.architecture is Architecture.esm:
        from virnucpro.embed.embedders.esm import load_esm

        return load_esm(folder, device, dtype)
    if spec.architecture is Architecture.dnabert_s:
        from virnucpro.embed.embedders.dnabert_s import load_dnabert_s

        return load_dnabert_s(folder, device, dtype)
    raise ValueError(f"embedder '{spec.name}' has no model to load")
