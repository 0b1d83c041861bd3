"""Every embedder the pipeline knows, by short name.

An entry says where the weights come from (Hugging Face id and pinned revision,
or a tiny test model bundled under ``assets/models``), which architecture loads
them and which precision to use by default. Dimensions are never written here:
they are read from the model's config when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from virnucpro.errors import InputError


class Modality(str, Enum):
    """What an embedder reads: nucleotide slices or proteins."""

    dna = "dna"
    protein = "protein"


class Architecture(str, Enum):
    """Which loader builds the model."""

    esm = "esm"  # ESM2 and FastESM2 checkpoints, transformers.EsmModel
    dnabert_s = "dnabert_s"  # MosaicBERT, native module
    composition = "composition"  # no model: k-mer / residue frequencies


@dataclass(frozen=True)
class EmbedderSpec:
    """How to obtain and run one embedder."""

    name: str
    modality: Modality
    architecture: Architecture
    description: str
    model_id: str | None = None  # Hugging Face repository
    revision: str | None = None  # pinned commit of model_id
    bundled: str | None = None  # folder under assets/models (tiny test models)
    default_precision: str = "fp32"

    @property
    def needs_weights(self) -> bool:
        return self.architecture is not Architecture.composition


EMBEDDERS: dict[str, EmbedderSpec] = {
    spec.name: spec
    for spec in (
        EmbedderSpec(
            "dnabert_s",
            Modality.dna,
            Architecture.dnabert_s,
            "DNABERT-S (MosaicBERT, 768-d), the original tool's DNA model",
            model_id="zhihan1996/DNABERT-S",
            # Not pinned: which commit holds the weights the original tool used cannot be
            # established offline (a short hash 2efd650 and a cached snapshot 00e47f96...
            # have both been seen). The cache fills main; the features and the cache
            # report record the commit actually loaded (the snapshot folder's name).
            revision=None,
            default_precision="bf16",
        ),
        EmbedderSpec(
            "esm2_3b",
            Modality.protein,
            Architecture.esm,
            "ESM2 3B (36 layers, 2560-d), the original tool's protein model and the baseline",
            model_id="facebook/esm2_t36_3B_UR50D",
            revision="476b639933c8baad5ad09a60ac1a87f987b656fc",
            default_precision="bf16",
        ),
        EmbedderSpec(
            "esm2_650m",
            Modality.protein,
            Architecture.esm,
            "ESM2 650M (33 layers, 1280-d)",
            model_id="facebook/esm2_t33_650M_UR50D",
            revision="08e4846e537177426273712802403f7ba8261b6c",
            default_precision="bf16",
        ),
        EmbedderSpec(
            "fastesm2_650",
            Modality.protein,
            Architecture.esm,
            "FastESM2_650 (ESM2 650M layout, 1280-d), the fast candidate",
            model_id="Synthyra/FastESM2_650",
            revision="888b364d85f1059fc453bb365c7509a4d8f7be3b",
            default_precision="bf16",
        ),
        EmbedderSpec(
            "aa_composition",
            Modality.protein,
            Architecture.composition,
            "amino-acid + dipeptide frequencies (420-d), a model-free CPU baseline",
        ),
        EmbedderSpec(
            "dna_composition",
            Modality.dna,
            Architecture.composition,
            "1- to 4-mer frequencies (340-d), a model-free CPU baseline",
        ),
        EmbedderSpec(
            "tiny_dnabert_s",
            Modality.dna,
            Architecture.dnabert_s,
            "tiny random DNABERT-S-layout model for tests",
            bundled="tiny_dnabert_s",
        ),
        EmbedderSpec(
            "tiny_esm2",
            Modality.protein,
            Architecture.esm,
            "tiny random ESM2-layout model for tests",
            bundled="tiny_esm2",
        ),
        EmbedderSpec(
            "tiny_fastesm2",
            Modality.protein,
            Architecture.esm,
            "tiny random FastESM2-layout model for tests",
            bundled="tiny_fastesm2",
        ),
    )
}


def get_embedder(name: str, modality: Modality | None = None) -> EmbedderSpec:
    """The registry entry ``name``, checked against the modality a step needs."""
    try:
        spec = EMBEDDERS[name]
    except KeyError:
        known = ", ".join(EMBEDDERS)
        raise InputError(f"unknown embedder '{name}' (known: {known})") from None
    if modality is not None and spec.modality is not modality:
        names = ", ".join(s.name for s in EMBEDDERS.values() if s.modality is modality)
        raise InputError(
            f"embedder '{name}' embeds {spec.modality.value}, not {modality.value} (use one of: {names})"
        )
    return spec
