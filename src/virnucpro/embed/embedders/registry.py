"""Every embedder the pipeline knows, by short name.

An entry says where the weights come from (Hugging Face id and pinned revision,
or a tiny test model bundled under ``assets/models``), which architecture loads
them, which precision to use by default and what its model folder's ``config.json``
says (``ModelShape``), against which any folder given for it is checked before it is
loaded. The features' dimension is read from the loaded model's config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
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


#: A checkpoint this narrow (hidden_size at most this) is a scaled-down test model of its
#: layout: the tiny models, ``make_test_model.py --size tiny``.
TEST_HIDDEN_SIZE = 64


@dataclass(frozen=True)
class ModelShape:
    """What an embedder's ``config.json`` says, so that a folder of another model is refused.

    ``model_type`` identifies the layout and is always checked (an ESM2 folder given as
    FastESM2 reads the same tensors but is another model). The sizes are the real
    model's: a folder must have them all, unless its ``hidden_size`` is at most
    ``TEST_HIDDEN_SIZE``, a test model of the layout, whose sizes are only checked to be
    sane. ``hidden_size`` is the dimension of the features.
    """

    model_type: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    vocab_size: int


@dataclass(frozen=True)
class EmbedderSpec:
    """How to obtain and run one embedder."""

    name: str
    modality: Modality
    architecture: Architecture
    description: str
    model_id: str | None = None  # Hugging Face repository
    revision: str | None = None  # commit, branch or tag of model_id: the pin unless asked
    bundled: str | None = None  # folder under assets/models (tiny test models)
    default_precision: str = "fp32"
    shape: ModelShape | None = None  # what its config.json says (None: no model)

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
            # The commit whose pytorch_model.bin (sha256 f3cfc3d0541859df...) public code
            # pins, as its upstream commit, e.g. MultiMolecule/upstream
            # models/dnaberts/source.yaml; it is also the snapshot folder a plain download
            # of main gave in public scripts. 2efd650282ec5d5ab377c787c76ea56b723f6b7c is
            # another commit seen pinned (revision=) in public code; which of the two is
            # the head of main now cannot be checked offline: --revision chooses.
            revision="00e47f96cdea35e4b6f5df89e5419cbe47d490c6",
            default_precision="bf16",
            shape=ModelShape("bert", 768, 12, 12, 4096),
        ),
        EmbedderSpec(
            "esm2_3b",
            Modality.protein,
            Architecture.esm,
            "ESM2 3B (36 layers, 2560-d), the original tool's protein model and the baseline",
            model_id="facebook/esm2_t36_3B_UR50D",
            revision="476b639933c8baad5ad09a60ac1a87f987b656fc",
            default_precision="bf16",
            shape=ModelShape("esm", 2560, 36, 40, 33),
        ),
        EmbedderSpec(
            "esm2_650m",
            Modality.protein,
            Architecture.esm,
            "ESM2 650M (33 layers, 1280-d)",
            model_id="facebook/esm2_t33_650M_UR50D",
            revision="08e4846e537177426273712802403f7ba8261b6c",
            default_precision="bf16",
            shape=ModelShape("esm", 1280, 33, 20, 33),
        ),
        EmbedderSpec(
            "fastesm2_650",
            Modality.protein,
            Architecture.esm,
            "FastESM2_650 (ESM2 650M layout, 1280-d), the fast candidate",
            model_id="Synthyra/FastESM2_650",
            revision="888b364d85f1059fc453bb365c7509a4d8f7be3b",
            default_precision="bf16",
            shape=ModelShape("fast_esm", 1280, 33, 20, 33),
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
            shape=ModelShape("bert", 32, 2, 4, 64),
        ),
        EmbedderSpec(
            "tiny_esm2",
            Modality.protein,
            Architecture.esm,
            "tiny random ESM2-layout model for tests",
            bundled="tiny_esm2",
            shape=ModelShape("esm", 32, 2, 4, 33),
        ),
        EmbedderSpec(
            "tiny_fastesm2",
            Modality.protein,
            Architecture.esm,
            "tiny random FastESM2-layout model for tests",
            bundled="tiny_fastesm2",
            shape=ModelShape("fast_esm", 32, 2, 4, 33),
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


# A branch, tag or commit as Hugging Face names them (refs/pr/1 included); no "..", so
# that the cache's refs/<revision> stays inside the cache.
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def is_pinned(spec: EmbedderSpec) -> bool:
    """Whether ``spec`` loads its registry entry's revision (the pin), not one asked for."""
    return spec.revision == EMBEDDERS.get(spec.name, spec).revision


def with_revision(spec: EmbedderSpec, revision: str | None) -> EmbedderSpec:
    """``spec`` loading ``revision`` (a branch, tag or commit of its Hugging Face
    repository) instead of its pin; None, or the pin itself, keeps the pin.

    An embedder without a Hugging Face model (model-free, or a bundled test model) has
    no revision to choose: one given for it is refused rather than ignored.
    """
    if revision is None or revision == spec.revision:
        return spec
    if spec.model_id is None:
        kind = (
            "is model-free" if not spec.needs_weights else "is a test model bundled with virnucpro"
        )
        raise InputError(
            f"revision '{revision}' given for embedder '{spec.name}', which {kind}: it has "
            "no Hugging Face revision to choose"
        )
    if not _REVISION.fullmatch(revision) or ".." in revision:
        raise InputError(
            f"revision '{revision}' of embedder '{spec.name}' is not a Hugging Face branch, "
            "tag or commit (letters, digits, '.', '_', '-' and '/')"
        )
    return replace(spec, revision=revision)
