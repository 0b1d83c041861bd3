"""DNABERT-S (``zhihan1996/DNABERT-S``) as a native PyTorch module: no remote code.

DNABERT-S is a MosaicBERT encoder. Its hub repository ships the model code as
``trust_remote_code`` files whose Triton kernel fails on current Triton, and
``transformers`` has no class for it, so this module re-implements the forward pass
and loads the checkpoint's own tensors and tokenizer file.

Facts about the real checkpoint (and where they were read):

* Files on the hub (``huggingface.co/zhihan1996/DNABERT-S/tree/main``): ``config.json``
  (1.03 kB), ``pytorch_model.bin`` (468 MB, pickled ``OrderedDict`` of ``FloatStorage``
  tensors; no ``model.safetensors`` on main), ``tokenizer.json`` (168 kB),
  ``tokenizer_config.json`` (268 B), ``special_tokens_map.json`` (125 B), plus the
  remote-code files ``bert_layers.py``, ``bert_padding.py``, ``configuration_bert.py``,
  ``flash_attn_triton.py`` that we do not use.
* ``config.json`` (identical copy in GitHub ``MAGICS-LAB/DNABERT_S``,
  ``evaluate/model_codes/config.json``; its 1,025-byte ``json.dump(indent=4)`` rendering
  matches the hub's size): hidden 768, 12 layers, 12 heads, intermediate 3072,
  vocab 4096, type_vocab 2, ``layer_norm_eps`` 1e-12, ``alibi_starting_size`` 512,
  ``attention_probs_dropout_prob`` 0.0, ``hidden_act`` "gelu", ``pad_token_id`` 0,
  ``architectures`` ["BertModel"], ``auto_map`` to ``bert_layers.BertModel`` etc.
* Tensor names: the weights were written by ``BertModel.save_pretrained`` of the
  MosaicBERT ``BertModel`` (``MAGICS-LAB/DNABERT_S`` ``train/pretrain/training.py`` saves
  ``model.dnabert2``; ``models/dnabert_s.py`` reloads ``pytorch_model.bin`` into that
  ``BertModel`` with a strict ``load_state_dict`` and reads ``pooler.dense``). So keys
  have no ``bert.`` prefix and no MLM head, and include the pooler, e.g.
  ``encoder.layer.0.attention.self.Wqkv.weight`` (2304, 768). The 468 MB file is
  consistent: this layout holds 117,068,544 float32 parameters (468.3 MB).
* Forward pass (``bert_layers.py`` in ``MAGICS-LAB/DNABERT_S``): word + token-type
  embeddings (no position embeddings), LayerNorm; per layer a fused ``Wqkv`` split as
  (3, heads, head_dim), scores / sqrt(head_dim) + ALiBi + padding bias (-10000),
  softmax, ``attention.output.dense`` then LayerNorm(x + residual); then the gated MLP
  ``gated_layers`` (no bias, 2 x intermediate), exact-erf GELU of the first half times
  the second half, ``wo``, LayerNorm(x + residual). ALiBi slopes follow the
  power-of-two rule with the "closest power of two, then every other slope of twice
  as many heads" extension; distances are symmetric |i - j|. The last hidden state
  is the last layer's output (before the pooler); MosaicBERT runs only the real
  tokens through the layers (unpadding) and puts zeros back at padded positions.
* Tokenizer: ``tokenizer_config.json`` (read on the hub; its 268-byte
  ``indent=2`` rendering matches) names ``PreTrainedTokenizerFast`` with
  [CLS]/[SEP]/[PAD]/[UNK]/[MASK] and an unbounded ``model_max_length`` (no
  truncation); ``special_tokens_map.json`` (125 B) lists the same five. DNABERT-S
  reuses the DNABERT-2 BPE tokenizer (maintainer, ``MAGICS-LAB/DNABERT_S`` issue #18;
  both ``tokenizer.json`` files are 168 kB, vocab 4096). Ids ``[UNK]`` 0, ``[CLS]`` 1,
  ``[SEP]`` 2, ``[PAD]`` 3, ``[MASK]`` 4, a ``TemplateProcessing`` ``[CLS] $A [SEP]``,
  a Whitespace pre-tokenizer and no normalizer come from DNABERT-2-family copies of
  the file, not from the DNABERT-S file itself; this module reads the ids from the
  file and does not depend on the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from virnucpro.embed.checkpoints import (
    CONFIG_FILE,
    PYTORCH_BIN,
    SAFETENSORS,
    iter_tensors,
    read_config,
    to_target,
    weight_files,
)
from virnucpro.embed.embedders.config_checks import (
    check_tokenizer_settings,
    check_weight_count,
    epsilon,
    head_size,
    shown,
    size,
)
from virnucpro.errors import InputError, examples

WEIGHTS_BIN = PYTORCH_BIN
WEIGHTS_SAFETENSORS = SAFETENSORS
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

#: The special tokens of the DNABERT-2/DNABERT-S vocabulary, in id order.
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
_SPECIAL_TOKEN_ROLES = {
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "mask_token": "[MASK]",
}
#: DNA the tokenizer must give back unchanged between [CLS] and [SEP].
_PROBE = "ACGTTGCAAGGCTTACCGATAGCATGCAAT"


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnaBertSConfig:
    """The ``config.json`` fields the forward pass needs; everything else is ignored."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = CONFIG_FILE) -> DnaBertSConfig:
        """Read the fields, refusing a config that cannot describe a MosaicBERT encoder:
        every size a whole number within ``config_checks.SIZE_CAPS``, before anything
        is built."""
        required = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        )
        missing = [key for key in required if key not in values]
        if missing:
            raise InputError(f"{source}: not a DNABERT-S config, missing {', '.join(missing)}")
        sizes = {key: size(values, key, source) for key in required}
        head_size(sizes["hidden_size"], sizes["num_attention_heads"], source)
        return cls(
            **sizes,
            type_vocab_size=size(values, "type_vocab_size", source, default=2),
            layer_norm_eps=epsilon(values, "layer_norm_eps", source, default=1e-12),
        )

    def weight_count(self) -> int:
        """Weights of the encoder's matrices (embeddings, attention, gated MLP, pooler): a
        lower bound of what a checkpoint of this config stores."""
        hidden, inner = self.hidden_size, self.intermediate_size
        layer = 4 * hidden * hidden + 3 * hidden * inner
        embeddings = (self.vocab_size + self.type_vocab_size) * hidden
        return embeddings + self.num_hidden_layers * layer + hidden * hidden

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


