"""Seeded random ESM2 / FastESM2 checkpoints in the on-disk layouts of the real repositories.

Test fixtures (the bundled ``assets/models/tiny_esm2`` and ``tiny_fastesm2``) and
benchmark models of the real sizes come from the same code: ``esm_tensor_specs`` lists
every tensor a layout stores (name, shape, how it is drawn), ``iter_esm_tensors`` draws
them one at a time and ``write_tiny_esm`` streams them into the files, so a full-size
model is written holding one tensor (safetensors) or one shard (pickles) at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import torch

from virnucpro.embed.embedders.esm import ESM2_ALPHABET, Layout
from virnucpro.testing.files import (
    json_text,
    shard_names,
    split_by_bytes,
    write_index,
    write_safetensors,
    write_text,
)

#: ``safetensors``: model.safetensors or model-0000k-of-0000n.safetensors + index;
#: ``bin``: pytorch_model.bin or pytorch_model-0000k-of-0000n.bin + index (torch.save).
WeightFormat = Literal["safetensors", "bin"]

_MAX_POSITIONS = 1026


@dataclass(frozen=True)
class EsmSizes:
    """Architecture sizes of a generated checkpoint; the defaults make the tiny test models."""

    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 64


#: facebook/esm2_t36_3B_UR50D
ESM2_3B_SIZES = EsmSizes(hidden_size=2560, num_layers=36, num_heads=40, intermediate_size=10240)
#: facebook/esm2_t33_650M_UR50D and Synthyra/FastESM2_650
ESM2_650M_SIZES = EsmSizes(hidden_size=1280, num_layers=33, num_heads=20, intermediate_size=5120)


@dataclass(frozen=True)
class TensorSpec:
    """One stored tensor and how it is drawn.

    ``normal``: ``randn * std + mean`` from the generator of ``stream`` (0: the weights
    both layouts share, seeded with the seed; 1: tensors only one layout stores, seeded
    with seed + 7919); ``inv_freq``: the rotary inverse frequencies of a head of
    ``2 * shape[0]``; ``positions``: the legacy int64 ``arange``; ``tied``: the very tensor
    ``tied_to`` (as ``torch.save`` stores a tied weight).
    """

    name: str
    shape: tuple[int, ...]
    fill: Literal["normal", "inv_freq", "positions", "tied"] = "normal"
    std: float = 1.0
    mean: float = 0.0
    stream: int = 0
    tied_to: str | None = None

    def dtype(self, floating: torch.dtype) -> torch.dtype:
        if self.fill == "positions":
            return torch.int64
        return torch.float32 if self.fill == "inv_freq" else floating


def esm_tensor_specs(
    layout: Layout, sizes: EsmSizes = EsmSizes(), weights: WeightFormat = "safetensors"
) -> list[TensorSpec]:
    """Every tensor a checkpoint of ``layout`` stores, in the order they are drawn.

    Names are ``EsmForMaskedLM``'s. Linear weights have std 1/sqrt(fan_in) so that
    attention is sharp and positions (and so the rotary precision) matter; layer norms
    are near identity. ``esm`` safetensors (as the hub's conversion stores them) hold the
    legacy positions and the contact head but not the tied ``lm_head.decoder.weight``,
    which a ``bin`` pickle does hold; FastESM holds an untied decoder matrix instead.
    """
    if sizes.hidden_size % sizes.num_heads or (sizes.hidden_size // sizes.num_heads) % 2:
        raise ValueError("hidden_size must split into heads of an even size")
    hidden, inner, vocab = sizes.hidden_size, sizes.intermediate_size, len(ESM2_ALPHABET)
    specs = [TensorSpec("esm.embeddings.word_embeddings.weight", (vocab, hidden))]

    def linear(prefix: str, out_features: int, in_features: int) -> None:
        specs.append(
            TensorSpec(f"{prefix}.weight", (out_features, in_features), std=in_features**-0.5)
        )
        specs.append(TensorSpec(f"{prefix}.bias", (out_features,), std=0.02))

    def layer_norm(prefix: str) -> None:
        specs.append(TensorSpec(f"{prefix}.weight", (hidden,), std=0.1, mean=1.0))
        specs.append(TensorSpec(f"{prefix}.bias", (hidden,), std=0.1))

    head_dim = hidden // sizes.num_heads
    for layer in range(sizes.num_layers):
        prefix = f"esm.encoder.layer.{layer}"
        for projection in ("query", "key", "value"):
            linear(f"{prefix}.attention.self.{projection}", hidden, hidden)
        specs.append(
            TensorSpec(
                f"{prefix}.attention.self.rotary_embeddings.inv_freq",
                (head_dim // 2,),
                fill="inv_freq",
            )
        )
        linear(f"{prefix}.attention.output.dense", hidden, hidden)
        layer_norm(f"{prefix}.attention.LayerNorm")
        linear(f"{prefix}.intermediate.dense", inner, hidden)
        linear(f"{prefix}.output.dense", hidden, inner)
        layer_norm(f"{prefix}.LayerNorm")
    layer_norm("esm.encoder.emb_layer_norm_after")
    linear("lm_head.dense", hidden, hidden)
    layer_norm("lm_head.layer_norm")
    specs.append(TensorSpec("lm_head.bias", (vocab,), std=0.02))
    if layout == "esm":
        specs += [
            TensorSpec("esm.embeddings.position_ids", (1, _MAX_POSITIONS), fill="positions"),
            TensorSpec(
                "esm.embeddings.position_embeddings.weight", (_MAX_POSITIONS, hidden), stream=1
            ),
            TensorSpec(
                "esm.contact_head.regression.weight",
                (1, sizes.num_layers * sizes.num_heads),
                stream=1,
            ),
            TensorSpec("esm.contact_head.regression.bias", (1,), stream=1),
        ]
        if weights == "bin":
            specs.append(
                TensorSpec(
                    "lm_head.decoder.weight",
                    (vocab, hidden),
                    fill="tied",
                    tied_to="esm.embeddings.word_embeddings.weight",
                )
            )
    else:
        specs.append(TensorSpec("lm_head.decoder.weight", (vocab, hidden), stream=1))
    return specs


def iter_esm_tensors(
    specs: list[TensorSpec], seed: int = 0, dtype: torch.dtype = torch.float32
) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` for each spec in turn, drawn when asked for (floating ones in ``dtype``)."""
    generators = [torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 7919)]
    sources = {spec.tied_to for spec in specs if spec.tied_to}
    kept: dict[str, torch.Tensor] = {}
    for spec in specs:
        if spec.fill == "tied":
            tensor = kept[spec.tied_to]
        elif spec.fill == "positions":
            tensor = torch.arange(spec.shape[-1]).unsqueeze(0)
        elif spec.fill == "inv_freq":
            head_dim = 2 * spec.shape[0]
            steps = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
            tensor = 1.0 / (10000**steps)
        else:
            tensor = torch.randn(spec.shape, generator=generators[spec.stream])
            tensor = tensor.mul_(spec.std).add_(spec.mean).to(dtype)
        if spec.name in sources:
            kept[spec.name] = tensor
        yield spec.name, tensor


