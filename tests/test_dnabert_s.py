"""Native DNABERT-S (MosaicBERT) module: checkpoint layout, tokenizer, maths, padding.

The maths is checked against a deliberately naive float64 re-implementation written
here from the published MosaicBERT description (per-head loops, an ALiBi matrix built
entry by entry, an explicit GLU), not against the module's own helpers.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.embedders.dnabert_s import (
    WEIGHTS_BIN,
    WEIGHTS_SAFETENSORS,
    DnaBertSConfig,
    DnaBertSEncoder,
    MosaicBertModel,
    alibi_slopes,
    load_dnabert_s,
)
from virnucpro.errors import InputError
from virnucpro.testing.dnabert_s_checkpoints import write_tiny_dnabert_s

CPU = torch.device("cpu")
HUB_FILES = {
    "config.json",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-dnabert-s")
    write_tiny_dnabert_s(directory, seed=0)
    return directory


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> DnaBertSEncoder:
    return load_dnabert_s(tiny_dir, CPU, torch.float32)


@pytest.fixture(scope="module")
def genome() -> str:
    """A real viral genome (1,698 nt) from the shared data beside the checkout."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "viral" / "EU851978.gbk"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    from Bio import SeqIO

    return str(SeqIO.read(path, "genbank").seq).upper()


def tiny_state(directory: Path) -> OrderedDict[str, torch.Tensor]:
    return torch.load(directory / WEIGHTS_BIN, map_location="cpu", weights_only=True)


# --- checkpoint layout -------------------------------------------------------------------


