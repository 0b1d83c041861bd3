"""Seeded random model checkpoints for tests and benchmarks (never loaded by the pipeline).

``write_tiny_models`` writes the bundled test models of ``assets/models``;
``write_random_checkpoint`` writes one real model's on-disk layout, at tiny or at full
size, for load and throughput benchmarks without the real weights:

=================  ===========================================  ==========================
name               layout                                       full size
=================  ===========================================  ==========================
``esm2_3b``        ``pytorch_model-0000k-of-00002.bin`` + index  2560-d, 36 layers, 40 heads
``esm2_650m``      ``model.safetensors``                         1280-d, 33 layers, 20 heads
``fastesm2_650``   ``model.safetensors``, ``fast_esm`` config    1280-d, 33 layers, 20 heads
``dnabert_s``      ``pytorch_model.bin``, ``tokenizer.json``     768-d, 12 layers, 12 heads
=================  ===========================================  ==========================

The ESM2-3B revision pinned in the registry stores its weights as two float32 pickles;
the random ones are split in two by bytes (the hub's split is at 10 GB), so writing
holds one shard (~5.7 GB) in memory; safetensors are written one tensor at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from virnucpro.embed.embedders.esm import Layout
from virnucpro.testing.dnabert_s_checkpoints import (
    DNABERT_S_SIZES,
    DnaBertSSizes,
    dnabert_s_parameter_count,
    write_tiny_dnabert_s,
)
from virnucpro.testing.esm_checkpoints import (
    ESM2_3B_SIZES,
    ESM2_650M_SIZES,
    EsmSizes,
    WeightFormat,
    esm_parameter_count,
    esm_tensor_specs,
    write_tiny_esm,
)

Size = Literal["tiny", "full"]


@dataclass(frozen=True)
class RandomModel:
    """How one real model's checkpoint is laid out, and its full sizes."""

    name: str
    repository: str
    layout: Layout | Literal["dnabert_s"]
    weights: WeightFormat
    shards: int
    full: EsmSizes | DnaBertSSizes

    def sizes(self, size: Size) -> EsmSizes | DnaBertSSizes:
        if size == "full":
            return self.full
        if size == "tiny":
            return DnaBertSSizes() if self.layout == "dnabert_s" else EsmSizes()
        raise ValueError(f"size must be 'tiny' or 'full', not {size!r}")


RANDOM_MODELS: dict[str, RandomModel] = {
    model.name: model
    for model in (
        RandomModel("esm2_3b", "facebook/esm2_t36_3B_UR50D", "esm", "bin", 2, ESM2_3B_SIZES),
        RandomModel(
            "esm2_650m", "facebook/esm2_t33_650M_UR50D", "esm", "safetensors", 1, ESM2_650M_SIZES
        ),
        RandomModel(
            "fastesm2_650", "Synthyra/FastESM2_650", "fastesm", "safetensors", 1, ESM2_650M_SIZES
        ),
        RandomModel("dnabert_s", "zhihan1996/DNABERT-S", "dnabert_s", "bin", 1, DNABERT_S_SIZES),
    )
}


def random_model(name: str) -> RandomModel:
    try:
        return RANDOM_MODELS[name]
    except KeyError:
        known = ", ".join(RANDOM_MODELS)
        raise ValueError(f"no random checkpoint for '{name}' (known: {known})") from None


def write_random_checkpoint(
    name: str,
    folder: Path,
    size: Size = "tiny",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write a seeded random checkpoint of model ``name`` (see ``RANDOM_MODELS``) into ``folder``.

    The files, config keys, tensor names and formats are those of the real repository;
    ``size`` ``full`` gives its real sizes, ``tiny`` the test models' (hidden 32,
    2 layers) in the same layout. Floating weights are stored in ``dtype`` (the real
    ones are float32). Returns ``folder``, ready for ``load_encoder``.
    """
    model = random_model(name)
    sizes = model.sizes(size)
    folder = Path(folder)
    if isinstance(sizes, DnaBertSSizes):
        write_tiny_dnabert_s(folder, seed, sizes, dtype=dtype, name_or_path=model.repository)
    else:
        write_tiny_esm(
            folder,
            model.layout,
            seed,
            sizes,
            model.shards,
            weights=model.weights,
            dtype=dtype,
            name_or_path=model.repository,
        )
    return folder


def checkpoint_parameters(name: str, size: Size = "full") -> int:
    """Weights ``write_random_checkpoint`` stores for ``name``, counted without writing."""
    model = random_model(name)
    sizes = model.sizes(size)
    if isinstance(sizes, DnaBertSSizes):
        return dnabert_s_parameter_count(sizes)
    return esm_parameter_count(esm_tensor_specs(model.layout, sizes, model.weights))


def write_tiny_models(output_dir: Path, seed: int = 0) -> None:
    """``tiny_dnabert_s``, ``tiny_esm2`` and ``tiny_fastesm2`` (the same weights as tiny_esm2)."""
    output_dir = Path(output_dir)
    write_tiny_dnabert_s(output_dir / "tiny_dnabert_s", seed)
    write_tiny_esm(output_dir / "tiny_esm2", "esm", seed)
    write_tiny_esm(output_dir / "tiny_fastesm2", "fastesm", seed)
