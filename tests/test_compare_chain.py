"""The compare workflow's chain of bin/ commands, end to end on the real genomes of ../shared/data.

CPU baselines (dna_composition for DNA; aa_composition and the tiny ESM2 for
proteins) stand in for the GPU models. The split is by frame (--group-by none):
the shared data has one large host genome, so a genome-grouped test set holds a
few small host genomes only and says little about whether labels and ids stay
aligned, which is what this test checks (docs/training_set.md has both figures).
"""

from __future__ import annotations

import csv
import json

import pytest
from conftest import run_script

pytestmark = pytest.mark.slow

GENOMES = [
    ("viral/hundred_microviruses.gbk", "viral"),
    ("viral/SAOMS1.gbk", "viral"),
    ("viral/EU851978.gbk", "viral"),
    ("viral/HM138502.gbk", "viral"),
    ("viral/KF527485.gbk", "viral"),
    ("host/Streptococcus_pyogenes_M1_GAS.gb", "host"),
    ("host/NC_000932.gb", "host"),
    ("host/arab1.gb", "host"),
    ("host/extra_keywords.gb", "host"),
    ("host/NC_005816.gb", "host"),
]
EMBEDDERS = ["aa_composition", "tiny_esm2"]
COMMON = ("--chunk-size", "300", "--precision", "fp32", "--device", "cpu")


def _run(*args):
    result = run_script(*args)
    assert result.returncode == 0, f"{args[0]}: {result.stderr[-2000:]}"


def _repeat(option, paths):
    return [argument for path in paths for argument in (option, path)]


def test_compare_chain_on_shared_genomes(tmp_path, shared_data):
    # BUILD_TRAINING_SET per genome file, SPLIT_DATASET, SHARD_FRAMES
    names = [name.split("/")[1] for name, _ in GENOMES]
    for (name, label), short in zip(GENOMES, names, strict=True):
        _run("build_training_set.py", "--genbank", shared_data / name, "--label", label, "--chunk-size", "300",
             "--nucleotide", tmp_path / f"{short}.nt", "--protein", tmp_path / f"{short}.aa",
             "--sources", tmp_path / f"{short}.tsv", "--counts", tmp_path / f"{short}.counts")  # fmt: skip
    split = tmp_path / "split"
    _run("split_dataset.py", *_repeat("--sources", [tmp_path / f"{n}.tsv" for n in names]), "--output-dir", split,
         "--seed", "42", "--test-fraction", "0.1", "--val-fraction", "0.1", "--group-by", "none")  # fmt: skip
    lists = [split / f"{s}.tsv" for s in ("train", "validation", "test")]
    _run("shard_frames.py", *_repeat("--nucleotide", [tmp_path / f"{n}.nt" for n in names]),
         *_repeat("--protein", [tmp_path / f"{n}.aa" for n in names]), *_repeat("--ids", lists),
         "--output-dir", tmp_path / "shards", "--prefix", "training_set", "--frames-per-shard", "1000")  # fmt: skip
    shards = sorted(
        p.name.removesuffix(".nucleotide.fasta")
        for p in (tmp_path / "shards").glob("*.nucleotide.fasta")
    )
    assert len(shards) == 3

    # EMBED_AND_MERGE: DNA once per shard, each protein embedder per shard, merged
    features = tmp_path / "features"
    for shard in shards:
        dna = features / f"{shard}.dna_composition.dna.safetensors"
        _run(
            "embed_dna.py",
            "--input",
            tmp_path / "shards" / f"{shard}.nucleotide.fasta",
            "--output",
            dna,
            "--embedder",
            "dna_composition",
            *COMMON,
        )
        for embedder in EMBEDDERS:
            protein = features / f"{shard}.{embedder}.protein.safetensors"
            _run(
                "embed_protein.py",
                "--input",
                tmp_path / "shards" / f"{shard}.protein.fasta",
                "--output",
                protein,
                "--embedder",
                embedder,
                *COMMON,
            )
            _run(
                "merge_features.py",
                "--dna",
                dna,
                "--protein",
                protein,
                "--output",
                features / f"{shard}.{embedder}.merged.safetensors",
            )

    # TRAIN_CLASSIFIER, EVALUATE_CLASSIFIER and BENCHMARK_EMBEDDER per embedder, then COMPARE_EMBEDDERS
    for embedder in EMBEDDERS:
        merged = _repeat(
            "--features", [features / f"{s}.{embedder}.merged.safetensors" for s in shards]
        )
        _run(
            "train_classifier.py",
            *merged,
            "--train",
            lists[0],
            "--validation",
            lists[1],
            "--output-dir",
            tmp_path / f"{embedder}_classifier",
            "--seed",
            "42",
        )
        _run(
            "evaluate_classifier.py",
            "--classifier",
            tmp_path / f"{embedder}_classifier",
            *merged,
            "--test",
            lists[2],
            "--output-dir",
            tmp_path / f"{embedder}_evaluation",
        )
        _run("benchmark_embedder.py", "--embedder", embedder, "--input", tmp_path / "shards" / f"{shards[0]}.protein.fasta",
             "--output", tmp_path / f"{embedder}.benchmark.json", "--precision", "fp32", "--device", "cpu", "--warmup", "16")  # fmt: skip
    _run("compare_embedders.py", *_repeat("--evaluation", [tmp_path / f"{e}_evaluation" / "evaluation.json" for e in EMBEDDERS]),
         *_repeat("--benchmark", [tmp_path / f"{e}.benchmark.json" for e in EMBEDDERS]),
         "--output-dir", tmp_path / "comparison", "--baseline", "tiny_esm2")  # fmt: skip

    # Labels and ids stay aligned: the evaluated frames and labels are the test list's.
    with open(lists[2]) as handle:
        expected = [
            (row["frame_id"], row["label"]) for row in csv.DictReader(handle, delimiter="\t")
        ]
    baseline = json.loads((tmp_path / "aa_composition_evaluation" / "evaluation.json").read_text())
    with open(tmp_path / "aa_composition_evaluation" / "test_predictions.tsv") as handle:
        assert [
            (row["frame_id"], row["label"]) for row in csv.DictReader(handle, delimiter="\t")
        ] == expected
    # The split is balanced, so always answering "virus" would score F1 = 2/3.
    f1 = baseline["metrics"]["f1"]
    print(f"aa_composition + dna_composition test F1 {f1['value']:.3f} [{f1['low']:.3f}, {f1['high']:.3f}], "
          f"AUROC {baseline['metrics']['auroc']['value']:.3f}, MCC {baseline['metrics']['mcc']['value']:.3f}")  # fmt: skip
    assert baseline["test_viral_frames"] * 2 == baseline["test_frames"]
    assert f1["low"] > 0.85 and baseline["metrics"]["mcc"]["value"] > 0.7

    with open(tmp_path / "comparison" / "comparison.tsv") as handle:
        rows = {row["embedder"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert set(rows) == set(EMBEDDERS) and rows["tiny_esm2"]["speedup"] == "1"
    assert float(rows["aa_composition"]["speedup"]) > 1  # a composition is faster than any model
    assert rows["aa_composition"]["dimension"] == "420" and rows["tiny_esm2"]["dimension"] == "32"
    html = (tmp_path / "comparison" / "report.html").read_text()
    assert "<svg" in html and "tiny_esm2" in html