def tiny_esm_tensors(
    layout: Layout, seed: int = 0, sizes: EsmSizes = EsmSizes()
) -> dict[str, torch.Tensor]:
    """Every tensor ``write_tiny_esm`` stores for ``layout``; same seed, same shared weights."""
    return dict(iter_esm_tensors(esm_tensor_specs(layout, sizes), seed))


def esm_parameter_count(specs: list[TensorSpec]) -> int:
    """Weights stored in the files (buffers and tied copies not counted)."""
    return sum(math.prod(spec.shape) for spec in specs if spec.fill == "normal")


def write_tiny_esm(
    directory: Path,
    layout: Layout,
    seed: int = 0,
    sizes: EsmSizes = EsmSizes(),
    shards: int = 1,
    *,
    weights: WeightFormat = "safetensors",
    dtype: torch.dtype = torch.float32,
    name_or_path: str = "tiny_fastesm2",
) -> None:
    """A seeded-random checkpoint in the on-disk layout of the real repositories.

    ``esm`` (as ``facebook/esm2_t33_650M_UR50D``): ``config.json`` (25 keys),
    ``model.safetensors`` (``EsmForMaskedLM`` names as the hub's safetensors conversion
    stores them: no tied ``lm_head.decoder.weight``), ``vocab.txt`` (33 tokens, no final
    newline), ``special_tokens_map.json``, ``tokenizer_config.json``. With ``weights``
    ``bin``, ``pytorch_model.bin`` instead, as ``torch.save`` writes it (tied decoder
    included). With ``shards`` > 1 the weights are split, in order and by bytes, into
    ``model-0000k-of-0000n.safetensors`` or ``pytorch_model-0000k-of-0000n.bin`` and the
    matching ``*.index.json``, as ``esm2_t36_3B_UR50D`` stores them. Not written:
    README.md, .gitattributes and the duplicate copies of the same weights.

    ``fastesm`` (as ``Synthyra/FastESM2_650``): ``config.json`` with ``model_type``
    ``fast_esm``, ``auto_map`` and ``_name_or_path`` ``name_or_path``,
    ``model.safetensors``, the three tokenizer files with CRLF line endings (their hub
    sizes, 125/132/~1178 bytes, match that) and a ``modeling_fastesm.py`` that raises if
    anything ever imports it. Not written: README.md, LICENSE, .gitattributes.

    ``dtype`` is the storage dtype of the floating weights (the rotary ``inv_freq`` stays
    float32). The same ``seed`` gives the same encoder tensors in both layouts, and the
    same bytes on every run.
    """
    specs = esm_tensor_specs(layout, sizes, weights)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    crlf = layout == "fastesm"
    config = (
        _esm_config_json(sizes) if layout == "esm" else _fastesm_config_json(sizes, name_or_path)
    )
    config["torch_dtype"] = str(dtype).removeprefix("torch.")
    write_text(directory / "config.json", json_text(config))
    for name, text in _tokenizer_files(layout).items():
        write_text(directory / name, text, crlf=crlf)
    if layout == "fastesm":
        write_text(
            directory / "modeling_fastesm.py",
            '"""Stands in for the hub\'s remote code, which virnucpro never runs."""\n\n'
            'raise RuntimeError("modeling_fastesm.py must never be imported")\n',
        )
    _write_weights(directory, specs, iter_esm_tensors(specs, seed, dtype), shards, weights, dtype)


