"""Balancing and splitting: seeded, proportional, and cluster- or genome-disjoint."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

import numpy as np
import pytest
from conftest import ASSETS, run_script

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.preprocess.sketches import sketch, write_sketches
from virnucpro.preprocess.split import (
    GroupBy,
    SourcedFrame,
    _proportional_sample,
    assign_splits,
    balance,
    split_dataset,
)
from virnucpro.preprocess.training_set import Label, build_training_set

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


# --- Clusters of similar genomes (--group-by cluster, the default)


def _genome(rng: np.random.Generator, length: int) -> str:
    return np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, length)].tobytes().decode()


def _mutant(rng: np.random.Generator, sequence: str, rate: float) -> str:
    """A copy with ``rate`` of its bases changed (A->C->G->T->A)."""
    bases = np.frombuffer(sequence.encode(), dtype=np.uint8).copy()
    sites = rng.choice(len(bases), size=round(rate * len(bases)), replace=False)
    bases[sites] = np.frombuffer(b"CGTA", dtype=np.uint8)[
        np.searchsorted(np.frombuffer(b"ACGT", dtype=np.uint8), bases[sites])
    ]
    return bases.tobytes().decode()


def _sketch_file(path, sequences: dict[str, str]):
    with AtomicOutputs() as outputs:
        write_sketches(outputs, path, {name: sketch(seq) for name, seq in sequences.items()})
    return path


def _planted(tmp_path):
    """Planted clusters: 8 viral families of 3 strains (1% apart, 10 kb, 10 frames each);
    host genomes (200 kb, 40 frames each): h0 carries the family-0 phage as a prophage,
    h1 and its 1% variant h1b, and unrelated h2..h5. Returns sources, sketches and the
    planted clusters."""
    rng = np.random.default_rng(5)
    viral, planted = {}, []
    for family in range(8):
        base = _genome(rng, 10000)
        members = {f"v{family}_{strain}": _mutant(rng, base, 0.01) for strain in range(3)}
        viral |= members
        planted.append(set(members))
    host = {f"h{index}": _genome(rng, 200000) for index in range(6)}
    host["h0"] = host["h0"][:100000] + viral["v0_0"] + host["h0"][100000:]
    host["h1b"] = _mutant(rng, host["h1"], 0.01)
    planted[0] |= {"h0"}
    planted += [{"h1", "h1b"}] + [{f"h{index}"} for index in range(2, 6)]
    rows = {
        "viral": [(f"{g}_{i}", g, 1, "viral.gbk") for g in viral for i in range(10)],
        "host": [(f"{g}_{i}", g, 0, "host.gb") for g in host for i in range(40)],
    }
    sources = [_sources(tmp_path / f"{name}.tsv", rows[name]) for name in ("viral", "host")]
    sketches = [
        _sketch_file(tmp_path / "viral.sketches.safetensors", viral),
        _sketch_file(tmp_path / "host.sketches.safetensors", host),
    ]
    return sources, sketches, planted


def _cluster_split(tmp_path, out="split", seed=42, **options):
    sources, sketches, planted = _planted(tmp_path)
    splits = split_dataset(
        sources, tmp_path / out, seed, 0.2, 0.1, GroupBy.cluster, sketch_paths=sketches, **options
    )
    return splits, _read(tmp_path / out / "clusters.tsv"), planted


def test_planted_clusters_are_found_and_none_spans_two_splits(tmp_path):
    splits, rows, planted = _cluster_split(tmp_path)
    found = defaultdict(set)
    for row in rows:
        found[row["cluster"]].add(row["genome"])
    assert sorted(map(sorted, found.values())) == sorted(map(sorted, planted))
    split_of = {frame.genome: name for name, frames in splits.items() for frame in frames}
    for members in planted:
        assert len({split_of[genome] for genome in members if genome in split_of}) == 1, members
    # the prophage's host and the phage's strains: viral and host frames in one split
    mixed = {split_of[genome] for genome in planted[0]}
    assert len(mixed) == 1
    (where,) = mixed
    assert {frame.label for frame in splits[where] if frame.genome in planted[0]} == {0, 1}
    # clusters.tsv says where each genome went
    assert all(row["split"] == split_of.get(row["genome"], "unused") for row in rows)


def test_grouping_by_genome_lets_near_copies_cross_splits(tmp_path):
    # The leak the clusters close: split by genome, some planted cluster spans two splits
    sources, sketches, _ = _planted(tmp_path)
    split_dataset(sources, tmp_path / "g", 42, 0.2, 0.1, GroupBy.genome, sketch_paths=sketches)
    rows = _read(tmp_path / "g" / "clusters.tsv")
    splits_per_cluster = defaultdict(set)
    for row in rows:
        splits_per_cluster[row["cluster"]].add(row["split"])
    assert max(len(held) for held in splits_per_cluster.values()) > 1


def test_cluster_split_is_deterministic(tmp_path):
    _cluster_split(tmp_path, "one")
    _cluster_split(tmp_path, "two")
    _cluster_split(tmp_path, "three", seed=3)
    for name in ("train", "validation", "test", "summary", "clusters"):
        one = (tmp_path / "one" / f"{name}.tsv").read_bytes()
        assert one == (tmp_path / "two" / f"{name}.tsv").read_bytes(), name
    assert (tmp_path / "one" / "clusters.tsv").read_bytes() != (
        tmp_path / "three" / "clusters.tsv"
    ).read_bytes()


def test_summary_counts_clusters_per_split_and_label(tmp_path):
    splits, rows, _ = _cluster_split(tmp_path)
    summary = {
        (row["split"], row["label"]): row for row in _read(tmp_path / "split" / "summary.tsv")
    }
    assert list(next(iter(summary.values()))) == ["split", "label", "frames", "genomes", "clusters"]
    cluster_of = {row["genome"]: row["cluster"] for row in rows}
    for name, frames in splits.items():
        for label in (1, 0):
            genomes = {frame.genome for frame in frames if frame.label == label}
            row = summary[(name, str(label))]
            assert int(row["genomes"]) == len(genomes)
            assert int(row["clusters"]) == len({cluster_of[genome] for genome in genomes})


def test_mixed_clusters_keep_each_class_near_its_fractions():
    # 40 viral and 40 host genomes of 10 frames; clusters 0-9 hold one of each
    frames = [
        SourcedFrame(f"{kind}{g}_{i}", f"{kind}{g}", label, kind)
        for kind, label in (("v", 1), ("h", 0))
        for g in range(40)
        for i in range(10)
    ]
    clusters = {
        f"{kind}{g}": g if g < 10 else 100 * label + g
        for kind, label in (("v", 1), ("h", 0))
        for g in range(40)
    }
    assignment = assign_splits(
        frames, 0.2, 0.1, GroupBy.cluster, np.random.default_rng(0), clusters
    )
    for label, kind in ((1, "v"), (0, "h")):
        sizes = Counter(assignment[f.frame_id] for f in frames if f.label == label)
        assert sizes == {"train": 280, "validation": 40, "test": 80}, (kind, sizes)
    for g in range(10):  # each mixed cluster whole in one split
        assert assignment[f"v{g}_0"] == assignment[f"h{g}_9"]


def test_a_mixed_cluster_goes_where_its_classes_need_it_most():
    # host: genome H1 of 60 frames, a phage-host cluster M (1 viral + 30 host frames), H2
    # of 10; viral: M's frame and 99 genomes of 1 frame. Targets: 70 train, 30 test each.
    # After H1 (train), M's host frames are needed in test (30 short) more than in train
    # (10 short), weighed against its one viral frame: M goes to test.
    frames = [
        SourcedFrame("m_v", "mv", 1, "v"),
        *(SourcedFrame(f"m_h{i}", "mh", 0, "h") for i in range(30)),
    ]
    frames += [SourcedFrame(f"h1_{i}", "h1", 0, "h") for i in range(60)]
    frames += [SourcedFrame(f"h2_{i}", "h2", 0, "h") for i in range(10)]
    frames += [SourcedFrame(f"v{g}", f"v{g}", 1, "v") for g in range(99)]
    clusters = {frame.genome: frame.genome for frame in frames} | {"mv": "m", "mh": "m"}
    assignment = assign_splits(
        frames, 0.3, 0.0, GroupBy.cluster, np.random.default_rng(0), clusters
    )
    assert assignment["m_v"] == assignment["m_h0"] == "test"
    for label in (1, 0):
        sizes = Counter(assignment[f.frame_id] for f in frames if f.label == label)
        assert sizes == {"train": 70, "test": 30}, (label, sizes)


def test_clusters_table_lists_genomes_left_out_by_balancing(tmp_path):
    # 10 viral frames; host a.gb 100 frames and b.gb 1 frame: b's quota rounds to 0
    viral = _sources(tmp_path / "v.tsv", [(f"v{i}", "v", 1, "v.gbk") for i in range(10)])
    host_a = _sources(tmp_path / "a.tsv", [(f"a{i}", "a", 0, "a.gb") for i in range(100)])
    host_b = _sources(tmp_path / "b.tsv", [("b0", "b", 0, "b.gb")])
    sketches = _sketch_file(tmp_path / "s.safetensors", {"v": "ACGT" * 50, "a": "", "b": ""})
    split_dataset(
        [viral, host_a, host_b], tmp_path / "out", 1, 0.0, 0.0, GroupBy.cluster,
        sketch_paths=[sketches],
    )  # fmt: skip
    rows = _read(tmp_path / "out" / "clusters.tsv")
    assert [(row["genome"], row["label"], row["frames"], row["split"]) for row in rows] == [
        ("v", "1", "10", "train"),
        ("a", "0", "10", "train"),
        ("b", "0", "1", "unused"),
    ]
    assert [row["cluster"] for row in rows] == ["1", "2", "3"]


def test_group_by_none_lists_every_split_of_a_genome(tmp_path):
    _split(tmp_path, group_by=GroupBy.none)
    rows = _read(tmp_path / "split" / "clusters.tsv")
    assert len(rows) == 40 + 3 + 10  # no sketches: each genome its own cluster
    assert len({row["cluster"] for row in rows}) == len(rows)
    assert "train,validation,test" in {row["split"] for row in rows}


def test_cluster_grouping_needs_sketches_of_every_genome(tmp_path):
    files = _dataset(tmp_path)
    with pytest.raises(InputError, match="--group-by cluster needs the sketches"):
        split_dataset(files, tmp_path / "out", 1, 0.1, 0.1, GroupBy.cluster)
    partial = _sketch_file(tmp_path / "s.safetensors", {f"v{g}": "" for g in range(40)})
    with pytest.raises(InputError, match=r"genome 'a0' has no sketch \(13 of 53 genomes"):
        split_dataset(files, tmp_path / "out", 1, 0.1, 0.1, GroupBy.cluster, sketch_paths=[partial])
    assert not (tmp_path / "out").exists()


def test_a_genome_with_both_labels_is_refused(tmp_path):
    one = _sources(tmp_path / "one.tsv", [("f1", "g", 1, "v.gbk"), ("f2", "g", 0, "v.gbk")])
    with pytest.raises(InputError, match=r"one.tsv:3: genome 'g' has both viral and host frames"):
        split_dataset([one], tmp_path / "out", 1, 0.1, 0.1, GroupBy.genome)


def test_split_cli_defaults_to_clusters_from_build_training_set_sketches(tmp_path):
    sources, sketches = [], []
    for name, label in (
        ("microviruses_12.gbk", Label.viral),
        ("NC_005816.gb", Label.host),
        ("arab1.gb.gz", Label.host),
    ):
        sources += ["--sources", tmp_path / f"{name}.tsv"]
        sketches += ["--sketches", tmp_path / f"{name}.sketches.safetensors"]
        build_training_set(
            ASSETS / name, label, 300, tmp_path / f"{name}.nt", tmp_path / f"{name}.aa",
            sources[-1], sketches_path=sketches[-1],
        )  # fmt: skip
    result = run_script("split_dataset.py", *sources, "--output-dir", tmp_path / "split")
    assert result.returncode == 1
    assert "error: --group-by cluster needs the sketches" in result.stderr
    result = run_script("split_dataset.py", *sources, *sketches, "--output-dir", tmp_path / "split")
    assert result.returncode == 0, result.stderr
    assert "grouped by cluster" in result.stderr
    rows = _read(tmp_path / "split" / "clusters.tsv")
    clusters = defaultdict(set)
    for row in rows:
        clusters[row["cluster"]].add((row["genome"], row["split"]))
    # Four of the twelve microviruses are strains of one species (~1 of their 50 sketch
    # hashes apart); the split keeps them in one set
    strains = {
        "Family1_AF454431",
        "Family1_AY751298",
        "Family1_Bullavirinae_NC_001420",
        "Family1_GQ153923",
    }
    (group,) = [members for members in clusters.values() if {g for g, _ in members} == strains]
    assert len({split for _, split in group}) == 1
    assert all(len({split for _, split in members}) == 1 for members in clusters.values())
    assert f"{len(clusters)} clusters of 14 genomes" in result.stderr


@pytest.mark.slow
def test_no_cluster_spans_two_splits_on_the_real_genomes(tmp_path, shared_data):
    """Both batches of ../shared/data, built and split with the defaults."""
    sources, sketches, labels = [], [], {}
    for folder, label in (("viral", Label.viral), ("host", Label.host)):
        for path in sorted((shared_data / folder).iterdir()):
            stem = f"{folder}_{path.name}"
            sources.append(tmp_path / f"{stem}.tsv")
            sketches.append(tmp_path / f"{stem}.sketches.safetensors")
            build_training_set(
                path, label, 300, tmp_path / f"{stem}.nt", tmp_path / f"{stem}.aa",
                sources[-1], sketches_path=sketches[-1],
            )  # fmt: skip
            labels[stem] = label
    splits = split_dataset(
        sources, tmp_path / "split", 42, 0.1, 0.1, GroupBy.cluster, sketch_paths=sketches
    )
    rows = _read(tmp_path / "split" / "clusters.tsv")
    genomes = {frame.genome for frames in splits.values() for frame in frames}
    assert genomes <= {row["genome"] for row in rows}
    by_cluster = defaultdict(list)
    for row in rows:
        by_cluster[row["cluster"]].append(row)
    for members in by_cluster.values():
        assert len({row["split"] for row in members if row["split"] != "unused"}) <= 1, members
    split_of = {frame.genome: name for name, frames in splits.items() for frame in frames}
    for members in by_cluster.values():
        assert len({split_of[row["genome"]] for row in members if row["genome"] in split_of}) <= 1
    several = [
        sorted(row["genome"] for row in members)
        for members in by_cluster.values()
        if len(members) > 1
    ]
    print(f"{len(by_cluster)} clusters, {len(several)} of several genomes: {several}")
    assert ["JX128258.1", "MH051335.1", "MH816966.1", "MK373776.1"] in several


def test_groups_are_assigned_largest_first():
    # One class; genomes of 5, 10, 25 and 60 frames (given smallest first). Targets: train
    # 60, validation 25, test 15 frames. Deficit of a split for a group of n frames:
    # n / 100 * (target - filled). Largest first:
    #   A (60): train 0.6 * 60 = 36, validation 0.6 * 25 = 15, test 0.6 * 15 = 9  -> train
    #   B (25): train 0, validation 0.25 * 25 = 6.25, test 0.25 * 15 = 3.75      -> validation
    #   C (10): train 0, validation 0, test 0.1 * 15 = 1.5                        -> test
    #   D (5):  train 0, validation 0, test 0.05 * (15 - 10) = 0.25               -> test
    # Smallest first, D, C and B would all go to train and A to validation.
    sizes = {"D": 5, "C": 10, "B": 25, "A": 60}
    frames = [
        SourcedFrame(f"{genome}_{i}", genome, 1, "v.gbk")
        for genome, size in sizes.items()
        for i in range(size)
    ]
    expected = {"A": "train", "B": "validation", "C": "test", "D": "test"}
    for seed in range(10):  # the seed orders equal-sized groups only: there are none
        assignment = assign_splits(
            frames, 0.15, 0.25, GroupBy.genome, np.random.default_rng(seed), {}
        )
        assert assignment == {frame.frame_id: expected[frame.genome] for frame in frames}, seed
