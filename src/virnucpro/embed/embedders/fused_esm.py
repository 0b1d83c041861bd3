"""ESM layers with the arithmetic of transformers' ``EsmLayer`` and fewer memory-bound kernels.

Besides its six matrix products, transformers' ESM layer runs dozens of elementwise
kernels, each reading and writing the activations once: separate query, key and value
projections, the query scaling, the float32 rotary rotation of ``apply_rotary_pos_emb``
(casts, ``rotate_half``'s slices, negation and concatenation, for q and k apart), SDPA's
conversion of the boolean padding mask, and ESM's GELU written as five operations. On a
GPU they cap the share of time spent in matrix products. ``FusedEsmEncoder`` computes
the same thing with:

- one query-key-value ``Linear`` whose weight and bias are the three loaded ones stacked
  (the same numbers; one matrix product instead of three), the query and key rows of
  each head reordered so that the dimensions rotary pairs (i and i + d/2) sit side by
  side, which leaves every q.k as it was;
- q and k rotated together as complex numbers in float32, where ``Float32RotaryEmbedding``
  wants the rotation done: each pair is one complex number, each position's angle one
  unit complex number (three kernels in bf16: a cast to float32, the product, a cast
  back; one in float32);
- the query scaling d^-0.5 given to SDPA's ``scale``, applied inside the kernel in
  float32 (the rotation is linear, so scaling after it is the same arithmetic);
- the padding mask turned into an additive bias once per forward pass, one row per
  sequence, instead of a batch x length^2 conversion in every layer;
- GELU as ``F.gelu`` (the exact erf form, one kernel that computes in float32).

``compile_encoder`` hands the layers to ``torch.compile`` (opt-in), which can fuse what is
left: layer norms with the residual additions, bias additions, the rotary copies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import EsmModel
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.esm.modeling_esm import EsmLayer, EsmSelfAttention


def rotation(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(cos, sin) of each position and rotary pair, float32, shaped
    ``(batch, length, 1, 1, d/2, 2)`` to rotate ``rotate_pairs``'s q and k.

    ``cos`` and ``sin`` are the rotary module's ``(batch, length, d)``, whose halves repeat.
    """
    half = cos.shape[-1] // 2
    turn = torch.stack((cos[..., :half].float(), sin[..., :half].float()), dim=-1)
    return turn[:, :, None, None]


def pair_order(head_size: int) -> torch.Tensor:
    """Head dimensions in the order that puts each rotary pair (i, i + d/2) side by side:
    0, d/2, 1, d/2 + 1, ... Queries and keys reordered alike keep every dot product q.k,
    which is all attention does with them."""
    return torch.arange(head_size).view(2, -1).t().reshape(-1)


