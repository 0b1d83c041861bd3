"""One entry point that loads any registered embedder's model onto a device.

A model folder (``--model-dir``, the model cache, the bundled tiny models) is an input
like any other: ``check_model_folder`` refuses one that does not hold the embedder's
model, or whose files would make the loaders allocate absurd sizes, before anything
is allocated or imported.
"""

from __future__ import annotations

from pathlib import Path

import torch

from virnucpro.embed.checkpoints import CONFIG_FILE, read_config
from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.embedders.config_checks import shown
from virnucpro.embed.embedders.registry import TEST_HIDDEN_SIZE, Architecture, EmbedderSpec
from virnucpro.errors import InputError


def check_model_folder(spec: EmbedderSpec, folder: Path) -> None:
    """Refuse a folder that does not hold ``spec``'s model, before anything is allocated.

    Its ``model_type`` must be the registry entry's (``ModelShape``); the architecture's
    reader checks every size, the tokenizer files and that the weight files can hold
    the weights the config describes; then the sizes must be the entry's, unless the
    folder holds a test model (``TEST_HIDDEN_SIZE``).
    """
    shape = spec.shape
    if shape is None:
        raise ValueError(f"embedder '{spec.name}' has no model to load")
    folder = Path(folder)
    raw = read_config(folder)
    source = folder / CONFIG_FILE
    model_type = raw.get("model_type")
    if model_type != shape.model_type:
        found = "no model_type" if model_type is None else f"model_type {shown(model_type)}"
        raise InputError(f"{source}: {found} but embedder {spec.name} needs '{shape.model_type}'")
    if spec.architecture is Architecture.esm:
        from virnucpro.embed.embedders.esm import read_esm_folder

        _, config, _, _ = read_esm_folder(folder)
    else:
        from virnucpro.embed.embedders.dnabert_s import read_dnabert_s_folder

        config, _, _ = read_dnabert_s_folder(folder)
    if config.hidden_size <= TEST_HIDDEN_SIZE:
        return
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        value, expected = getattr(config, key), getattr(shape, key)
        if value != expected:
            raise InputError(f"{source}: {key} {value} but embedder {spec.name} needs {expected}")


def load_encoder(
    spec: EmbedderSpec,
    folder: Path,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
    *,
    auto_classes: bool = False,
) -> Encoder:
    """Load the model in ``folder`` with our own code, or with transformers' Auto classes.

    ``trust_remote_code``: the Auto classes, running the model repository's code in the
    folder (``--trust-remote-code``); ``auto_classes`` alone: the Auto classes with the
    library's own code only, refused if the folder ships code (``verify-embedder``
    without ``--trust-remote-code``).
    """
    check_model_folder(spec, folder)
    if trust_remote_code or auto_classes:
        from virnucpro.embed.embedders.remote import load_remote

        return load_remote(folder, spec.modality, device, dtype, trust_remote_code)
    if spec.architecture is Architecture.esm:
        from virnucpro.embed.embedders.esm import load_esm

        return load_esm(folder, device, dtype)
    from virnucpro.embed.embedders.dnabert_s import load_dnabert_s

    return load_dnabert_s(folder, device, dtype)
