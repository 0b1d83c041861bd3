"""Feature files, the embed steps with the model-free baselines, and merging."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import run_script, write_fasta
from safetensors.numpy import save_file

from virnucpro.embed.embed_files import extract_features
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.merge import merge_features
from virnucpro.errors import InputError
from virnucpro.files.feature_files import Features, read_features, write_features


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


IDS = ["c_chunk_1F1", "c_chunk_1R2", "d_chunk_1F3"]


def _frames(tmp_path):
    nucleotide = write_fasta(
        tmp_path / "nt.fasta", list(zip(IDS, ["ATGAAACCC", "ACGTACGTA", "GGGCCCAAAT"], strict=True))
    )
    protein = write_fasta(tmp_path / "aa.fasta", list(zip(IDS, ["MKP", "TYV", "GPK"], strict=True)))
    return nucleotide, protein


def _extract(tmp_path, source, output, embedder, **options):
    settings = {
        "precision": "fp32",
        "device": "cpu",
        "chunk_size": 300,
        "token_budget": 1024,
        **options,
    }
    summary = extract_features([(source, tmp_path / output)], get_embedder(embedder), **settings)
    return summary.written == 1


def test_round_trip_keeps_ids_matrix_and_metadata(tmp_path):
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    metadata = {
        "embedder": "e",
        "modality": "protein",
        "model_id": "m",
        "revision": "r",
        "weights_sha256": "w",
        "precision": "fp32",
        "chunk_size": "300",
        "dimension": "2",
        "frames_sha256": "f",
        "longest_frame": "3",
    }
    write_features(tmp_path / "f.safetensors", Features(IDS, matrix, metadata))
    features = read_features(tmp_path / "f.safetensors")
    assert features.ids == IDS and np.array_equal(features.matrix, matrix)
    assert features.metadata == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["f.safetensors"]
    # Readable by the group like any new file (safetensors creates its files 0600).
    assert (tmp_path / "f.safetensors").stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_files_that_are_not_feature_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such feature file"):
        read_features(tmp_path / "missing.safetensors")
    (tmp_path / "text.safetensors").write_text("hello")
    with pytest.raises(InputError, match="not a safetensors feature file"):
        read_features(tmp_path / "text.safetensors")
    save_file({"features": np.zeros((2, 3), dtype=np.float32)}, tmp_path / "plain.safetensors")
    with pytest.raises(InputError, match="not a virnucpro feature file"):
        read_features(tmp_path / "plain.safetensors")


def test_metadata_dimension_and_id_count_are_checked(tmp_path):
    metadata = {
        "format": "virnucpro-features/1",
        "embedder": "e",
        "modality": "dna",
        "model_id": "m",
        "revision": "r",
        "weights_sha256": "w",
        "precision": "fp32",
        "chunk_size": "300",
        "frames_sha256": "f",
        "longest_frame": "3",
    }
    save_file(
        {"features": np.zeros((2, 3), dtype=np.float32)},
        tmp_path / "a.safetensors",
        {**metadata, "dimension": "4", "ids": json.dumps(["a", "b"])},
    )
    with pytest.raises(InputError, match="matrix has 3 columns but metadata says dimension 4"):
        read_features(tmp_path / "a.safetensors")
    save_file(
        {"features": np.zeros((2, 3), dtype=np.float32)},
        tmp_path / "b.safetensors",
        {**metadata, "dimension": "3", "ids": json.dumps(["a"])},
    )
    with pytest.raises(InputError, match="2 rows for 1 ids"):
        read_features(tmp_path / "b.safetensors")


def test_composition_embedders_write_features_with_provenance(tmp_path):
    nucleotide, protein = _frames(tmp_path)
    assert _extract(tmp_path, protein, "aa.safetensors", "aa_composition")
    features = read_features(tmp_path / "aa.safetensors")
    assert features.ids == IDS and features.matrix.shape == (3, 420)
    assert (
        features.metadata["embedder"] == "aa_composition"
        and features.metadata["modality"] == "protein"
    )
    assert features.metadata["chunk_size"] == "300" and features.metadata["precision"] == "fp32"
    assert features.matrix[0, 10] == pytest.approx(1 / 3)  # M in MKP
    assert _extract(tmp_path, nucleotide, "nt.safetensors", "dna_composition")
    assert read_features(tmp_path / "nt.safetensors").matrix.shape == (3, 340)


def test_complete_output_is_skipped_and_changed_input_is_redone(tmp_path):
    _, protein = _frames(tmp_path)
    assert _extract(tmp_path, protein, "aa.safetensors", "aa_composition")
    assert not _extract(tmp_path, protein, "aa.safetensors", "aa_composition")
    assert _extract(tmp_path, protein, "aa.safetensors", "aa_composition", chunk_size=500)
    protein.write_text(protein.read_text() + ">e_chunk_1F1\nMMM\n")
    assert _extract(tmp_path, protein, "aa.safetensors", "aa_composition", chunk_size=500)
    assert len(read_features(tmp_path / "aa.safetensors").ids) == 4


def test_features_of_another_embedder_are_never_overwritten(tmp_path):
    _, protein = _frames(tmp_path)
    _extract(tmp_path, protein, "baseline.safetensors", "aa_composition")
    before = (tmp_path / "baseline.safetensors").read_bytes()
    with pytest.raises(
        InputError, match="holds features of embedder 'aa_composition': refusing to overwrite"
    ):
        _extract(tmp_path, protein, "baseline.safetensors", "tiny_esm2")
    assert (tmp_path / "baseline.safetensors").read_bytes() == before


def test_wrong_modality_inputs_are_refused(tmp_path):
    _, protein = _frames(tmp_path)
    with pytest.raises(InputError, match="embedder 'aa_composition' embeds protein, not dna"):
        get_embedder("aa_composition", get_embedder("dnabert_s").modality)
    with pytest.raises(InputError, match="looks like a protein sequence"):
        _extract(tmp_path, protein, "x.safetensors", "dna_composition")
    with pytest.raises(InputError, match="unknown embedder 'esm3'"):
        get_embedder("esm3")
    assert not (tmp_path / "x.safetensors").exists()


def test_merge_concatenates_in_dna_order(tmp_path):
    nucleotide, _ = _frames(tmp_path)
    _extract(tmp_path, nucleotide, "nt.safetensors", "dna_composition")
    reordered = write_fasta(
        tmp_path / "aa2.fasta", [(IDS[2], "GPK"), (IDS[0], "MKP"), (IDS[1], "TYV")]
    )
    _extract(tmp_path, reordered, "aa.safetensors", "aa_composition")
    merged = merge_features(
        tmp_path / "nt.safetensors", tmp_path / "aa.safetensors", tmp_path / "m.safetensors"
    )
    dna, aa = read_features(tmp_path / "nt.safetensors"), read_features(tmp_path / "aa.safetensors")
    assert merged.ids == IDS and merged.matrix.shape == (3, 340 + 420)
    assert np.array_equal(merged.matrix[0], np.concatenate([dna.matrix[0], aa.matrix[1]]))
    stored = read_features(tmp_path / "m.safetensors")
    assert (
        stored.metadata["dna_embedder"] == "dna_composition"
        and stored.metadata["protein_dimension"] == "420"
    )
    assert stored.metadata["embedder"] == "dna_composition+aa_composition"


def test_merge_refuses_mismatches_naming_both_sides(tmp_path):
    nucleotide, protein = _frames(tmp_path)
    _extract(tmp_path, nucleotide, "nt.safetensors", "dna_composition")
    _extract(tmp_path, protein, "aa.safetensors", "aa_composition")
    fewer = write_fasta(tmp_path / "aa_fewer.fasta", [(IDS[0], "MKP"), ("x_chunk_9F1", "MKV")])
    _extract(tmp_path, fewer, "aa_fewer.safetensors", "aa_composition")
    _extract(tmp_path, protein, "aa_500.safetensors", "aa_composition", chunk_size=500)
    cases = [
        (
            "aa_fewer.safetensors",
            r"frame ids differ: 2 only in .*nt.safetensors \(DNA, e.g. c_chunk_1R2, d_chunk_1F3\), 1 only in .*aa_fewer.safetensors \(protein, e.g. x_chunk_9F1\)",
        ),
        (
            "aa_500.safetensors",
            r"chunk_size differs: 300 in .*nt.safetensors \(DNA\) but 500 in .*aa_500.safetensors \(protein\)",
        ),
        (
            "nt.safetensors",
            r"--protein .*nt.safetensors holds dna features \(embedder 'dna_composition'\); --protein needs protein features",
        ),
    ]
    aa = read_features(tmp_path / "aa.safetensors")
    metadata = {
        **aa.metadata,
        "format": "virnucpro-features/1",
        "ids": json.dumps(aa.ids),
        "dimension": "1280",
    }
    save_file({"features": aa.matrix}, tmp_path / "aa_dim.safetensors", metadata)
    cases.append(
        (
            "aa_dim.safetensors",
            r"aa_dim.safetensors: matrix has 420 columns but metadata says dimension 1280",
        )
    )
    for protein_file, message in cases:
        with pytest.raises(InputError, match=message):
            merge_features(
                tmp_path / "nt.safetensors", tmp_path / protein_file, tmp_path / "m.safetensors"
            )
    assert not (tmp_path / "m.safetensors").exists()


def test_embed_and_merge_commands(tmp_path):
    nucleotide, protein = _frames(tmp_path)
    steps = [
        (
            "embed_dna.py",
            "--input",
            nucleotide,
            "--output",
            tmp_path / "nt.st",
            "--embedder",
            "dna_composition",
            "--chunk-size",
            "300",
            "--device",
            "cpu",
        ),
        (
            "embed_protein.py",
            "--input",
            protein,
            "--output",
            tmp_path / "aa.st",
            "--embedder",
            "aa_composition",
            "--chunk-size",
            "300",
            "--precision",
            "fp32",
            "--device",
            "cpu",
        ),
        (
            "merge_features.py",
            "--dna",
            tmp_path / "nt.st",
            "--protein",
            tmp_path / "aa.st",
            "--output",
            tmp_path / "m.st",
        ),
    ]
    for step in steps:
        result = run_script(*step)
        assert result.returncode == 0, result.stderr
    assert read_features(tmp_path / "m.st").dimension == 760
    result = run_script(
        "merge_features.py",
        "--dna",
        tmp_path / "aa.st",
        "--protein",
        tmp_path / "aa.st",
        "--output",
        tmp_path / "bad.st",
    )
    assert result.returncode == 1 and result.stderr.strip().startswith("error: --dna")