# ---------------------------------------------------------------------------------------
# ALiBi
# ---------------------------------------------------------------------------------------


def alibi_slopes(num_heads: int) -> list[float]:
    """Per-head ALiBi slopes, as MosaicBERT computes them.

    For a power of two n the slopes are 2^(-8/n), 2^(-16/n), ... For other head
    counts (DNABERT-S has 12) MosaicBERT takes the slopes of the closest lower power
    of two p, then the odd-numbered slopes of 2p heads until it has n.
    """
    if num_heads < 1:
        raise ValueError(f"num_heads must be positive, not {num_heads}")

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_two(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def attention_bias(
    attention_mask: torch.Tensor, num_heads: int, dtype: torch.dtype
) -> torch.Tensor:
    """Additive attention bias (batch, heads, tokens, tokens): ALiBi plus key padding.

    Built in float32 and cast once, so the slopes and distances are never rounded
    to half precision before they are combined. Padded keys get -inf: every query
    still sees its own sequence's real keys, so no softmax row is empty, and real
    tokens get exactly zero weight on padding, as in MosaicBERT, which removes the
    padding altogether. Only |i - j| enters, so values match an unpadded run.
    """
    device = attention_mask.device
    length = attention_mask.shape[-1]
    slopes = torch.tensor(alibi_slopes(num_heads), dtype=torch.float32, device=device)
    positions = torch.arange(length, device=device, dtype=torch.float32)
    distance = (positions[None, :] - positions[:, None]).abs()
    alibi = -slopes[:, None, None] * distance  # (heads, tokens, tokens)
    padding = torch.zeros(attention_mask.shape, dtype=torch.float32, device=device)
    padding = padding.masked_fill(~attention_mask.bool(), float("-inf"))
    bias = alibi[None, :, :, :] + padding[:, None, None, :]
    return bias.to(dtype)


# ---------------------------------------------------------------------------------------
# The MosaicBERT modules; attribute names reproduce the checkpoint's tensor names.
# ---------------------------------------------------------------------------------------


class MosaicBertEmbeddings(nn.Module):
    """Word + token-type embeddings and LayerNorm; ALiBi replaces position embeddings."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # DNABERT-S embeds single sequences: every token has token type 0.
        token_type = self.token_type_embeddings.weight[0]
        return self.LayerNorm(self.word_embeddings(input_ids) + token_type)


class MosaicBertSelfAttention(nn.Module):
    """Multi-head attention from one fused query/key/value projection (``Wqkv``)."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch, length, width = hidden.shape
        # The fused output is laid out (q|k|v, head, head_dim), as MosaicBERT splits it.
        qkv = self.Wqkv(hidden).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, D)
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
        return context.transpose(1, 2).reshape(batch, length, width)


