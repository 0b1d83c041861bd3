"""Balancing and splitting: seeded, proportional, and genome-disjoint by default."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from virnucpro.errors import InputError
from virnucpro.split import GroupBy, SourcedFrame, _proportional_sample, balance, split_dataset

HEADER = "frame_id\tgenome\tlabel\tsource\n"


def _sources(path, rows):
    path.write_text(HEADER + "".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def _dataset(tmp_path):
    """40 viral genomes x 10 frames; host: 300 frames in a.gb (3 genomes), 100 in b.gb (10 genomes)."""
    viral = [(f"v{g}_{i}", f"v{g}", 1, "viral.gbk") for g in range(40) for i in range(10)]
    host_a = [(f"a{g}_{i}", f"a{g}", 0, "a.gb") for g in range(3) for i in range(100)]
    host_b = [(f"b{g}_{i}", f"b{g}", 0, "b.gb") for g in range(10) for i in range(10)]
    return [
        _sources(tmp_path / "viral.tsv", viral),
        _sources(tmp_path / "a.tsv", host_a),
        _sources(tmp_path / "b.tsv", host_b),
    ]


def _read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _split(tmp_path, out="split", **options):
    settings = {
        "seed": 42,
        "test_fraction": 0.1,
        "val_fraction": 0.1,
        "group_by": GroupBy.genome,
        **options,
    }
    return split_dataset(_dataset(tmp_path), tmp_path / out, **settings)


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    _split(tmp_path, "one")
    _split(tmp_path, "two")
    _split(tmp_path, "three", seed=7)
    for name in ("train", "validation", "test", "summary"):
        assert (tmp_path / "one" / f"{name}.tsv").read_bytes() == (
            tmp_path / "two" / f"{name}.tsv"
        ).read_bytes()
    assert (tmp_path / "one" / "test.tsv").read_bytes() != (
        tmp_path / "three" / "test.tsv"
    ).read_bytes()


def test_no_genome_in_two_splits_and_classes_balanced(tmp_path):
    splits = _split(tmp_path)
    genomes = {name: {frame.genome for frame in frames} for name, frames in splits.items()}
    assert not genomes["train"] & genomes["test"]
    assert not genomes["train"] & genomes["validation"]
    assert not genomes["validation"] & genomes["test"]
    everything = [frame for frames in splits.values() for frame in frames]
    assert sum(frame.label for frame in everything) == 400 == len(everything) - 400
    # Viral genomes are all 10 frames: the targets 320/40/40 are met exactly.
    viral = {name: sum(frame.label for frame in frames) for name, frames in splits.items()}
    assert viral == {"train": 320, "validation": 40, "test": 40}


def test_written_tables_hold_the_split_and_the_unused_frames(tmp_path):
    splits = _split(tmp_path)
    for name, frames in splits.items():
        rows = _read(tmp_path / "split" / f"{name}.tsv")
        assert [row["frame_id"] for row in rows] == [frame.frame_id for frame in frames]
        assert all(row["label"] in ("0", "1") for row in rows)
    summary = {
        (row["split"], row["label"]): int(row["frames"])
        for row in _read(tmp_path / "split" / "summary.tsv")
    }
    assert summary[("unused", "0")] == 0 and summary[("unused", "1")] == 0
    assert sum(summary.values()) == 800


def test_host_sampled_in_proportion_across_host_inputs(tmp_path):
    # 200 viral frames against 300 + 100 host frames: host keeps 150 from a.gb and 50 from b.gb.
    files = _dataset(tmp_path)
    viral = _sources(
        tmp_path / "viral.tsv",
        [(f"v{g}_{i}", f"v{g}", 1, "viral.gbk") for g in range(20) for i in range(10)],
    )
    splits = split_dataset([viral, *files[1:]], tmp_path / "out", 1, 0.1, 0.1, GroupBy.genome)
    host = [frame for frames in splits.values() for frame in frames if frame.label == 0]
    assert sum(frame.source == "a.gb" for frame in host) == 150
    assert sum(frame.source == "b.gb" for frame in host) == 50
    summary = {
        (row["split"], row["label"]): int(row["frames"])
        for row in _read(tmp_path / "out" / "summary.tsv")
    }
    assert summary[("unused", "0")] == 200


def test_largest_remainder_quotas():
    # 7 frames from sources of 5, 3 and 2: shares 3.5, 2.1, 1.4 -> 3, 2, 1 plus one for the largest remainder (0.5).
    frames = [
        SourcedFrame(f"{source}{i}", source, 0, source)
        for source, size in (("a", 5), ("b", 3), ("c", 2))
        for i in range(size)
    ]
    chosen = _proportional_sample(frames, 7, np.random.default_rng(0))
    assert [sum(frame.source == source for frame in chosen) for source in "abc"] == [4, 2, 1]


def test_group_by_none_splits_frames_to_the_fractions(tmp_path):
    splits = _split(tmp_path, group_by=GroupBy.none, test_fraction=0.2, val_fraction=0.05)
    sizes = {name: len(frames) for name, frames in splits.items()}
    assert sizes == {"train": 600, "validation": 40, "test": 160}
    genomes = {name: {frame.genome for frame in frames} for name, frames in splits.items()}
    assert genomes["train"] & genomes["test"]  # frames of one genome are spread


def test_no_balance_keeps_everything(tmp_path):
    splits = _split(tmp_path, balance_classes=False)
    assert sum(len(frames) for frames in splits.values()) == 800


def test_missing_class_is_refused(tmp_path):
    viral = _sources(tmp_path / "viral.tsv", [("v1", "g", 1, "v.gbk")])
    with pytest.raises(InputError, match="no host frames in the inputs"):
        split_dataset([viral], tmp_path / "out", 1, 0.1, 0.1, GroupBy.genome)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("test_fraction", "val_fraction", "message"),
    [
        (1.0, 0.0, "test fraction must be in"),
        (-0.1, 0.1, "test fraction must be in"),
        (0.5, 0.5, "must leave frames for training"),
    ],
)
def test_bad_fractions_are_refused(tmp_path, test_fraction, val_fraction, message):
    with pytest.raises(InputError, match=message):
        split_dataset(
            _dataset(tmp_path), tmp_path / "out", 1, test_fraction, val_fraction, GroupBy.genome
        )


def test_duplicate_frame_ids_across_tables_are_refused(tmp_path):
    one = _sources(tmp_path / "one.tsv", [("f1", "g", 1, "v.gbk")])
    two = _sources(tmp_path / "two.tsv", [("f1", "h", 0, "h.gb")])
    with pytest.raises(InputError, match=r"duplicate frame id .* 'f1'"):
        split_dataset([one, two], tmp_path / "out", 1, 0.1, 0.1, GroupBy.genome)


def test_balance_keeps_input_order():
    frames = [SourcedFrame(f"f{i}", f"g{i}", i % 2, "s") for i in range(10)]
    kept = balance(frames, np.random.default_rng(0))
    assert kept == frames
