"""ESM2 / FastESM2 loading into transformers.EsmModel: layouts, tokens, pitfalls (SPEC §4, §9)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import EsmTokenizer

from virnucpro.embed.embedders.esm import ESM2_ALPHABET, EsmEncoder, load_esm
from virnucpro.embed.sequence_embedding import embed_sequences, mean_pool
from virnucpro.errors import InputError
from virnucpro.testing.esm_checkpoints import EsmSizes, tiny_esm_tensors, write_tiny_esm

CPU = torch.device("cpu")
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
MICROVIRUSES = (
    Path(__file__).resolve().parents[1].parent / "shared/data/viral/hundred_microviruses.gbk"
)


def random_protein(length: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(AMINO_ACIDS) for _ in range(length))


def run(encoder: EsmEncoder, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states and mask of one right-padded batch."""
    tokens = [encoder.tokenize(sequence) for sequence in sequences]
    longest = max(map(len, tokens))
    input_ids = torch.full((len(tokens), longest), encoder.pad_token_id)
    mask = torch.zeros((len(tokens), longest), dtype=torch.long)
    for row, ids in enumerate(tokens):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
    return encoder.hidden_states(input_ids, mask), mask


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_esm")
    write_tiny_esm(root / "esm", "esm", seed=3)
    write_tiny_esm(root / "fastesm", "fastesm", seed=3)
    return {"esm": root / "esm", "fastesm": root / "fastesm"}


@pytest.fixture(scope="module")
def encoder(tiny) -> EsmEncoder:
    return load_esm(tiny["esm"], CPU, torch.float32)


def edit_checkpoint(source: Path, target: Path, edit) -> Path:
    """A copy of a tiny checkpoint whose tensors (a dict) went through ``edit``."""
    target.mkdir()
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    tensors = load_file(target / "model.safetensors")
    edit(tensors)
    save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
    return target


# --------------------------------------------------------------------------- layouts


def test_tiny_layouts_have_the_hub_file_sets(tiny):
    assert sorted(p.name for p in tiny["esm"].iterdir()) == [
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    assert sorted(p.name for p in tiny["fastesm"].iterdir()) == [
        "config.json",
        "model.safetensors",
        "modeling_fastesm.py",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    esm_config = json.loads((tiny["esm"] / "config.json").read_text())
    fast_config = json.loads((tiny["fastesm"] / "config.json").read_text())
    assert esm_config["model_type"] == "esm" and esm_config["architectures"] == ["EsmForMaskedLM"]
    assert fast_config["model_type"] == "fast_esm"
    assert fast_config["auto_map"]["AutoModel"] == "modeling_fastesm.FastEsmModel"
    assert esm_config["token_dropout"] is True and fast_config["token_dropout"] is True
    # The hub sizes: ESM2's vocab.txt is 93 bytes, FastESM's 125 (the same tokens, CRLF).
    assert (tiny["esm"] / "vocab.txt").stat().st_size == 93
    assert (tiny["fastesm"] / "vocab.txt").stat().st_size == 125
    assert (tiny["esm"] / "special_tokens_map.json").stat().st_size == 125
    assert (tiny["fastesm"] / "special_tokens_map.json").stat().st_size == 132
    esm_keys = set(load_file(tiny["esm"] / "model.safetensors"))
    fast_keys = set(load_file(tiny["fastesm"] / "model.safetensors"))
    assert "esm.encoder.layer.1.attention.self.query.weight" in esm_keys & fast_keys
    assert "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq" in esm_keys & fast_keys
    assert esm_keys - fast_keys == {
        "esm.embeddings.position_ids",
        "esm.embeddings.position_embeddings.weight",
        "esm.contact_head.regression.weight",
        "esm.contact_head.regression.bias",
    }
    assert fast_keys - esm_keys == {"lm_head.decoder.weight"}


def test_fastesm_and_esm_layouts_give_identical_states_and_embeddings(tiny, encoder):
    fast = load_esm(tiny["fastesm"], CPU, torch.float32)
    assert fast.layout == "fastesm" and encoder.layout == "esm"
    sequences = [random_protein(40, seed=2), random_protein(7, seed=3), "MKV"]
    assert [fast.tokenize(s) for s in sequences] == [encoder.tokenize(s) for s in sequences]
    esm_states, mask = run(encoder, sequences)
    fast_states, _ = run(fast, sequences)
    assert torch.equal(esm_states, fast_states)
    assert torch.equal(
        mean_pool(esm_states, mask, exclude_ends=True),
        mean_pool(fast_states, mask, exclude_ends=True),
    )


def test_remote_code_is_never_imported(tiny):
    # The tiny modeling_fastesm.py raises on import; loading must not need it.
    load_esm(tiny["fastesm"], CPU, torch.float32)
    assert "modeling_fastesm" not in sys.modules


def test_dimension_comes_from_the_config(tmp_path):
    write_tiny_esm(tmp_path, "fastesm", sizes=EsmSizes(hidden_size=48, num_heads=4, num_layers=1))
    encoder = load_esm(tmp_path, CPU, torch.float32)
    assert encoder.dimension == 48 and encoder.pool_excludes_ends is True
    assert run(encoder, ["MKV"])[0].shape == (1, 5, 48)


def test_sharded_safetensors_and_pytorch_bin_load_the_same_weights(tiny, encoder, tmp_path):
    write_tiny_esm(tmp_path / "sharded", "esm", seed=3, shards=2)
    assert (tmp_path / "sharded" / "model-00002-of-00002.safetensors").is_file()
    # A pickled checkpoint as torch.save writes it (tied decoder weight included).
    pickled = tmp_path / "bin"
    pickled.mkdir()
    for file in tiny["esm"].glob("*.json"):
        (pickled / file.name).write_bytes(file.read_bytes())
    (pickled / "vocab.txt").write_bytes((tiny["esm"] / "vocab.txt").read_bytes())
    tensors = load_file(tiny["esm"] / "model.safetensors")
    tensors["lm_head.decoder.weight"] = tensors["esm.embeddings.word_embeddings.weight"]
    torch.save(tensors, pickled / "pytorch_model.bin")
    # Sharded pickles with an index, as esm2_t36_3B_UR50D's pytorch_model-0000k-of-00002.bin.
    pickled_shards = tmp_path / "bin_shards"
    pickled_shards.mkdir()
    for file in pickled.iterdir():
        if file.suffix != ".bin":
            (pickled_shards / file.name).write_bytes(file.read_bytes())
    names = sorted(tensors)
    weight_map = {}
    for k, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), start=1):
        shard = f"pytorch_model-{k:05d}-of-00002.bin"
        torch.save({name: tensors[name] for name in part}, pickled_shards / shard)
        weight_map |= dict.fromkeys(part, shard)
    (pickled_shards / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    reference, _ = run(encoder, ["MKVLAAG"])
    for folder in (tmp_path / "sharded", pickled, pickled_shards):
        assert torch.equal(run(load_esm(folder, CPU, torch.float32), ["MKVLAAG"])[0], reference)


def test_write_tiny_esm_is_reproducible(tmp_path):
    for layout in ("esm", "fastesm"):
        write_tiny_esm(tmp_path / f"{layout}_a", layout, seed=5)
        write_tiny_esm(tmp_path / f"{layout}_b", layout, seed=5)
        write_tiny_esm(tmp_path / f"{layout}_c", layout, seed=6)
        files = sorted(p.name for p in (tmp_path / f"{layout}_a").iterdir())
        for name in files:
            first = (tmp_path / f"{layout}_a" / name).read_bytes()
            assert first == (tmp_path / f"{layout}_b" / name).read_bytes(), name
        weights = "model.safetensors"
        assert (tmp_path / f"{layout}_a" / weights).read_bytes() != (
            tmp_path / f"{layout}_c" / weights
        ).read_bytes()
    # Same seed, same shared tensors in both layouts.
    esm, fast = tiny_esm_tensors("esm", 5), tiny_esm_tensors("fastesm", 5)
    for name in esm.keys() & fast.keys():
        assert torch.equal(esm[name], fast[name]), name


# --------------------------------------------------------------------------- refusals


def test_missing_encoder_tensors_are_refused(tiny, tmp_path):
    def drop(tensors):
        del tensors["esm.encoder.layer.1.attention.self.key.weight"]
        del tensors["esm.encoder.emb_layer_norm_after.bias"]

    broken = edit_checkpoint(tiny["esm"], tmp_path / "broken", drop)
    with pytest.raises(InputError, match="lacks encoder tensors") as error:
        load_esm(broken, CPU, torch.float32)
    assert "esm.encoder.layer.1.attention.self.key.weight" in str(error.value)
    assert "esm.encoder.emb_layer_norm_after.bias" in str(error.value)


def test_unused_heads_may_be_absent(tiny, tmp_path):
    def drop_heads(tensors):
        for name in [n for n in tensors if n.startswith(("lm_head.", "esm.contact_head."))]:
            del tensors[name]

    headless = edit_checkpoint(tiny["esm"], tmp_path / "headless", drop_heads)
    reference, _ = run(load_esm(tiny["esm"], CPU, torch.float32), ["MKVW"])
    assert torch.equal(run(load_esm(headless, CPU, torch.float32), ["MKVW"])[0], reference)


def test_unknown_or_misshapen_tensors_are_refused(tiny, tmp_path):
    def add(tensors):
        tensors["esm.encoder.layer.0.attention.self.gate.weight"] = torch.zeros(2)

    def reshape(tensors):
        tensors["esm.encoder.layer.0.output.dense.bias"] = torch.zeros(7)

    with pytest.raises(
        InputError, match=r"unexpected tensors esm\.encoder\.layer\.0\.attention\.self\.gate"
    ):
        load_esm(edit_checkpoint(tiny["esm"], tmp_path / "extra", add), CPU, torch.float32)
    with pytest.raises(InputError, match=r"output.dense.bias has shape \(7,\)"):
        load_esm(edit_checkpoint(tiny["esm"], tmp_path / "shape", reshape), CPU, torch.float32)


def test_configs_that_are_not_esm_or_lack_fields_are_refused(tiny, tmp_path):
    with pytest.raises(InputError, match=r"no config\.json"):
        load_esm(tmp_path, CPU, torch.float32)
    folder = tmp_path / "model"
    folder.mkdir()
    for file in tiny["fastesm"].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"model_type": "bert"}))
    with pytest.raises(InputError, match="model_type 'bert' is not an ESM2 or FastESM2"):
        load_esm(folder, CPU, torch.float32)
    del config["token_dropout"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="lacks token_dropout"):
        load_esm(folder, CPU, torch.float32)