class MosaicBertSelfOutput(nn.Module):
    """Output projection, then post-LayerNorm with the residual."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(context) + residual)


class MosaicBertAttention(nn.Module):
    """``attention.self`` and ``attention.output``, named as in the checkpoint."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.self = MosaicBertSelfAttention(config)
        self.output = MosaicBertSelfOutput(config)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden, bias), hidden)


class MosaicBertGluMlp(nn.Module):
    """Gated-linear-unit feed-forward block: GELU(first half) x second half, then ``wo``."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        gate, linear = self.gated_layers(hidden).split(self.intermediate_size, dim=-1)
        # MosaicBERT uses the exact (erf) GELU, not the tanh approximation.
        return self.layernorm(self.wo(F.gelu(gate) * linear) + hidden)


class MosaicBertLayer(nn.Module):
    """One transformer block: attention then gated MLP, both post-LayerNorm."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.attention = MosaicBertAttention(config)
        self.mlp = MosaicBertGluMlp(config)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attention(hidden, bias))


class MosaicBertLayers(nn.Module):
    """The stack of blocks, stored as ``encoder.layer.N`` like the checkpoint."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(MosaicBertLayer(config) for _ in range(config.num_hidden_layers))


class MosaicBertPooler(nn.Module):
    """The [CLS] pooler the checkpoint carries; loaded for a strict match, never used."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)


