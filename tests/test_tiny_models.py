"""The bundled tiny models: reproducible, loadable by name, and exact through the embedding loop."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest
import torch
from Bio import SeqIO
from conftest import ROOT, run_script, write_fasta

from virnucpro.embed.embedders.loader import load_encoder
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import embed_sequences
from virnucpro.files.feature_files import read_features

TINY = ["tiny_dnabert_s", "tiny_esm2", "tiny_fastesm2"]
CPU = torch.device("cpu")


def test_committed_tiny_models_are_reproduced_byte_for_byte(tmp_path):
    result = run_script("make_tiny_models.py", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    for name in TINY:
        committed = ROOT / "assets" / "models" / name
        files = sorted(path.name for path in committed.iterdir())
        assert files == sorted(path.name for path in (tmp_path / name).iterdir())
        _, mismatch, errors = filecmp.cmpfiles(committed, tmp_path / name, files, shallow=False)
        assert not mismatch and not errors, f"{name}: {mismatch or errors} differ"


def _encoder(name):
    spec = get_embedder(name)
    return load_encoder(spec, model_directory(spec), CPU, torch.float32)


def _real_sequences(shared_data, protein: bool, count: int = 12) -> list[str]:
    """Real CDS proteins, or 301-nt slices of real genomes, of varied lengths."""
    records = list(SeqIO.parse(shared_data / "viral" / "hundred_microviruses.gbk", "genbank"))[:4]
    if protein:
        proteins = [
            f.qualifiers["translation"][0] for r in records for f in r.features if f.type == "CDS"
        ]
        return proteins[:count]
    genome = str(records[0].seq)
    return [genome[i * 97 : i * 97 + 40 + 23 * i] for i in range(count)]


@pytest.mark.parametrize("name", TINY)
def test_batched_vectors_equal_one_at_a_time_on_real_sequences(shared_data, name):
    encoder = _encoder(name)
    sequences = _real_sequences(shared_data, protein=get_embedder(name).modality.value == "protein")
    assert len({len(s) for s in sequences}) > 5
    batched = embed_sequences(encoder, sequences, CPU, token_budget=100_000)
    alone = np.vstack(
        [embed_sequences(encoder, [sequence], CPU, token_budget=1) for sequence in sequences]
    )
    assert np.abs(batched - alone).max() <= 1e-5


def _states(encoder, sequence):
    tokens = torch.tensor([encoder.tokenize(sequence)])
    return encoder.hidden_states(tokens, torch.ones_like(tokens))[0].to(torch.float32)


def test_esm_pool_excludes_bos_and_eos():
    encoder = _encoder("tiny_esm2")
    states = _states(encoder, "MKVLAAGW")
    vector = embed_sequences(encoder, ["MKVLAAGW"], CPU)[0]
    assert np.allclose(vector, states[1:-1].mean(0).numpy(), atol=1e-6)
    assert not np.allclose(vector, states.mean(0).numpy(), atol=1e-4)


def test_dnabert_s_pool_includes_cls_and_sep():
    encoder = _encoder("tiny_dnabert_s")
    states = _states(encoder, "ACGTTGCAAGGCTTAC")
    vector = embed_sequences(encoder, ["ACGTTGCAAGGCTTAC"], CPU)[0]
    assert np.allclose(vector, states.mean(0).numpy(), atol=1e-6)
    assert not np.allclose(vector, states[1:-1].mean(0).numpy(), atol=1e-4)


@pytest.mark.parametrize("trust_remote_code", [False, True])
def test_proteins_longer_than_1024_residues_are_read_whole(trust_remote_code):
    spec = get_embedder("tiny_esm2")
    encoder = load_encoder(spec, model_directory(spec), CPU, torch.float32, trust_remote_code)
    rng = np.random.default_rng(0)
    protein = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 1212))
    assert len(encoder.tokenize(protein)) == 1214
    whole, cut = embed_sequences(encoder, [protein, protein[:1024]], CPU)
    # The residues after 1024 change the states of the first 1024 through attention.
    assert np.abs(whole - cut).max() > 1e-3
    assert np.abs(whole - embed_sequences(_encoder("tiny_esm2"), [protein], CPU)[0]).max() <= 1e-5


def test_fastesm_layout_gives_the_same_vectors_as_esm_layout(shared_data):
    proteins = _real_sequences(shared_data, protein=True)
    esm = embed_sequences(_encoder("tiny_esm2"), proteins, CPU)
    fast = embed_sequences(_encoder("tiny_fastesm2"), proteins, CPU)
    assert np.array_equal(esm, fast)


def test_embed_commands_with_tiny_models(tmp_path):
    nucleotide = write_fasta(
        tmp_path / "nt.fasta", [("a_chunk_1F1", "ATGAAACCCGGGTTTAAAC"), ("b_chunk_1R2", "ACGT")]
    )
    protein = write_fasta(tmp_path / "aa.fasta", [("a_chunk_1F1", "MKPGFK"), ("b_chunk_1R2", "T")])
    for script, *args in [
        (
            "embed_dna.py",
            "--embedder",
            "tiny_dnabert_s",
            "--input",
            nucleotide,
            "--output",
            tmp_path / "nt.st",
        ),
        (
            "embed_protein.py",
            "--embedder",
            "tiny_fastesm2",
            "--input",
            protein,
            "--output",
            tmp_path / "aa.st",
        ),
    ]:
        result = run_script(script, *args, "--chunk-size", "300", "--device", "cpu")
        assert result.returncode == 0, result.stderr
    dna, aa = read_features(tmp_path / "nt.st"), read_features(tmp_path / "aa.st")
    assert dna.metadata["embedder"] == "tiny_dnabert_s" and dna.dimension == 32
    assert aa.metadata["model_id"] == "bundled:tiny_fastesm2" and aa.metadata["precision"] == "fp32"
    result = run_script(
        "embed_dna.py",
        "--embedder",
        "tiny_dnabert_s",
        "--model-dir",
        ROOT / "assets" / "models" / "tiny_dnabert_s",
        "--input",
        nucleotide,
        "--output",
        tmp_path / "dir.st",
        "--chunk-size",
        "300",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(read_features(tmp_path / "dir.st").matrix, dna.matrix)


def test_remote_code_option_loads_with_the_library_auto_classes():
    # tiny_esm2 needs no hub code, so AutoModel resolves it; the vectors must match ours.
    spec = get_embedder("tiny_esm2")
    remote = load_encoder(spec, model_directory(spec), CPU, torch.float32, trust_remote_code=True)
    proteins = ["MKVLAAGW", "MEEPQSDPSVEPPLSQETFSDLWKLL", "A"]
    assert remote.tokenize(proteins[0]) == _encoder("tiny_esm2").tokenize(proteins[0])
    ours = embed_sequences(_encoder("tiny_esm2"), proteins, CPU)
    assert np.abs(embed_sequences(remote, proteins, CPU) - ours).max() <= 1e-5