# --------------------------------------------------------------------------- tokens


def test_tokens_are_bos_residues_eos(encoder):
    assert encoder.tokenize("MKV") == [0, 20, 15, 7, 2]
    assert encoder.pad_token_id == 1


def test_tokenize_matches_esm_tokenizer_and_maps_unknown_letters_to_unk(tiny, encoder):
    tokenizer = EsmTokenizer(vocab_file=str(tiny["esm"] / "vocab.txt"))
    unk = tokenizer.unk_token_id
    assert encoder.tokenize("MJu*K") == [0, 20, unk, unk, unk, 15, 2]
    for sequence in ("MKVLAAG", "MJKu", "AXBZOU.-", "MK*V", random_protein(300)):
        assert encoder.tokenize(sequence) == tokenizer.encode(sequence), sequence


def test_long_proteins_are_read_whole_and_only_the_mean_stops_at_residue_1024(encoder):
    # SPEC §4: BOS + all 1212 residues + EOS go through the model; the mean covers
    # residues 1..1024 of those states (not the states of a protein cut to 1024).
    protein = random_protein(1212)
    tokens = encoder.tokenize(protein)
    assert len(tokens) == 1214 and tokens[0] == 0 and tokens[-1] == 2
    states, _ = run(encoder, [protein])
    expected = states[0, 1:1025].mean(dim=0)
    vector = embed_sequences(encoder, [protein], CPU)[0]
    assert torch.allclose(torch.from_numpy(vector), expected, atol=1e-6)
    cut = embed_sequences(encoder, [protein[:1024]], CPU)[0]
    assert not torch.allclose(torch.from_numpy(cut), expected, atol=1e-4)
    # Batched with a short protein, padding included, the vector stays the same.
    batched = embed_sequences(encoder, [protein, "MKV"], CPU, token_budget=10**6)[0]
    assert torch.allclose(torch.from_numpy(batched), expected, atol=1e-5)


