"""Seeded random DNABERT-S checkpoints in the on-disk layout of ``zhihan1996/DNABERT-S``.

The bundled ``assets/models/tiny_dnabert_s`` and benchmark models of the real size come
from the same writer; only the sizes (and the BPE corpus, which must be long enough to
learn the real 4,096-token vocabulary) differ.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from virnucpro.embed.embedders.dnabert_s import (
    CONFIG_FILE,
    SPECIAL_TOKENS,
    SPECIAL_TOKENS_MAP_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    WEIGHTS_BIN,
    DnaBertSConfig,
    MosaicBertModel,
)
from virnucpro.testing.files import json_text, write_text

_ALPHABET = ("A", "C", "G", "N", "T")


@dataclass(frozen=True)
class DnaBertSSizes:
    """Architecture sizes of a generated checkpoint; the defaults make the tiny test model.

    The head count 4 exercises the power-of-two ALiBi rule. The BPE vocabulary
    (``vocab_size`` tokens, specials included) is learnt from ``corpus_sequences``
    seeded random DNA sequences of ``corpus_length`` bases.
    """

    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 64
    vocab_size: int = 64
    corpus_sequences: int = 48
    corpus_length: int = 128

    def config(self) -> DnaBertSConfig:
        return DnaBertSConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
        )


#: zhihan1996/DNABERT-S (its config.json; 117,068,544 float32 weights in pytorch_model.bin)
DNABERT_S_SIZES = DnaBertSSizes(
    hidden_size=768,
    num_layers=12,
    num_heads=12,
    intermediate_size=3072,
    vocab_size=4096,
    corpus_sequences=2000,
    corpus_length=1000,
)


def write_tiny_dnabert_s(
    directory: Path,
    seed: int = 0,
    sizes: DnaBertSSizes = DnaBertSSizes(),
    *,
    dtype: torch.dtype = torch.float32,
    name_or_path: str = "virnucpro/tiny-dnabert-s",
) -> None:
    """Write a DNABERT-S checkpoint from seeded random weights (tiny by default).

    Same files as the hub snapshot (``config.json``, ``pytorch_model.bin``,
    ``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``; the
    remote-code ``.py`` files are left out), same config keys, tensor names and
    formats. The BPE vocabulary is learnt from a seeded random DNA corpus by a small
    deterministic learner, so the same seed gives byte-identical files. ``dtype`` is the
    storage dtype of the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    tokenizer = _tokenizer(seed, sizes)
    if tokenizer.get_vocab_size() != sizes.vocab_size:
        raise ValueError(
            f"the BPE corpus gave {tokenizer.get_vocab_size()} tokens, not {sizes.vocab_size}"
        )
    tokenizer.save(str(directory / TOKENIZER_FILE), pretty=True)
    write_text(directory / TOKENIZER_CONFIG_FILE, json_text(_tokenizer_config()))
    special = {
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "unk_token": "[UNK]",
    }
    write_text(directory / SPECIAL_TOKENS_MAP_FILE, json_text(special))

    config = _hub_config(sizes, name_or_path)
    config["torch_dtype"] = str(dtype).removeprefix("torch.")
    write_text(directory / CONFIG_FILE, json_text(config, indent=4, newline=False))
    torch.save(_state_dict(sizes.config(), seed, dtype), directory / WEIGHTS_BIN)


def dnabert_s_parameter_count(sizes: DnaBertSSizes) -> int:
    """Weights in ``pytorch_model.bin`` for these sizes, counted on the meta device."""
    with torch.device("meta"):
        model = MosaicBertModel(sizes.config())
    return sum(tensor.numel() for tensor in model.state_dict().values())


def _hub_config(sizes: DnaBertSSizes, name_or_path: str) -> dict[str, Any]:
    """The DNABERT-S ``config.json`` key set with the given sizes."""
    return {
        "_name_or_path": name_or_path,
        "alibi_starting_size": 512,
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_bert.BertConfig",
            "AutoModel": "bert_layers.BertModel",
            "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
            "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
        },
        "classifier_dropout": None,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": sizes.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": sizes.intermediate_size,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": sizes.num_heads,
        "num_hidden_layers": sizes.num_layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": sizes.vocab_size,
    }


def _tokenizer_config() -> dict[str, Any]:
    return {
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "[UNK]",
    }


def _state_dict(
    config: DnaBertSConfig, seed: int, dtype: torch.dtype
) -> OrderedDict[str, torch.Tensor]:
    """Seeded random tensors for every checkpoint name, in the module's order.

    Scales are large enough (unit-variance projections, non-trivial LayerNorm
    affine terms) for attention and gating to matter, so tests can tell a wrong
    forward pass from a right one.
    """
    with torch.device("meta"):
        template = MosaicBertModel(config).state_dict()
    generator = torch.Generator().manual_seed(seed)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, tensor in template.items():
        shape = tuple(tensor.shape)
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if "LayerNorm" in name or "layernorm" in name:
            value = 1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise
        elif "embeddings" in name:
            value = noise
        elif name.endswith("weight"):
            value = noise / math.sqrt(shape[1])
        else:
            value = 0.1 * noise
        state[name] = value.to(dtype).contiguous()
    return state


def _tokenizer(seed: int, sizes: DnaBertSSizes) -> Any:
    """A BPE tokenizer shaped like DNABERT-S's, with merges learnt from seeded random DNA.

    The tokenizers library's BPE trainer is deterministic, so the file is reproducible.
    """
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.processors import TemplateProcessing
    from tokenizers.trainers import BpeTrainer

    rng = random.Random(seed)
    corpus = [
        "".join(rng.choice("ACGT") for _ in range(sizes.corpus_length))
        for _ in range(sizes.corpus_sequences)
    ]
    tokenizer = Tokenizer(BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    trainer = BpeTrainer(
        vocab_size=sizes.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list(_ALPHABET),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer
