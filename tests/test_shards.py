"""Sharding: N frames per shard, identical ids in each nucleotide/protein pair."""

from __future__ import annotations

import pytest
from conftest import read_fasta, write_fasta

from virnucpro.errors import InputError
from virnucpro.preprocess.frames import translations
from virnucpro.preprocess.shards import paired_frames, shard_frames


def _pair(tmp_path, name, ids):
    nucleotide = write_fasta(tmp_path / f"{name}.nt.fasta", [(i, "ATGAAA") for i in ids])
    protein = write_fasta(tmp_path / f"{name}.aa.fasta", [(i, "MK") for i in ids])
    return nucleotide, protein


def _shard_ids(directory, name):
    nucleotide = read_fasta(directory / f"{name}.nucleotide.fasta")
    protein = read_fasta(directory / f"{name}.protein.fasta")
    assert [i for i, _ in nucleotide] == [i for i, _ in protein]
    return [i for i, _ in nucleotide]


def test_shards_of_n_frames_across_input_pairs(tmp_path):
    first = _pair(tmp_path, "a", [f"a{i}" for i in range(5)])
    second = _pair(tmp_path, "b", [f"b{i}" for i in range(3)])
    summary = shard_frames([first[0], second[0]], [first[1], second[1]], tmp_path / "out", 3, "run")
    assert summary.shards == ["run_00001", "run_00002", "run_00003"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"run_0000{n}.{kind}.fasta" for n in (1, 2, 3) for kind in ("nucleotide", "protein")
    )
    assert _shard_ids(tmp_path / "out", "run_00001") == ["a0", "a1", "a2"]
    assert _shard_ids(tmp_path / "out", "run_00002") == ["a3", "a4", "b0"]
    assert _shard_ids(tmp_path / "out", "run_00003") == ["b1", "b2"]


def test_id_lists_select_frames_and_missing_ids_are_refused(tmp_path):
    nucleotide, protein = _pair(tmp_path, "a", [f"f{i}" for i in range(6)])
    ids = tmp_path / "ids.tsv"
    ids.write_text("frame_id\tlabel\nf1\t1\nf4\t0\n")
    shard_frames([nucleotide], [protein], tmp_path / "out", 10, id_lists=[ids])
    assert _shard_ids(tmp_path / "out", "shard_00001") == ["f1", "f4"]
    ids.write_text("frame_id\nf1\nf9\n")
    with pytest.raises(
        InputError, match=r"1 listed frame ids are not in the FASTA inputs \(e.g. f9\)"
    ):
        shard_frames([nucleotide], [protein], tmp_path / "again", 10, id_lists=[ids])
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


def test_mismatched_pairs_are_refused(tmp_path):
    nucleotide, _ = _pair(tmp_path, "a", ["f1", "f2"])
    _, protein = _pair(tmp_path, "b", ["f1", "f3"])
    with pytest.raises(
        InputError,
        match=r"record 2 differs between .*a.nt.fasta \('f2'\) and .*b.aa.fasta \('f3'\)",
    ):
        shard_frames([nucleotide], [protein], tmp_path / "out", 10)
    _, short = _pair(tmp_path, "c", ["f1"])
    with pytest.raises(InputError, match="hold different numbers of records"):
        shard_frames([nucleotide], [short], tmp_path / "out", 10)
    with pytest.raises(InputError, match="got 1 nucleotide and 2 protein files"):
        shard_frames([nucleotide], [protein, short], tmp_path / "out", 10)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_rerun_replaces_shards_of_an_earlier_run(tmp_path):
    nucleotide, protein = _pair(tmp_path, "a", [f"f{i}" for i in range(4)])
    shard_frames([nucleotide], [protein], tmp_path / "out", 1)
    shard_frames([nucleotide], [protein], tmp_path / "out", 2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "shard_00001.nucleotide.fasta",
        "shard_00001.protein.fasta",
        "shard_00002.nucleotide.fasta",
        "shard_00002.protein.fasta",
    ]


def test_protein_file_given_as_nucleotide_is_refused(tmp_path):
    _, protein = _pair(tmp_path, "a", ["f1"])
    protein.write_text(">f1\nMKLLEP\n")
    with pytest.raises(InputError, match="'f1' looks like a protein sequence"):
        shard_frames([protein], [protein], tmp_path / "out", 10)


def test_zero_frames_per_shard_is_refused(tmp_path):
    nucleotide, protein = _pair(tmp_path, "a", ["f1"])
    with pytest.raises(InputError, match="frames per shard must be at least 1, got 0"):
        shard_frames([nucleotide], [protein], tmp_path / "out", 0)


def test_id_list_without_frame_id_column_is_refused(tmp_path):
    nucleotide, protein = _pair(tmp_path, "a", ["f1"])
    ids = tmp_path / "ids.tsv"
    ids.write_text("id\nf1\n")
    with pytest.raises(
        InputError, match=r"ids.tsv: not an id list \(no frame_id column in the header\)"
    ):
        shard_frames([nucleotide], [protein], tmp_path / "out", 10, id_lists=[ids])


def test_each_protein_must_be_its_nucleotide_frames_translation(tmp_path):
    # ATG AAA CCC -> MKP; with an N codon the slice is one codon short of the protein
    nucleotide = write_fasta(
        tmp_path / "n.fasta", [("a_chunk_1F1", "ATGAAACCCG"), ("b_chunk_1F1", "ATGNNNAAAC")]
    )
    good = write_fasta(tmp_path / "p.fasta", [("a_chunk_1F1", "MKP"), ("b_chunk_1F1", "MKP")])
    assert [p for *_, p in paired_frames([nucleotide], [good])] == ["MKP", "MKP"]
    bad = write_fasta(tmp_path / "q.fasta", [("a_chunk_1F1", "MKL"), ("b_chunk_1F1", "MKP")])
    with pytest.raises(InputError, match=r"q.fasta: frame 'a_chunk_1F1' is not the translation .*"
                       r"\('MKL...' found, 'MKP...' expected\)"):  # fmt: skip
        list(paired_frames([nucleotide], [bad]))
    assert translations(["ATGAAACCCG", "ATGNNNAAAC", "AT"]) == ["MKP", "MK", ""]