class MosaicBertModel(nn.Module):
    """The MosaicBERT ``BertModel`` of DNABERT-S; ``forward`` gives the last hidden state."""

    def __init__(self, config: DnaBertSConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = MosaicBertEmbeddings(config)
        self.encoder = MosaicBertLayers(config)
        self.pooler = MosaicBertPooler(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden state (batch, tokens, hidden); zeros at padded positions.

        Real tokens never attend to padding, so their values equal a run on the
        sequence alone; padded positions are zeroed as MosaicBERT's re-padding does.
        """
        keep = attention_mask.bool()
        hidden = self.embeddings(input_ids)
        bias = attention_bias(keep, self.config.num_attention_heads, hidden.dtype)
        for layer in self.encoder.layer:
            hidden = layer(hidden, bias)
        return hidden.masked_fill(~keep[:, :, None], 0.0)


# ---------------------------------------------------------------------------------------
# The loaded encoder (implements virnucpro.embed.embedders.base.Encoder)
# ---------------------------------------------------------------------------------------


class DnaBertSEncoder:
    """DNABERT-S on a device: BPE tokens with [CLS]/[SEP], MosaicBERT last hidden state.

    DNABERT-S features average every token, [CLS] and [SEP] included (the original
    tool took ``torch.mean`` over the whole hidden state), so ``pool_excludes_ends``
    is False. Sequences are never truncated: ALiBi has no maximum length.
    """

    pool_excludes_ends = False
    max_pooled = None

    def __init__(
        self,
        model: MosaicBertModel,
        tokenizer: Any,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.dtype = dtype
        self.dimension = model.config.hidden_size
        self.pad_token_id = _special_token_id(tokenizer, "[PAD]")
        self.cls_token_id = _special_token_id(tokenizer, "[CLS]")
        self.sep_token_id = _special_token_id(tokenizer, "[SEP]")
        self._special_ids = {
            token_id
            for token in SPECIAL_TOKENS
            if (token_id := tokenizer.token_to_id(token)) is not None
        }

    def tokenize(self, sequence: str) -> list[int]:
        """Token ids of one sequence: [CLS], BPE tokens, [SEP]; no truncation."""
        return list(self.tokenizer.encode(sequence, add_special_tokens=True).ids)

    def tokenize_batch(self, sequences: list[str]) -> list[list[int]]:
        """The ``tokenize`` ids of many sequences in one call: the fast tokenizer encodes
        them in parallel and without the GIL, and skips the offsets nothing here reads
        (one ``encode`` per 500 bp frame costs more host time than the GPU's forward)."""
        encodings = self.tokenizer.encode_batch_fast(sequences, add_special_tokens=True)
        return [encoding.ids for encoding in encodings]

    def decode(self, token_ids: list[int]) -> str:
        """The nucleotides behind token ids, special tokens dropped.

        Joins the BPE pieces directly: the tokenizer file has no decoder, so its own
        ``decode`` would put a space between pieces.
        """
        return "".join(
            self.tokenizer.id_to_token(token_id)
            for token_id in token_ids
            if token_id not in self._special_ids
        )

    def hidden_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Last hidden state (batch, tokens, dimension) in the model's dtype, on its device;
        no mask (None) for a batch without padding."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if input_ids.shape != attention_mask.shape or input_ids.dim() != 2:
            raise ValueError(
                f"input_ids {tuple(input_ids.shape)} and attention_mask "
                f"{tuple(attention_mask.shape)} must be the same (batch, tokens) shape"
            )
        with torch.inference_mode():
            return self.model(
                input_ids.to(self.device, dtype=torch.long),
                attention_mask.to(self.device),
            )


def _special_token_id(tokenizer: Any, token: str) -> int:
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise InputError(f"{TOKENIZER_FILE}: the DNABERT-S tokenizer has no {token} token")
    return int(token_id)


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def read_dnabert_s_folder(model_dir: Path) -> tuple[DnaBertSConfig, Any, list[Path]]:
    """Everything of a DNABERT-S folder but its tensors, checked before anything is
    allocated: the config, the tokenizer and the weight files, which must be large enough
    for the weights the config describes."""
    model_dir = Path(model_dir)
    source = str(model_dir / CONFIG_FILE)
    config = DnaBertSConfig.from_dict(read_config(model_dir), source)
    tokenizer = _load_tokenizer(model_dir / TOKENIZER_FILE, config)
    check_tokenizer_settings(
        model_dir, _SPECIAL_TOKEN_ROLES, "PreTrainedTokenizerFast", tokenizer.id_to_token
    )
    files = weight_files(model_dir)
    sizes = {
        key: getattr(config, key)
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size")
    }
    check_weight_count(config.weight_count(), sizes, files, source)
    return config, tokenizer, files


def load_dnabert_s(model_dir: Path, device: torch.device, dtype: torch.dtype) -> DnaBertSEncoder:
    """Load a DNABERT-S checkpoint directory (hub snapshot layout) without remote code.

    Reads ``config.json``, ``tokenizer.json`` and the weights (any layout of
    ``virnucpro.embed.checkpoints``: ``model.safetensors`` first, else ``pytorch_model.bin``
    unpickled with ``weights_only``). The module is built on the ``meta`` device and
    takes each tensor as it is read, already cast to ``dtype`` and on ``device``. Every
    tensor of the checkpoint must match the module by name and shape; anything missing,
    extra or mis-shaped is an ``InputError`` naming the tensors.
    """
    config, tokenizer, files = read_dnabert_s_folder(model_dir)
    with torch.device("meta"):
        model = MosaicBertModel(config)
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    mismatched: dict[str, str] = {}
    for name, tensor in iter_tensors(files):
        if name not in expected:
            unexpected.append(name)
        elif tuple(tensor.shape) != expected[name]:
            mismatched[name] = f"{name} {tuple(tensor.shape)} (expected {expected[name]})"
        else:
            state[name] = to_target(tensor, device, dtype)
    missing = [name for name in expected if name not in state and name not in mismatched]
    problems = [
        f"{label}: {examples(sorted(names), 8)}"
        for label, names in (
            ("missing tensors", missing),
            ("unexpected tensors", unexpected),
            ("wrong shapes", list(mismatched.values())),
        )
        if names
    ]
    if problems:
        source = files[0] if len(files) == 1 else Path(model_dir)
        raise InputError(f"{source}: not a DNABERT-S checkpoint; " + "; ".join(problems))
    model.load_state_dict(state, strict=True, assign=True)
    model.eval()
    model.requires_grad_(False)
    return DnaBertSEncoder(model, tokenizer, device=torch.device(device), dtype=dtype)


def _load_tokenizer(path: Path, config: DnaBertSConfig) -> Any:
    """The BPE tokenizer of ``tokenizer.json``, which must read DNA as it is written: a
    probe comes back as [CLS], pieces that spell it exactly, [SEP] (no normalizer or
    pre-tokenizer rewriting bases, no missing post-processor)."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise InputError(f"{path}: file not found (not a DNABERT-S model directory?)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises plain Exception subclasses
        raise InputError(f"{path}: cannot read the tokenizer ({error})") from None
    # Long slices must never be cut: DNABERT-S features cover the whole slice.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    for token in ("[CLS]", "[SEP]", "[PAD]"):
        _special_token_id(tokenizer, token)
    count = tokenizer.get_vocab_size(with_added_tokens=True)
    if count > config.vocab_size:
        raise InputError(
            f"{path}: tokenizer has {count} tokens but the model embeds only {config.vocab_size}"
        )
    ids = tokenizer.encode(_PROBE, add_special_tokens=True).ids
    pieces = [tokenizer.id_to_token(token_id) for token_id in ids]
    if pieces[:1] != ["[CLS]"] or pieces[-1:] != ["[SEP]"] or "".join(pieces[1:-1]) != _PROBE:
        raise InputError(
            f"{path}: the tokenizer reads {_PROBE[:12]}... as {shown(' '.join(pieces)[:48])}, "
            "not as [CLS], the same bases, [SEP]"
        )
    return tokenizer