def test_pooled_residues_sets_where_the_mean_stops(tiny, encoder):
    five = load_esm(tiny["esm"], CPU, torch.float32, pooled_residues=5)
    protein = "MKVLAAGIVW"
    assert five.tokenize(protein) == encoder.tokenize(protein)
    states, _ = run(five, [protein])
    vector = embed_sequences(five, [protein], CPU)[0]
    assert torch.allclose(torch.from_numpy(vector), states[0, 1:6].mean(dim=0), atol=1e-6)


def test_without_vocab_txt_the_fixed_esm2_alphabet_is_used(tiny, encoder, tmp_path):
    assert (tiny["esm"] / "vocab.txt").read_text().split("\n") == list(ESM2_ALPHABET)
    folder = tmp_path / "novocab"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((tiny["esm"] / name).read_bytes())
    bare = load_esm(folder, CPU, torch.float32)
    sequence = "MKVJLAAGu" + random_protein(50)
    assert bare.tokenize(sequence) == encoder.tokenize(sequence)


# --------------------------------------------------------------------------- pitfalls


def test_token_dropout_scaling_is_applied(encoder, tiny, tmp_path):
    embeddings = encoder.model.embeddings
    ids = torch.tensor([encoder.tokenize("MKVLAAGIVW")])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        scaled = embeddings(input_ids=ids, attention_mask=mask)
        masked_ids = ids.clone()
        masked_ids[0, 3] = 32  # <mask>: zeroed, the rest rescaled by 0.88 / (1 - 1/12)
        masked = embeddings(input_ids=masked_ids, attention_mask=mask)
    raw = embeddings.word_embeddings.weight[ids]
    torch.testing.assert_close(scaled, raw * 0.88, rtol=1e-6, atol=0)
    assert torch.all(masked[0, 3] == 0)
    keep = [i for i in range(ids.shape[1]) if i != 3]
    torch.testing.assert_close(masked[0, keep], raw[0, keep] * (0.88 / (1 - 1 / 12)))
    # The full forward pass goes through it: without the flag the states differ.
    unscaled = tmp_path / "no_token_dropout"
    unscaled.mkdir()
    for file in tiny["esm"].iterdir():
        (unscaled / file.name).write_bytes(file.read_bytes())
    config = json.loads((tiny["esm"] / "config.json").read_text())
    (unscaled / "config.json").write_text(json.dumps(config | {"token_dropout": False}))
    plain = load_esm(unscaled, CPU, torch.float32)
    assert not torch.allclose(run(plain, ["MKVLAAGIVW"])[0], run(encoder, ["MKVLAAGIVW"])[0])


def test_last_hidden_state_is_after_the_final_layer_norm(encoder):
    states, _ = run(encoder, ["MKVLAAGIVWYPQ"])
    norm = encoder.model.encoder.emb_layer_norm_after
    normalised = (states - norm.bias) / norm.weight  # undo the affine part
    torch.testing.assert_close(normalised.mean(-1), torch.zeros(1, 15), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        normalised.std(-1, unbiased=False), torch.ones(1, 15), atol=1e-3, rtol=0
    )


