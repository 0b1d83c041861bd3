"""ESM2 and FastESM2 checkpoints, loaded into ``transformers.EsmModel`` without hub code.

Two on-disk layouts are read (see ``write_tiny_esm`` for the exact file sets):

``esm``
    ``facebook/esm2_*``: ``config.json`` with ``model_type: esm``, an ``EsmForMaskedLM``
    state dict (``esm.``-prefixed encoder, ``lm_head.*``, ``esm.contact_head.*``, legacy
    ``esm.embeddings.position_ids`` / ``position_embeddings.weight`` and one rotary
    ``inv_freq`` per layer) in ``model.safetensors``, sharded
    ``model-0000k-of-0000n.safetensors`` + index, or ``pytorch_model*.bin``; tokenizer
    files ``vocab.txt``, ``special_tokens_map.json``, ``tokenizer_config.json``.
``fastesm``
    ``Synthyra/FastESM2_650``: ``config.json`` with ``model_type: fast_esm``, an ``auto_map``
    to the hub's ``modeling_fastesm.py`` (never imported here) and the ESM field names;
    the same ``esm.``-prefixed module names in ``model.safetensors``; the ESM2 tokenizer
    files saved with Windows line endings.

Both become the same ``EsmModel`` (sdpa attention, no pooler), so the library's own
forward pass runs: token-dropout scaling (x0.88 without ``<mask>``), rotary embeddings
and the final ``emb_layer_norm_after`` are the library's, not ours.

``token_dropout`` is taken from each ``config.json``. FastESM2_650's says ``true``, and the
current hub code (which reuses transformers' ``EsmEmbeddings``) scales by 0.88 as ESM2
does; the late-2024 FastPLMs code its weights were trained with had no such scaling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import EsmConfig, EsmModel, EsmTokenizer
from transformers.models.esm.modeling_esm import EsmRotaryEmbedding

from virnucpro.errors import InputError

Layout = Literal["esm", "fastesm"]

#: The ESM2 vocabulary (fair-esm's ESM-1b/ESM2 alphabet), in token-id order: 4 specials,
#: 25 residue letters, gap/insertion symbols, one null slot and ``<mask>`` (33 tokens).
ESM2_ALPHABET: tuple[str, ...] = (
    "<cls>",
    "<pad>",
    "<eos>",
    "<unk>",
    *"LAGVSERTIDPKQNFYMHWCXBUZO.-",
    "<null_1>",
    "<mask>",
)

#: Residues averaged by the original tool (SPEC §4): the model reads the whole protein,
#: the mean covers residues 1..min(L, 1024).
POOLED_RESIDUES = 1024

# Config fields the encoder's arithmetic depends on; a checkpoint must state each one.
_REQUIRED_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "layer_norm_eps",
    "position_embedding_type",
    "emb_layer_norm_before",
    "token_dropout",
    "pad_token_id",
    "mask_token_id",
)

_COUNT_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "pad_token_id",
    "mask_token_id",
)

_LAYER_INV_FREQ = re.compile(r"encoder\.layer\.\d+\.attention\.self\.rotary_embeddings\.inv_freq")
_INV_FREQ = "rotary_embeddings.inv_freq"


# --------------------------------------------------------------------------- config


def detect_layout(raw: Mapping[str, Any]) -> Layout:
    """``esm`` or ``fastesm`` from a parsed ``config.json``; anything else is refused."""
    model_type = raw.get("model_type")
    if model_type == "esm":
        return "esm"
    if model_type == "fast_esm":
        return "fastesm"
    hints = [*(raw.get("architectures") or []), *(raw.get("auto_map") or {}).values()]
    if model_type is None and any("fastesm" in str(hint).lower() for hint in hints):
        return "fastesm"
    raise InputError(f"model_type '{model_type}' is not an ESM2 or FastESM2 checkpoint")


def esm_config(raw: Mapping[str, Any], source: str = "config.json") -> EsmConfig:
    """The ``EsmConfig`` for either layout (FastESM's config uses the ESM field names).

    Only the fields that change the encoder's arithmetic are taken, and each must be
    present: a FastESM config written by an older ``FastEsmConfig`` without
    ``token_dropout`` would otherwise silently switch the x0.88 scaling on or off.
    """
    missing = [field for field in _REQUIRED_FIELDS if field not in raw]
    if missing:
        raise InputError(f"{source} lacks {', '.join(missing)}")
    not_counts = [
        field
        for field in _COUNT_FIELDS
        if not isinstance(raw[field], int) or isinstance(raw[field], bool) or raw[field] < 0
    ]
    if not_counts:
        raise InputError(f"{source}: {', '.join(not_counts)} must be whole numbers")
    if raw.get("is_folding_model"):
        raise InputError(f"{source} describes an ESMFold model, not a protein language model")
    if raw.get("hidden_act", "gelu") != "gelu":
        raise InputError(f"{source}: hidden_act '{raw['hidden_act']}' (ESM uses gelu)")
    if raw["position_embedding_type"] not in ("rotary", "absolute"):
        raise InputError(
            f"{source}: position_embedding_type '{raw['position_embedding_type']}' "
            "(expected rotary or absolute)"
        )
    if not raw["num_attention_heads"] or raw["hidden_size"] % raw["num_attention_heads"]:
        raise InputError(
            f"{source}: hidden_size {raw['hidden_size']} is not a multiple of "
            f"num_attention_heads {raw['num_attention_heads']}"
        )
    fields = {field: raw[field] for field in _REQUIRED_FIELDS}
    fields["emb_layer_norm_before"] = bool(fields["emb_layer_norm_before"])
    return EsmConfig(
        **fields,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="sdpa",
    )


def _read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise InputError(f"{model_dir}: not a model folder (no config.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: unreadable config ({error})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: not a JSON object")
    return raw


# --------------------------------------------------------------------------- weights


def _weight_files(model_dir: Path) -> list[Path]:
    """Checkpoint files, safetensors first (single, then sharded), then PyTorch pickles."""
    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        if (model_dir / single).is_file():
            return [model_dir / single]
        if (model_dir / index).is_file():
            try:
                weight_map = json.loads((model_dir / index).read_text())["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise InputError(f"{model_dir / index}: unreadable index ({error})") from None
            files = [model_dir / name for name in sorted(set(weight_map.values()))]
            absent = [file.name for file in files if not file.is_file()]
            if absent:
                raise InputError(f"{model_dir}: missing weight shards {', '.join(absent)}")
            return files
    raise InputError(f"{model_dir}: no model.safetensors or pytorch_model.bin")


def _iter_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    for file in files:
        try:
            if file.suffix == ".safetensors":
                with safe_open(str(file), framework="pt", device="cpu") as handle:
                    for name in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                        yield name, handle.get_tensor(name)
            else:
                # weights_only: tensors and containers only, no arbitrary pickled code.
                state = torch.load(file, map_location="cpu", weights_only=True)
                yield from state.items()
        except InputError:
            raise
        except Exception as error:
            raise InputError(f"{file}: unreadable weights ({error})") from None


def _is_ignored(key: str, config: EsmConfig) -> bool:
    """Checkpoint tensors that exist on disk but take no part in the last hidden state."""
    if key.startswith(("lm_head.", "pooler.")):
        return True
    if key == "embeddings.position_ids":  # legacy persistent buffer (int64 arange)
        return True
    # Early HF ESM ports created learned absolute positions even for rotary models.
    return key == "embeddings.position_embeddings.weight" and (
        config.position_embedding_type == "rotary"
    )


def _encoder_state(
    files: list[Path], config: EsmConfig, dtype: torch.dtype, expected: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The ``EsmModel`` state dict from a checkpoint, floating tensors cast to ``dtype``.

    The rotary ``inv_freq`` stays float32 whatever ``dtype`` is (see ``load_esm``).
    """
    state: dict[str, torch.Tensor] = {}
    inv_freqs: list[torch.Tensor] = []
    unexpected: list[str] = []
    for name, tensor in _iter_tensors(files):
        key = name.removeprefix("esm.")
        if _is_ignored(name, config) or _is_ignored(key, config):
            continue
        if key == _INV_FREQ or _LAYER_INV_FREQ.fullmatch(key):
            inv_freqs.append(tensor.to(torch.float32))
            continue
        if key not in expected:
            unexpected.append(name)
            continue
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise InputError(
                f"tensor {name} has shape {tuple(tensor.shape)}, the config says "
                f"{tuple(expected[key].shape)}"
            )
        state[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    if unexpected:
        raise InputError(f"not an ESM2 checkpoint: unexpected tensors {_some(sorted(unexpected))}")
    required = [key for key in expected if not key.startswith("contact_head.") and key != _INV_FREQ]
    missing = [key for key in required if key not in state]
    if missing:
        raise InputError(f"checkpoint lacks encoder tensors {_some(['esm.' + k for k in missing])}")
    if config.position_embedding_type == "rotary":
        state[_INV_FREQ] = _rotary_inv_freq(inv_freqs, config)
    for key in ("contact_head.regression.weight", "contact_head.regression.bias"):
        # The contact head reads attention maps; it never touches the hidden states.
        state.setdefault(key, torch.zeros(expected[key].shape, dtype=dtype))
    return state


def _rotary_inv_freq(from_checkpoint: list[torch.Tensor], config: EsmConfig) -> torch.Tensor:
    """The float32 inverse frequencies: the checkpoint's (all layers agree) or the formula's."""
    default, _ = EsmRotaryEmbedding.compute_default_rope_parameters(config)
    if not from_checkpoint:
        return default.to(torch.float32)
    first = from_checkpoint[0]
    if first.shape != default.shape or any(not torch.equal(first, t) for t in from_checkpoint):
        raise InputError("rotary inv_freq differs between layers or from the head size")
    return first.clone()


def _some(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


# --------------------------------------------------------------------------- tokenizer


def _load_tokenizer(model_dir: Path, config: EsmConfig) -> EsmTokenizer:
    """``EsmTokenizer`` on the folder's ``vocab.txt``, else on the fixed ESM2 alphabet."""
    vocab = model_dir / "vocab.txt"
    if vocab.is_file():
        tokenizer = EsmTokenizer(vocab_file=str(vocab))
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            fallback = Path(scratch) / "vocab.txt"
            fallback.write_text("\n".join(ESM2_ALPHABET), encoding="utf-8")
            tokenizer = EsmTokenizer(vocab_file=str(fallback))
    if len(tokenizer) != config.vocab_size:
        raise InputError(
            f"{model_dir}: tokenizer has {len(tokenizer)} tokens, config.json says "
            f"{config.vocab_size}"
        )
    for role, expected in (("pad", config.pad_token_id), ("mask", config.mask_token_id)):
        if getattr(tokenizer, f"{role}_token_id") != expected:
            raise InputError(f"{model_dir}: tokenizer and config.json disagree on <{role}>")
    return tokenizer


# --------------------------------------------------------------------------- encoder


class EsmEncoder:
    """An ``EsmModel`` in eval mode with its tokenizer: the ``Encoder`` protocol for ESM.

    Tokens are ``<cls>`` + every residue + ``<eos>``: the model reads the whole protein,
    as the original tool's fair-esm batch converter did; the pool covers residues
    ``1..min(L, pooled_residues)`` only (``pool_excludes_ends``, ``max_pooled``).
    """

    pool_excludes_ends = True

    def __init__(
        self,
        model: EsmModel,
        tokenizer: EsmTokenizer,
        layout: Layout,
        pooled_residues: int = POOLED_RESIDUES,
    ) -> None:
        if pooled_residues < 1:
            raise InputError(f"pooled_residues must be at least 1, not {pooled_residues}")
        config = model.config
        self.model = model
        self.tokenizer = tokenizer
        self.layout: Layout = layout
        self.max_pooled: int | None = pooled_residues
        # Absolute position embeddings (ESM-1 style) cannot read past their table; rotary can.
        self._max_tokens = (
            config.max_position_embeddings if config.position_embedding_type == "absolute" else None
        )
        self.dimension: int = config.hidden_size
        self.pad_token_id: int = tokenizer.pad_token_id
        self._bos = tokenizer.cls_token_id
        self._eos = tokenizer.eos_token_id
        self._unk = tokenizer.unk_token_id
        # One token per residue character: the single-character entries of the vocabulary.
        # For residue strings this is exactly what EsmTokenizer.encode yields (letters outside
        # the vocabulary, lowercase included, become <unk>), without its per-call overhead.
        self._residue_ids = {
            token: index for token, index in tokenizer.get_vocab().items() if len(token) == 1
        }

    @property
    def device(self) -> torch.device:
        return self.model.embeddings.word_embeddings.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embeddings.word_embeddings.weight.dtype

    def tokenize(self, sequence: str) -> list[int]:
        """``<cls>`` + the id of every character + ``<eos>``, never truncated.

        Each character is one token; one outside the vocabulary (a lowercase letter,
        ``*``, ``J``, even a space or ``<``) is ``<unk>``.
        """
        if self._max_tokens is not None and len(sequence) + 2 > self._max_tokens:
            raise InputError(
                f"a protein of {len(sequence)} residues is longer than this model's "
                f"{self._max_tokens - 2} positions"
            )
        ids = self._residue_ids
        unk = self._unk
        return [self._bos, *(ids.get(char, unk) for char in sequence), self._eos]

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden state after ``emb_layer_norm_after``, in the model's dtype."""
        self.check_rotary_precision()
        with torch.inference_mode():
            output = self.model(
                input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
            )
        return output.last_hidden_state

    def check_rotary_precision(self) -> None:
        """Refuse to run if something cast the rotary frequencies to half precision.

        ``model.to(torch.bfloat16)`` casts every floating buffer, ``inv_freq`` included;
        bf16 keeps 8 significant bits, so position x frequency angles beyond ~256 would
        be off by radians.
        """
        rotary = self.model.rotary_embeddings
        if rotary is not None and rotary.inv_freq.dtype != torch.float32:
            raise RuntimeError(
                f"rotary inv_freq is {rotary.inv_freq.dtype}: it must stay float32 "
                "(do not cast the model with .to(dtype); load it with load_esm(dtype=...))"
            )


def load_esm(
    model_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    pooled_residues: int = POOLED_RESIDUES,
) -> EsmEncoder:
    """Load an ESM2 or FastESM2 folder into ``transformers.EsmModel`` on ``device``.

    The layout comes from ``config.json`` (``model_type`` ``esm`` or ``fast_esm``); the
    hub's ``modeling_fastesm.py`` is never imported. Every encoder tensor (embeddings,
    all layers, ``emb_layer_norm_after``) must be in the checkpoint, or ``InputError``
    names the missing ones; unknown tensors are refused too. Ignored on purpose, as they
    play no part in the last hidden state: ``lm_head.*`` (masked-LM head),
    ``esm.contact_head.*`` (contact head; zero-filled when absent, as in FastESM),
    ``esm.embeddings.position_ids`` (a legacy buffer) and, for rotary models, the
    unused legacy ``esm.embeddings.position_embeddings.weight``.

    Precision: floating tensors are cast to ``dtype`` as they are read, except the rotary
    inverse frequencies, which stay float32 (one copy, model-level; the per-layer copies
    of ESM2 checkpoints are identical). transformers computes the rotary angles in float32
    from int64 positions and that float32 ``inv_freq``, so only the final cos/sin are
    rounded to ``dtype``; ``EsmEncoder.hidden_states`` checks ``inv_freq`` is still float32.
    """
    model_dir = Path(model_dir)
    raw = _read_config(model_dir)
    layout = detect_layout(raw)
    config = esm_config(raw, str(model_dir / "config.json"))
    tokenizer = _load_tokenizer(model_dir, config)
    with torch.device("meta"):
        model = EsmModel(config, add_pooling_layer=False)
    expected = model.state_dict()
    state = _encoder_state(_weight_files(model_dir), config, dtype, expected)
    model.load_state_dict(state, strict=True, assign=True)
    # Non-persistent buffer (never in a checkpoint): rebuild it off the meta device.
    model.embeddings.position_ids = torch.arange(config.max_position_embeddings).expand((1, -1))
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    return EsmEncoder(model, tokenizer, layout, pooled_residues)


# --------------------------------------------------------------------------- tiny models

_MAX_POSITIONS = 1026


@dataclass(frozen=True)
class EsmSizes:
    """Architecture sizes of a generated checkpoint; the defaults make the tiny test models."""

    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 64


def _tiny_shared_tensors(seed: int, sizes: EsmSizes) -> dict[str, torch.Tensor]:
    """Seeded random weights both layouts share, under their ``EsmForMaskedLM`` names.

    Linear weights have std 1/sqrt(fan_in) so that attention is sharp and positions (and
    so the rotary precision) matter; layer norms are near identity.
    """
    generator = torch.Generator().manual_seed(seed)
    hidden_size, intermediate_size = sizes.hidden_size, sizes.intermediate_size

    def normal(*shape: int, std: float = 1.0, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * std + mean

    def linear(prefix: str, out_features: int, in_features: int) -> None:
        tensors[f"{prefix}.weight"] = normal(out_features, in_features, std=in_features**-0.5)
        tensors[f"{prefix}.bias"] = normal(out_features, std=0.02)

    def layer_norm(prefix: str) -> None:
        tensors[f"{prefix}.weight"] = normal(hidden_size, std=0.1, mean=1.0)
        tensors[f"{prefix}.bias"] = normal(hidden_size, std=0.1)

    head_dim = hidden_size // sizes.num_heads
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    tensors: dict[str, torch.Tensor] = {
        "esm.embeddings.word_embeddings.weight": normal(len(ESM2_ALPHABET), hidden_size)
    }
    for layer in range(sizes.num_layers):
        prefix = f"esm.encoder.layer.{layer}"
        for projection in ("query", "key", "value"):
            linear(f"{prefix}.attention.self.{projection}", hidden_size, hidden_size)
        tensors[f"{prefix}.attention.self.rotary_embeddings.inv_freq"] = inv_freq.clone()
        linear(f"{prefix}.attention.output.dense", hidden_size, hidden_size)
        layer_norm(f"{prefix}.attention.LayerNorm")
        linear(f"{prefix}.intermediate.dense", intermediate_size, hidden_size)
        linear(f"{prefix}.output.dense", hidden_size, intermediate_size)
        layer_norm(f"{prefix}.LayerNorm")
    layer_norm("esm.encoder.emb_layer_norm_after")
    linear("lm_head.dense", hidden_size, hidden_size)
    layer_norm("lm_head.layer_norm")
    tensors["lm_head.bias"] = normal(len(ESM2_ALPHABET), std=0.02)
    return tensors


def _layout_extras(layout: Layout, seed: int, sizes: EsmSizes) -> dict[str, torch.Tensor]:
    """Tensors only one layout's files hold (none of them reaches the hidden states)."""
    generator = torch.Generator().manual_seed(seed + 7919)
    if layout == "esm":
        # facebook/esm2_* safetensors: the legacy positions and the contact head are stored,
        # the tied lm_head.decoder.weight is not (it is the word embedding matrix).
        return {
            "esm.embeddings.position_ids": torch.arange(_MAX_POSITIONS).unsqueeze(0),
            "esm.embeddings.position_embeddings.weight": torch.randn(
                _MAX_POSITIONS, sizes.hidden_size, generator=generator
            ),
            "esm.contact_head.regression.weight": torch.randn(
                1, sizes.num_layers * sizes.num_heads, generator=generator
            ),
            "esm.contact_head.regression.bias": torch.randn(1, generator=generator),
        }
    # FastESM: no legacy positions, no contact head, an untied decoder matrix.
    return {
        "lm_head.decoder.weight": torch.randn(
            len(ESM2_ALPHABET), sizes.hidden_size, generator=generator
        )
    }


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


def _fastesm_config_json(sizes: EsmSizes) -> dict[str, Any]:
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
        _name_or_path="tiny_fastesm2",
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
        "special_tokens_map.json": _json(special),
        "tokenizer_config.json": _json(tokenizer_config),
    }


def _json(value: Any) -> str:
    """JSON as transformers writes it: 2-space indent, sorted keys, final newline."""
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _write_bytes(path: Path, text: str, crlf: bool = False) -> None:
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))


def tiny_esm_tensors(
    layout: Layout, seed: int = 0, sizes: EsmSizes = EsmSizes()
) -> dict[str, torch.Tensor]:
    """Every tensor ``write_tiny_esm`` stores for ``layout``; same seed, same shared weights."""
    if sizes.hidden_size % sizes.num_heads or (sizes.hidden_size // sizes.num_heads) % 2:
        raise ValueError("hidden_size must split into heads of an even size")
    return _tiny_shared_tensors(seed, sizes) | _layout_extras(layout, seed, sizes)


def write_tiny_esm(
    directory: Path,
    layout: Layout,
    seed: int = 0,
    sizes: EsmSizes = EsmSizes(),
    shards: int = 1,
) -> None:
    """A tiny seeded-random checkpoint in the on-disk layout of the real repositories.

    ``esm`` (as ``facebook/esm2_t33_650M_UR50D``): ``config.json`` (25 keys),
    ``model.safetensors`` (``EsmForMaskedLM`` names as the hub's safetensors conversion
    stores them: no tied ``lm_head.decoder.weight``), ``vocab.txt`` (33 tokens, no final
    newline), ``special_tokens_map.json``, ``tokenizer_config.json``. With ``shards`` > 1
    the weights are split as ``esm2_t36_3B_UR50D`` does (``model-0000k-of-0000n`` +
    ``model.safetensors.index.json``). Not written: README.md, .gitattributes and the
    duplicate pytorch_model.bin / tf_model.h5 of the same weights.

    ``fastesm`` (as ``Synthyra/FastESM2_650``): ``config.json`` with ``model_type``
    ``fast_esm`` and ``auto_map``, ``model.safetensors``, the three tokenizer files with
    CRLF line endings (their hub sizes, 125/132/~1178 bytes, match that) and a
    ``modeling_fastesm.py`` that raises if anything ever imports it. Not written:
    README.md, LICENSE, .gitattributes.

    The same ``seed`` gives the same encoder tensors in both layouts, and the same bytes
    on every run.
    """
    tensors = tiny_esm_tensors(layout, seed, sizes)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    crlf = layout == "fastesm"
    config = _esm_config_json(sizes) if layout == "esm" else _fastesm_config_json(sizes)
    _write_bytes(directory / "config.json", _json(config))
    for name, text in _tokenizer_files(layout).items():
        _write_bytes(directory / name, text, crlf=crlf)
    if layout == "fastesm":
        _write_bytes(
            directory / "modeling_fastesm.py",
            '"""Stands in for the hub\'s remote code, which virnucpro never runs."""\n\n'
            'raise RuntimeError("modeling_fastesm.py must never be imported")\n',
        )
    _write_safetensors(directory, tensors, shards)


def _write_safetensors(directory: Path, tensors: dict[str, torch.Tensor], shards: int) -> None:
    metadata = {"format": "pt"}
    if shards <= 1:
        save_file(tensors, str(directory / "model.safetensors"), metadata=metadata)
        return
    names = sorted(tensors)
    per_shard = -(-len(names) // shards)
    weight_map: dict[str, str] = {}
    for index in range(shards):
        file = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        chunk = names[index * per_shard : (index + 1) * per_shard]
        part = {name: tensors[name].contiguous() for name in chunk}
        save_file(part, str(directory / file), metadata=metadata)
        weight_map |= dict.fromkeys(part, file)
    total = sum(tensor.numel() * tensor.element_size() for tensor in tensors.values())
    index_json = {"metadata": {"total_size": total}, "weight_map": weight_map}
    _write_bytes(directory / "model.safetensors.index.json", _json(index_json))