def test_tiny_checkpoint_has_the_hub_layout(tiny_dir: Path):
    assert {path.name for path in tiny_dir.iterdir()} == HUB_FILES
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert config["auto_map"]["AutoModel"] == "bert_layers.BertModel"
    assert config["alibi_starting_size"] == 512
    assert config["attention_probs_dropout_prob"] == 0.0
    tokenizer_config = json.loads((tiny_dir / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    state = tiny_state(tiny_dir)
    # BertModel.save_pretrained names: no "bert." prefix, no MLM head, pooler kept.
    assert "encoder.layer.0.attention.self.Wqkv.weight" in state
    assert state["encoder.layer.0.mlp.gated_layers.weight"].shape == (2 * 64, 32)
    assert "encoder.layer.0.mlp.gated_layers.bias" not in state
    assert "pooler.dense.weight" in state
    assert not any(name.startswith(("bert.", "cls.")) for name in state)


def test_every_tensor_loads_and_is_used(tiny_dir: Path, tiny: DnaBertSEncoder):
    state = tiny_state(tiny_dir)
    loaded = tiny.model.state_dict()
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name


def test_encoder_protocol_and_config_values(tiny_dir: Path, tiny: DnaBertSEncoder):
    assert isinstance(tiny, DnaBertSEncoder)
    encoder: Encoder = tiny  # structural check of the protocol's attributes
    config = json.loads((tiny_dir / "config.json").read_text())
    assert encoder.dimension == config["hidden_size"] == 32
    assert encoder.pad_token_id == 3
    assert encoder.pool_excludes_ends is False
    assert not tiny.model.training


def _copy_checkpoint(source: Path, target: Path, state: dict[str, torch.Tensor]) -> Path:
    target.mkdir()
    for name in HUB_FILES - {WEIGHTS_BIN}:
        (target / name).write_bytes((source / name).read_bytes())
    torch.save(state, target / WEIGHTS_BIN)
    return target


def test_extra_tensor_is_refused_by_name(tiny_dir: Path, tmp_path: Path):
    state = tiny_state(tiny_dir)
    state["cls.predictions.bias"] = torch.zeros(64)
    directory = _copy_checkpoint(tiny_dir, tmp_path / "extra", state)
    with pytest.raises(InputError, match=r"unexpected tensors: cls\.predictions\.bias"):
        load_dnabert_s(directory, CPU, torch.float32)


def test_missing_tensor_is_refused_by_name(tiny_dir: Path, tmp_path: Path):
    state = tiny_state(tiny_dir)
    del state["encoder.layer.1.mlp.wo.bias"]
    directory = _copy_checkpoint(tiny_dir, tmp_path / "missing", state)
    with pytest.raises(InputError, match=r"missing tensors: encoder\.layer\.1\.mlp\.wo\.bias"):
        load_dnabert_s(directory, CPU, torch.float32)


def test_prefixed_or_misshapen_checkpoint_is_refused(tiny_dir: Path, tmp_path: Path):
    prefixed = {f"bert.{name}": tensor for name, tensor in tiny_state(tiny_dir).items()}
    with pytest.raises(InputError, match="not a DNABERT-S checkpoint"):
        load_dnabert_s(
            _copy_checkpoint(tiny_dir, tmp_path / "prefixed", prefixed), CPU, torch.float32
        )
    state = tiny_state(tiny_dir)
    state["pooler.dense.weight"] = torch.zeros(32, 16)
    with pytest.raises(InputError, match=r"wrong shapes: pooler\.dense\.weight"):
        load_dnabert_s(_copy_checkpoint(tiny_dir, tmp_path / "shape", state), CPU, torch.float32)


def test_missing_files_are_clear_errors(tiny_dir: Path, tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        load_dnabert_s(tmp_path / "nowhere", CPU, torch.float32)
    directory = _copy_checkpoint(tiny_dir, tmp_path / "noweights", tiny_state(tiny_dir))
    (directory / WEIGHTS_BIN).unlink()
    with pytest.raises(InputError, match="no weights file"):
        load_dnabert_s(directory, CPU, torch.float32)


def test_safetensors_weights_load_the_same(tiny_dir: Path, tiny: DnaBertSEncoder, tmp_path: Path):
    from safetensors.torch import save_file

    directory = _copy_checkpoint(tiny_dir, tmp_path / "st", tiny_state(tiny_dir))
    save_file(dict(tiny_state(tiny_dir)), str(directory / WEIGHTS_SAFETENSORS))
    (directory / WEIGHTS_BIN).unlink()
    other = load_dnabert_s(directory, CPU, torch.float32)
    ids = torch.tensor([tiny.tokenize("ACGTTGCAAGGCTTAACG")])
    mask = torch.ones_like(ids)
    assert torch.equal(other.hidden_states(ids, mask), tiny.hidden_states(ids, mask))


# --- tokenizer ------------------------------------------------------------------------------


def test_tokenizer_round_trips_real_dna(tiny: DnaBertSEncoder, genome: str):
    for start, length in [(0, 301), (450, 500), (1200, 151), (0, len(genome))]:
        sequence = genome[start : start + length]
        ids = tiny.tokenize(sequence)
        assert ids[0] == tiny.cls_token_id == 1
        assert ids[-1] == tiny.sep_token_id == 2
        assert tiny.pad_token_id not in ids and 0 not in ids  # no [PAD], no [UNK]
        assert len(ids) < len(sequence)  # BPE merges nucleotides
        assert tiny.decode(ids) == sequence
        # The file has no decoder, so the library's decode spaces the pieces out.
        assert tiny.tokenizer.decode(ids).replace(" ", "") == sequence


def test_tokenizer_never_truncates(tiny: DnaBertSEncoder):
    sequence = "ACGT" * 2000
    ids = tiny.tokenize(sequence)
    assert tiny.decode(ids) == sequence


# --- maths ----------------------------------------------------------------------------------


def test_alibi_slopes_for_dnabert_s_heads():
    # 12 heads: the 8-head slopes 2^-1..2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
    expected = [2.0**-k for k in range(1, 9)] + [2.0 ** -(k + 0.5) for k in range(4)]
    assert alibi_slopes(12) == pytest.approx(expected, rel=1e-15)
    assert alibi_slopes(4) == pytest.approx([0.25, 0.0625, 0.015625, 0.00390625])


def naive_slopes(heads: int) -> list[float]:
    """ALiBi paper slopes, with MosaicBERT's rule for head counts that are not 2^k."""
    power = 2 ** math.floor(math.log2(heads))
    slopes = [2.0 ** (-8.0 * (i + 1) / power) for i in range(power)]
    extra = heads - power
    slopes += [2.0 ** (-8.0 * (2 * k + 1) / (2 * power)) for k in range(extra)]
    return slopes


def naive_layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float):
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + eps) * weight + bias


def naive_gelu(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def naive_forward(state: dict[str, torch.Tensor], config: dict, ids: list[int]) -> torch.Tensor:
    """MosaicBERT last hidden state of one unpadded sequence, float64, loop by loop."""
    sd = {name: tensor.double() for name, tensor in state.items()}
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    inter, eps = config["intermediate_size"], config["layer_norm_eps"]
    head_dim = hidden // heads
    length = len(ids)
    slopes = naive_slopes(heads)
    alibi = [
        torch.tensor([[-slopes[h] * abs(i - j) for j in range(length)] for i in range(length)])
        for h in range(heads)
    ]
    x = (
        sd["embeddings.word_embeddings.weight"][ids]
        + sd["embeddings.token_type_embeddings.weight"][0]
    )
    x = naive_layer_norm(x, sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        qkv = x @ sd[p + "attention.self.Wqkv.weight"].T + sd[p + "attention.self.Wqkv.bias"]
        q, k, v = qkv[:, :hidden], qkv[:, hidden : 2 * hidden], qkv[:, 2 * hidden :]
        outputs = []
        for h in range(heads):
            cols = slice(h * head_dim, (h + 1) * head_dim)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(head_dim) + alibi[h]
            outputs.append(torch.softmax(scores, dim=-1) @ v[:, cols])
        context = torch.cat(outputs, dim=1)
        attended = context @ sd[p + "attention.output.dense.weight"].T
        attended = attended + sd[p + "attention.output.dense.bias"] + x
        x = naive_layer_norm(
            attended,
            sd[p + "attention.output.LayerNorm.weight"],
            sd[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        gated = x @ sd[p + "mlp.gated_layers.weight"].T
        glu = naive_gelu(gated[:, :inter]) * gated[:, inter:]
        out = glu @ sd[p + "mlp.wo.weight"].T + sd[p + "mlp.wo.bias"] + x
        x = naive_layer_norm(out, sd[p + "mlp.layernorm.weight"], sd[p + "mlp.layernorm.bias"], eps)
    return x


def test_matches_naive_reference_on_tiny_weights(tiny_dir: Path, tiny: DnaBertSEncoder):
    config = json.loads((tiny_dir / "config.json").read_text())
    state = tiny_state(tiny_dir)
    ids = tiny.tokenize("ATGAAACCCGGGTTTACGTAGCTAGCATCGACTGACTAGCATGCAACGT" * 3)
    expected = naive_forward(state, config, ids)
    got = tiny.hidden_states(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
    assert got.dtype == torch.float32
    assert (got.double() - expected).abs().max().item() <= 1e-5


def test_matches_naive_reference_with_twelve_head_slope_rule():
    # Six heads is not a power of two: exercises the same slope branch as 12-head DNABERT-S.
    config = {
        "vocab_size": 40,
        "hidden_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 6,
        "intermediate_size": 40,
        "layer_norm_eps": 1e-12,
    }
    torch.manual_seed(1)
    model = MosaicBertModel(DnaBertSConfig.from_dict(config)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    ids = torch.randint(5, 40, (57,)).tolist()
    with torch.inference_mode():
        got = model(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
    expected = naive_forward(model.state_dict(), config, ids)
    assert (got.double() - expected).abs().max().item() <= 1e-5


# --- padding --------------------------------------------------------------------------------


def _batch(encoder: DnaBertSEncoder, sequences: list[str]):
    tokens = [encoder.tokenize(sequence) for sequence in sequences]
    width = max(map(len, tokens))
    ids = torch.full((len(tokens), width), encoder.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(tokens), width), dtype=torch.long)
    for row, token_ids in enumerate(tokens):
        ids[row, : len(token_ids)] = torch.tensor(token_ids)
        mask[row, : len(token_ids)] = 1
    return tokens, ids, mask


def _padding_gap(encoder: DnaBertSEncoder, sequences: list[str]) -> float:
    tokens, ids, mask = _batch(encoder, sequences)
    batched = encoder.hidden_states(ids, mask).float()
    assert torch.isfinite(batched).all()
    worst = 0.0
    for row, token_ids in enumerate(tokens):
        alone = encoder.hidden_states(torch.tensor([token_ids]), torch.ones(1, len(token_ids)))
        real = batched[row, : len(token_ids)]
        worst = max(worst, (real - alone[0].float()).abs().max().item())
        assert (batched[row, len(token_ids) :] == 0).all()  # padding comes back as zeros
    return worst


def _real_slices(genome: str) -> list[str]:
    # Frame-slice sized pieces of a real genome: short, chunk-sized, longer.
    return [genome[10:70], genome[300:601], genome[700:1201], genome[1000:1151], genome[:1600]]


def test_padding_does_not_change_real_tokens_fp32(tiny: DnaBertSEncoder, genome: str):
    assert _padding_gap(tiny, _real_slices(genome)) <= 1e-5


def test_padding_invariance_in_bf16(tiny_dir: Path, genome: str):
    encoder = load_dnabert_s(tiny_dir, CPU, torch.bfloat16)
    _, ids, mask = _batch(encoder, _real_slices(genome))
    assert encoder.hidden_states(ids, mask).dtype == torch.bfloat16
    assert _padding_gap(encoder, _real_slices(genome)) <= 0.1


# --- the tiny checkpoint writer -------------------------------------------------------------


def test_tiny_checkpoint_is_byte_reproducible(tiny_dir: Path, tmp_path: Path):
    write_tiny_dnabert_s(tmp_path / "again", seed=0)
    write_tiny_dnabert_s(tmp_path / "other", seed=1)
    for name in sorted(HUB_FILES):
        assert (tmp_path / "again" / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    assert (tmp_path / "other" / WEIGHTS_BIN).read_bytes() != (tiny_dir / WEIGHTS_BIN).read_bytes()
