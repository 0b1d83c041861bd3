"""ESM2 and FastESM2 checkpoints, loaded into ``transformers.EsmModel`` without hub code.

Two on-disk layouts are read (``virnucpro.testing.esm_checkpoints`` writes both):

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
forward pass runs: token-dropout scaling (x0.88 without ``<mask>``), the attention mask,
rotary embeddings and the final ``emb_layer_norm_after`` are the library's, not ours,
except that the rotary cos/sin stay float32 (``Float32RotaryEmbedding``). The layers
are the library's too with ``kernels="eager"``; by default (``fused``) the same weights
run through ``fused_esm.FusedEsmEncoder``, the same arithmetic in fewer kernels, and
``compiled`` adds ``torch.compile`` (see ``Kernels``).

``token_dropout`` is taken from each ``config.json``. FastESM2_650's says ``true``, and the
current hub code (which reuses transformers' ``EsmEmbeddings``) scales by 0.88 as ESM2
does; the late-2024 FastPLMs code its weights were trained with had no such scaling.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from transformers import EsmConfig, EsmModel, EsmTokenizer
from transformers.models.esm.modeling_esm import EsmRotaryEmbedding

from virnucpro.embed.checkpoints import (
    CONFIG_FILE,
    iter_tensors,
    read_config,
    to_target,
    weight_files,
)
from virnucpro.embed.embedders.config_checks import (
    check_tokenizer_settings,
    check_weight_count,
    epsilon,
    flag,
    head_size,
    shown,
    size,
    token_id,
)
from virnucpro.embed.embedders.fused_esm import compile_encoder, fuse_encoder
from virnucpro.errors import InputError, examples

Layout = Literal["esm", "fastesm"]

#: How the encoder layers run. ``eager``: transformers' ``EsmLayer``, the reference;
#: ``fused`` (default): ``fused_esm.FusedEsmEncoder``, one query-key-value product,
#: the float32 rotary in three kernels, ``F.gelu`` (the same vectors within float32
#: rounding, ~1e-6); ``compiled``: the fused layers through ``torch.compile`` with
#: dynamic sizes (opt-in: it compiles at the first batches of each process).
Kernels = Literal["eager", "fused", "compiled"]
#: Environment variable that sets ``Kernels`` where ``load_esm`` is not told.
KERNELS_VARIABLE = "VIRNUCPRO_ESM_KERNELS"

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

#: Residues averaged by the original tool: the model reads the whole protein,
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

#: The special tokens of the ESM2 tokenizer, as its tokenizer files name them.
_SPECIAL_TOKENS = {
    "cls_token": "<cls>",
    "eos_token": "<eos>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}

_LAYER_INV_FREQ = re.compile(r"encoder\.layer\.\d+\.attention\.self\.rotary_embeddings\.inv_freq")
_INV_FREQ = "rotary_embeddings.inv_freq"


# --------------------------------------------------------------------------- config


def detect_layout(raw: Mapping[str, Any], source: str = CONFIG_FILE) -> Layout:
    """``esm`` or ``fastesm`` from a parsed ``config.json``; anything else is refused."""
    model_type = raw.get("model_type")
    if model_type == "esm":
        return "esm"
    if model_type == "fast_esm":
        return "fastesm"
    architectures, auto_map = raw.get("architectures"), raw.get("auto_map")
    hints = [
        *(architectures if isinstance(architectures, list) else []),
        *(auto_map.values() if isinstance(auto_map, dict) else []),
    ]
    if model_type is None and any("fastesm" in str(hint).lower() for hint in hints):
        return "fastesm"
    raise InputError(
        f"{source}: model_type {shown(model_type)} is not an ESM2 or FastESM2 checkpoint"
    )


def esm_config(raw: Mapping[str, Any], source: str = CONFIG_FILE) -> EsmConfig:
    """The ``EsmConfig`` for either layout (FastESM's config uses the ESM field names).

    Only the fields that change the encoder's arithmetic are taken, and each must be
    present: a FastESM config written by an older ``FastEsmConfig`` without
    ``token_dropout`` would otherwise silently switch the x0.88 scaling on or off.
    Every size is a whole number within ``config_checks.SIZE_CAPS``, checked before
    anything is built.
    """
    missing = [field for field in _REQUIRED_FIELDS if field not in raw]
    if missing:
        raise InputError(f"{source} lacks {', '.join(missing)}")
    if raw.get("is_folding_model"):
        raise InputError(f"{source} describes an ESMFold model, not a protein language model")
    sizes = {
        key: size(raw, key, source)
        for key in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
        )
    }
    head = head_size(sizes["hidden_size"], sizes["num_attention_heads"], source)
    if raw.get("hidden_act", "gelu") != "gelu":
        raise InputError(f"{source}: hidden_act {shown(raw['hidden_act'])} (ESM uses gelu)")
    positions = raw["position_embedding_type"]
    if positions not in ("rotary", "absolute"):
        raise InputError(
            f"{source}: position_embedding_type {shown(positions)} (expected rotary or absolute)"
        )
    if positions == "rotary" and head % 2:
        raise InputError(
            f"{source}: hidden_size {sizes['hidden_size']} / num_attention_heads "
            f"{sizes['num_attention_heads']} gives heads of {head}, odd: rotary needs an even size"
        )
    return EsmConfig(
        **sizes,
        layer_norm_eps=epsilon(raw, "layer_norm_eps", source),
        position_embedding_type=positions,
        emb_layer_norm_before=flag(raw, "emb_layer_norm_before", source),
        token_dropout=flag(raw, "token_dropout", source),
        pad_token_id=token_id(raw, "pad_token_id", source, sizes["vocab_size"]),
        mask_token_id=token_id(raw, "mask_token_id", source, sizes["vocab_size"]),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="sdpa",
    )


def esm_weight_count(config: EsmConfig) -> int:
    """Weights of the encoder's matrices (embeddings, attention, feed-forward): a lower
    bound of what any ESM2/FastESM2 checkpoint of this config stores."""
    hidden, inner = config.hidden_size, config.intermediate_size
    count = config.vocab_size * hidden
    count += config.num_hidden_layers * (4 * hidden * hidden + 2 * hidden * inner)
    if config.position_embedding_type == "absolute":
        count += config.max_position_embeddings * hidden
    return count


# --------------------------------------------------------------------------- weights


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
    files: list[Path],
    config: EsmConfig,
    device: torch.device,
    dtype: torch.dtype,
    expected: Mapping[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The ``EsmModel`` state dict from a checkpoint, read tensor by tensor.

    Each floating tensor is cast to ``dtype`` and moved to ``device`` as it is read, so
    the checkpoint's own copy is never held whole; the rotary ``inv_freq`` stays float32
    whatever ``dtype`` is (see ``load_esm``).
    """
    state: dict[str, torch.Tensor] = {}
    inv_freqs: list[torch.Tensor] = []
    unexpected: list[str] = []
    for name, tensor in iter_tensors(files):
        key = name.removeprefix("esm.")
        if _is_ignored(name, config) or _is_ignored(key, config):
            continue
        if key == _INV_FREQ or _LAYER_INV_FREQ.fullmatch(key):
            inv_freqs.append(tensor.to(dtype=torch.float32, copy=True))
            continue
        if key not in expected:
            unexpected.append(name)
            continue
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise InputError(
                f"tensor {name} has shape {tuple(tensor.shape)}, the config says "
                f"{tuple(expected[key].shape)}"
            )
        state[key] = to_target(tensor, device, dtype)
    if unexpected:
        raise InputError(
            f"not an ESM2 checkpoint: unexpected tensors {examples(sorted(unexpected), 8)}"
        )
    required = [key for key in expected if not key.startswith("contact_head.") and key != _INV_FREQ]
    missing = [key for key in required if key not in state]
    if missing:
        raise InputError(
            f"checkpoint lacks encoder tensors {examples(['esm.' + k for k in missing], 8)}"
        )
    if config.position_embedding_type == "rotary":
        state[_INV_FREQ] = _rotary_inv_freq(inv_freqs, config).to(device)
    for key in ("contact_head.regression.weight", "contact_head.regression.bias"):
        # The contact head reads attention maps; it never touches the hidden states.
        if key not in state:
            state[key] = torch.zeros(expected[key].shape, dtype=dtype, device=device)
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


# --------------------------------------------------------------------------- tokenizer


def _load_tokenizer(model_dir: Path, config: EsmConfig) -> EsmTokenizer:
    """``EsmTokenizer`` on the fixed ESM2 alphabet, which the folder's ``vocab.txt`` (where
    present) must list exactly: a reordered vocabulary would silently read one residue as
    another. The tokenizer settings files must name the ESM2 special tokens."""
    vocab = model_dir / "vocab.txt"
    if vocab.is_file():
        try:
            tokens = [line.strip() for line in vocab.read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{vocab}: unreadable vocabulary ({error})") from None
        for index, expected in enumerate([*ESM2_ALPHABET, None]):
            found = tokens[index] if index < len(tokens) else None
            if found != expected:
                raise InputError(
                    f"{vocab}: not the ESM2 vocabulary (line {index + 1}: {shown(found)}, "
                    f"expected {shown(expected)})"
                )
    check_tokenizer_settings(model_dir, _SPECIAL_TOKENS, "EsmTokenizer", _alphabet_token)
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        alphabet = Path(scratch) / "vocab.txt"
        alphabet.write_text("\n".join(ESM2_ALPHABET), encoding="utf-8")
        tokenizer = EsmTokenizer(vocab_file=str(alphabet))
    if len(tokenizer) != config.vocab_size:
        raise InputError(
            f"{model_dir}: tokenizer has {len(tokenizer)} tokens, config.json says "
            f"{config.vocab_size}"
        )
    for role, expected in (("pad", config.pad_token_id), ("mask", config.mask_token_id)):
        if getattr(tokenizer, f"{role}_token_id") != expected:
            raise InputError(f"{model_dir}: tokenizer and config.json disagree on <{role}>")
    return tokenizer


def _alphabet_token(index: int) -> str | None:
    return ESM2_ALPHABET[index] if 0 <= index < len(ESM2_ALPHABET) else None


# --------------------------------------------------------------------------- rotary


class Float32RotaryEmbedding(EsmRotaryEmbedding):
    """The rotary embedding of ``EsmModel``, with cos/sin left in float32.

    transformers' module computes the angles in float32 and then rounds cos/sin to the
    activations' dtype: in bf16 each is off by up to 2^-9, the same size as the rounding
    of the rotated query and key themselves, at every position. Returned in float32,
    they make ``apply_rotary_pos_emb`` (which already multiplies in float32), or the
    fused layers' ``rotate_pairs``, rotate q and k entirely in float32 before casting
    the result back to the attention dtype, as the FastESM reference does. In float32
    the values are exactly the library's.
    Only the default rope type is used by ESM, so no dynamic rope update is needed.
    """

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor, layer_type: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = self.inv_freq.to(device=x.device, dtype=torch.float32)
        angles = position_ids[..., None].to(torch.float32) * inv_freq
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos() * self.attention_scaling, angles.sin() * self.attention_scaling


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
        kernels: Kernels = "eager",
    ) -> None:
        if pooled_residues < 1:
            raise InputError(f"pooled_residues must be at least 1, not {pooled_residues}")
        config = model.config
        self.model = model
        self.tokenizer = tokenizer
        self.layout: Layout = layout
        self.kernels: Kernels = kernels
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

    def hidden_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Last hidden state after ``emb_layer_norm_after``, in the model's dtype; no mask
        (None) for a batch without padding: transformers then builds none either."""
        self.check_rotary_precision()
        mask = None if attention_mask is None else attention_mask.to(self.device)
        with torch.inference_mode():
            output = self.model(input_ids=input_ids.to(self.device), attention_mask=mask)
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


def read_esm_folder(model_dir: Path) -> tuple[Layout, EsmConfig, EsmTokenizer, list[Path]]:
    """Everything of an ESM2/FastESM2 folder but its tensors, checked before anything is
    allocated: the layout, the config, the tokenizer and the weight files, which must be
    large enough for the weights the config describes."""
    model_dir = Path(model_dir)
    raw = read_config(model_dir)
    source = str(model_dir / CONFIG_FILE)
    layout = detect_layout(raw, source)
    config = esm_config(raw, source)
    tokenizer = _load_tokenizer(model_dir, config)
    files = weight_files(model_dir)
    sizes = {
        key: getattr(config, key)
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size")
    }
    check_weight_count(esm_weight_count(config), sizes, files, source)
    return layout, config, tokenizer, files


def kernels_setting(kernels: Kernels | None = None) -> Kernels:
    """``kernels`` if given, else ``$VIRNUCPRO_ESM_KERNELS``, else ``fused``; checked."""
    chosen = kernels if kernels is not None else os.environ.get(KERNELS_VARIABLE, "fused")
    if chosen not in get_args(Kernels):
        source = "kernels" if kernels is not None else KERNELS_VARIABLE
        raise InputError(
            f"{source} {shown(chosen)}: expected one of {', '.join(get_args(Kernels))}"
        )
    return chosen


def load_esm(
    model_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    pooled_residues: int = POOLED_RESIDUES,
    kernels: Kernels | None = None,
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

    Memory: the model is built on the ``meta`` device and takes the checkpoint's tensors
    as they are read, each already cast and on ``device`` (``virnucpro.embed.checkpoints``), so
    host memory never holds a float32 copy of the whole model.

    Precision: floating tensors are cast to ``dtype``, except the rotary inverse
    frequencies, which stay float32 (one copy, model-level; the per-layer copies of ESM2
    checkpoints are identical), and the rotary cos/sin and rotation, which are computed
    in float32 (``Float32RotaryEmbedding``); ``EsmEncoder.hidden_states`` checks that
    ``inv_freq`` is still float32.

    Layers: ``kernels`` (default from ``kernels_setting``) chooses transformers' own
    layers or the fused ones, built from the loaded weights (see ``Kernels``).
    """
    kernels = kernels_setting(kernels)
    layout, config, tokenizer, files = read_esm_folder(model_dir)
    with torch.device("meta"):
        model = EsmModel(config, add_pooling_layer=False)
        if model.rotary_embeddings is not None:
            model.rotary_embeddings = Float32RotaryEmbedding(config)
    expected = model.state_dict()
    state = _encoder_state(files, config, device, dtype, expected)
    model.load_state_dict(state, strict=True, assign=True)
    # Non-persistent buffer (never in a checkpoint): rebuild it off the meta device.
    positions = torch.arange(config.max_position_embeddings, device=device)
    model.embeddings.position_ids = positions.expand((1, -1))
    model.eval()
    model.requires_grad_(False)
    if kernels != "eager":
        fuse_encoder(model)
    if kernels == "compiled":
        compile_encoder(model)
    return EsmEncoder(model, tokenizer, layout, pooled_residues, kernels)