def _write_weights(
    directory: Path,
    specs: list[TensorSpec],
    tensors: Iterator[tuple[str, torch.Tensor]],
    shards: int,
    weights: WeightFormat,
    dtype: torch.dtype,
) -> None:
    """The weight files: one, or ``shards`` runs of the specs in order and an index."""
    layout = {spec.name: (spec.shape, spec.dtype(dtype)) for spec in specs}
    sizes = {name: math.prod(shape) * kind.itemsize for name, (shape, kind) in layout.items()}
    stem, suffix = (
        ("model", "safetensors") if weights == "safetensors" else ("pytorch_model", "bin")
    )
    runs = split_by_bytes(sizes, max(1, shards))
    files = [f"{stem}.{suffix}"] if len(runs) == 1 else shard_names(len(runs), stem, suffix)
    weight_map: dict[str, str] = {}
    for file, run in zip(files, runs, strict=True):
        part = islice(tensors, len(run))
        if weights == "safetensors":
            write_safetensors(
                directory / file, {name: layout[name] for name in run}, part, {"format": "pt"}
            )
        else:
            torch.save(dict(part), directory / file)
        weight_map |= dict.fromkeys(run, file)
    if len(runs) > 1:
        write_index(directory / f"{stem}.{suffix}.index.json", weight_map, sum(sizes.values()))


def _esm_config_json(sizes: EsmSizes) -> dict[str, Any]:
    # The 25 keys of facebook/esm2_t33_650M_UR50D's config.json (724 bytes), small sizes.
    return {
        "architectures": ["EsmForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "classifier_dropout": None,
        "emb_layer_norm_before": False,
        "esmfold_config": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": sizes.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": sizes.intermediate_size,
        "is_folding_model": False,
        "layer_norm_eps": 1e-05,
        "mask_token_id": 32,
        "max_position_embeddings": _MAX_POSITIONS,
        "model_type": "esm",
        "num_attention_heads": sizes.num_heads,
        "num_hidden_layers": sizes.num_layers,
        "pad_token_id": 1,
        "position_embedding_type": "rotary",
        "token_dropout": True,
        "torch_dtype": "float32",
        "transformers_version": "4.25.0.dev0",
        "use_cache": True,
        "vocab_list": None,
        "vocab_size": len(ESM2_ALPHABET),
    }


def _fastesm_config_json(sizes: EsmSizes, name_or_path: str) -> dict[str, Any]:
    # Synthyra/FastESM2_650's 27 config.json keys: the ESM ones, fast_esm, the remote-code map.
    auto_map = {
        "AutoConfig": "modeling_fastesm.FastEsmConfig",
        "AutoModel": "modeling_fastesm.FastEsmModel",
        "AutoModelForMaskedLM": "modeling_fastesm.FastEsmForMaskedLM",
        "AutoModelForSequenceClassification": "modeling_fastesm.FastEsmForSequenceClassification",
        "AutoModelForTokenClassification": "modeling_fastesm.FastEsmForTokenClassification",
    }
    config = _esm_config_json(sizes)
    config.update(
        _name_or_path=name_or_path,
        architectures=["FastEsmForMaskedLM"],
        auto_map=auto_map,
        model_type="fast_esm",
        transformers_version="4.45.0",
    )
    return config


def _special_token(content: str) -> dict[str, Any]:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }


def _tokenizer_files(layout: Layout) -> dict[str, str]:
    special = {
        "cls_token": "<cls>",
        "eos_token": "<eos>",
        "mask_token": "<mask>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
    }
    huge = 1000000000000000019884624838656  # transformers' "no maximum length"
    tokenizer_config: dict[str, Any] = {"model_max_length": huge, "tokenizer_class": "EsmTokenizer"}
    if layout == "fastesm":  # saved by a transformers 4.4x EsmTokenizer
        tokenizer_config |= special | {
            "added_tokens_decoder": {
                str(ESM2_ALPHABET.index(token)): _special_token(token)
                for token in ("<cls>", "<pad>", "<eos>", "<unk>", "<mask>")
            },
            "clean_up_tokenization_spaces": True,
        }
    return {
        "vocab.txt": "\n".join(ESM2_ALPHABET),
        "special_tokens_map.json": json_text(special),
        "tokenizer_config.json": json_text(tokenizer_config),
    }