def microvirus_proteins() -> list[str]:
    if not MICROVIRUSES.is_file():
        pytest.skip(f"{MICROVIRUSES} is not present")
    from Bio import SeqIO

    proteins = []
    for record in SeqIO.parse(MICROVIRUSES, "genbank"):
        for feature in record.features:
            if feature.type == "CDS" and "translation" in feature.qualifiers:
                proteins.append(feature.qualifiers["translation"][0])
    proteins.sort(key=len)
    # Short to long: real lengths from ~30 to several hundred residues.
    return [proteins[i] for i in (0, len(proteins) // 4, len(proteins) // 2, -40, -1)]


def test_padding_does_not_change_real_token_states(encoder):
    proteins = microvirus_proteins()
    order = [2, 0, 4, 1, 3]  # mixed: some shorter, some longer than their neighbours
    batch = [proteins[i] for i in order]
    states, mask = run(encoder, batch)
    for row, protein in enumerate(batch):
        alone, _ = run(encoder, [protein])
        length = len(protein) + 2
        assert int(mask[row].sum()) == length
        difference = (states[row, :length] - alone[0]).abs().max().item()
        assert difference <= 1e-5, (len(protein), difference)


def test_bf16_keeps_rotary_frequencies_and_positions_in_float32(tiny, encoder):
    bf16 = load_esm(tiny["esm"], CPU, torch.bfloat16)
    inv_freq = bf16.model.rotary_embeddings.inv_freq
    assert bf16.dtype == torch.bfloat16 and inv_freq.dtype == torch.float32
    assert torch.equal(inv_freq, encoder.model.rotary_embeddings.inv_freq)
    stored = load_file(tiny["esm"] / "model.safetensors")
    assert torch.equal(
        inv_freq, stored["esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq"]
    )
    # cos/sin for positions up to 1025 against float64: they stay float32 under bf16, so
    # only float32's rounding of the angles (position x 2^-24, < 1e-4 here) is allowed,
    # not bf16's 2^-9. A model cast with .to(bfloat16) rounds inv_freq itself and its
    # angles drift with the position (errors ~0.1 here, worse with real head sizes).
    positions = torch.arange(1026).unsqueeze(0)
    angles = positions[0, :, None].double() * inv_freq.double()
    angles = torch.cat([angles, angles], dim=-1)
    probe = torch.zeros(1, 1, dtype=torch.bfloat16)
    cos, sin = bf16.model.rotary_embeddings(probe, positions)
    assert cos.dtype == sin.dtype == torch.float32
    assert (cos[0].double() - angles.cos()).abs().max() <= 1e-4
    assert (sin[0].double() - angles.sin()).abs().max() <= 1e-4
    naive = load_esm(tiny["esm"], CPU, torch.float32)
    naive.model.to(torch.bfloat16)
    naive_cos, _ = naive.model.rotary_embeddings(probe, positions)
    assert (naive_cos[0, 257:].double() - angles[257:].cos()).abs().max() > 0.05
    with pytest.raises(RuntimeError, match="must stay float32"):
        naive.hidden_states(torch.tensor([[0, 20, 2]]), torch.ones(1, 3, dtype=torch.long))


def test_bf16_states_of_a_long_protein_stay_close_to_fp32(tiny, encoder):
    """bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 0.002 per operation).

    After the final layer norm the states have unit scale; two layers of rounded matmuls,
    softmax and norms give a mean error of ~0.005 and a worst element of ~0.04 over
    1000 x 32 values. The bounds (mean 0.02, max 0.15, pooled 0.02) leave 3-4x margin,
    and residues past position 256 may not fare worse than the first 256. (This tiny
    model's attention is too blunt to show the rotary drift end to end; the cos/sin test
    above is the sharp check of that pitfall.)
    """
    protein = random_protein(1000, seed=11)
    bf16 = load_esm(tiny["esm"], CPU, torch.bfloat16)
    reference, mask = run(encoder, [protein])
    states, _ = run(bf16, [protein])
    assert states.dtype == torch.bfloat16
    error = (states.float() - reference).abs()[0, 1:-1]
    early, late = error[:256].mean().item(), error[256:].mean().item()
    assert error.mean() <= 0.02 and error.max() <= 0.15
    assert late <= 1.5 * early
    pooled = mean_pool(states, mask, exclude_ends=True) - mean_pool(
        reference, mask, exclude_ends=True
    )
    assert pooled.abs().max() <= 0.02