def rotate_pairs(query_key: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """``apply_rotary_pos_emb`` on ``(batch, length, 2, heads, d)`` q and k in ``pair_order``.

    Each adjacent pair (x_i, x_{i+d/2}) is the complex number x_i + i x_{i+d/2}; times
    cos + i sin it gives x_i cos - x_{i+d/2} sin and x_{i+d/2} cos + x_i sin,
    ``rotate_half``'s two halves. Computed in float32 and rounded once to the input's
    dtype: three kernels in bf16 (cast, product, cast), one in float32.
    """
    numbers = query_key.float().unflatten(-1, (-1, 2))
    if torch.compiler.is_compiling():
        # Inductor generates no code for complex numbers; written out, it fuses the
        # products with the casts into one kernel.
        real, imaginary = numbers.unbind(-1)
        cos, sin = turn.unbind(-1)
        turned = torch.stack((real * cos - imaginary * sin, real * sin + imaginary * cos), -1)
    else:
        turned = torch.view_as_real(torch.view_as_complex(numbers) * torch.view_as_complex(turn))
    return turned.flatten(-2).to(query_key.dtype)


def padding_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """transformers' boolean SDPA mask as an additive ``(batch, 1, 1, length)`` bias.

    For an encoder the mask is ``(batch, 1, length, length)`` with every query row the
    same padding pattern; SDPA would turn that whole mask into a bias in every layer
    (batch x length^2 elements each time). One row, converted once, is the same bias.
    """
    if mask.dtype != torch.bool:
        raise ValueError(f"expected transformers' boolean SDPA mask, not {mask.dtype}")
    keys = mask[:, :, :1]
    bias = torch.zeros(keys.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill_(~keys, float("-inf"))


def _query_key_value(attention: EsmSelfAttention) -> nn.Linear:
    """One ``Linear`` computing query, key and value side by side, the query and key rows
    of each head in ``pair_order``."""
    heads, size = attention.num_attention_heads, attention.attention_head_size
    rows = (torch.arange(heads)[:, None] * size + pair_order(size)).reshape(-1)
    rows = rows.to(attention.query.weight.device)
    query, key, value = attention.query, attention.key, attention.value
    weight = torch.cat([query.weight[rows], key.weight[rows], value.weight])
    bias = torch.cat([query.bias[rows], key.bias[rows], value.bias])
    stacked = nn.Linear(weight.shape[1], weight.shape[0], device="meta")
    stacked.weight = nn.Parameter(weight, requires_grad=False)
    stacked.bias = nn.Parameter(bias, requires_grad=False)
    return stacked


class FusedEsmLayer(nn.Module):
    """One ``EsmLayer``'s computation (pre-norm attention, then pre-norm GELU MLP) from its
    loaded modules: the layer norms and dense layers are the very same modules."""

    def __init__(self, layer: EsmLayer) -> None:
        super().__init__()
        attention = layer.attention.self
        self.heads = attention.num_attention_heads
        self.head_size = attention.attention_head_size
        self.attention_norm = layer.attention.LayerNorm
        self.query_key_value = _query_key_value(attention)
        self.attention_output = layer.attention.output.dense
        self.mlp_norm = layer.LayerNorm
        self.intermediate = layer.intermediate.dense
        self.output = layer.output.dense

    def forward(
        self, hidden: torch.Tensor, bias: torch.Tensor | None, turn: torch.Tensor | None
    ) -> torch.Tensor:
        """``hidden`` (batch, length, width); ``bias`` from ``padding_bias``, or None without
        padding; ``turn`` from ``rotation``, or None for absolute positions."""
        batch, length, width = hidden.shape
        projected = self.query_key_value(self.attention_norm(hidden))
        projected = projected.view(batch, length, 3, self.heads, self.head_size)
        query_key = projected[:, :, :2]
        if turn is not None:
            query_key = rotate_pairs(query_key, turn)
        query, key = query_key.unbind(2)
        attended = F.scaled_dot_product_attention(
            query.transpose(1, 2),
            key.transpose(1, 2),
            projected[:, :, 2].transpose(1, 2),
            attn_mask=bias,
            scale=self.head_size**-0.5,
        )
        attended = attended.transpose(1, 2).reshape(batch, length, width)
        hidden = self.attention_output(attended) + hidden
        return self.output(F.gelu(self.intermediate(self.mlp_norm(hidden)))) + hidden


class FusedEsmEncoder(nn.Module):
    """Stands in for transformers' ``EsmEncoder`` inside an ``EsmModel``: same inputs (the
    embeddings, SDPA's mask and the rotary module's cos/sin), same last hidden state."""

    def __init__(self, layers: nn.ModuleList, final_norm: nn.LayerNorm) -> None:
        super().__init__()
        self.layer = layers
        self.emb_layer_norm_after = final_norm

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **decoder_arguments: object,
    ) -> BaseModelOutput:
        """``decoder_arguments``: what ``EsmModel`` passes for cross-attention and caches,
        which an encoder-only ESM never uses."""
        bias = None if attention_mask is None else padding_bias(attention_mask, hidden_states.dtype)
        turn = None if position_embeddings is None else rotation(*position_embeddings)
        for layer in self.layer:
            hidden_states = layer(hidden_states, bias, turn)
        return BaseModelOutput(last_hidden_state=self.emb_layer_norm_after(hidden_states))


def fuse_encoder(model: EsmModel) -> None:
    """Replace ``model.encoder`` by a ``FusedEsmEncoder`` of its weights, in place.

    Each layer is replaced as soon as its query, key and value weights are stacked, which
    frees the separate ones: the extra memory is one layer's projections at most.
    """
    if model.config.is_decoder or model.config.add_cross_attention:
        raise ValueError("only encoder-only ESM models are fused")
    layers = model.encoder.layer
    for index, layer in enumerate(layers):
        layers[index] = FusedEsmLayer(layer)
    model.encoder = FusedEsmEncoder(layers, model.encoder.emb_layer_norm_after)


def compile_encoder(model: EsmModel) -> None:
    """Compile each layer of ``model.encoder`` in place, with dynamic batch and sequence sizes.

    All layers run the same code, so they share compiled graphs: compiling takes as long
    for 36 layers as for one. A batch of one, a batch without padding (no mask) and the
    first batch of another size (whose mask size dynamo first took as fixed) compile
    apart: a few graphs in all, never one per batch shape.
    """
    for layer in model.encoder.layer:
        layer.compile(dynamic=True)
