"""The compare workflow's chain of bin/ commands, end to end on every real genome of test_full.

scripts/compare_chain.py runs what ``-profile test_full`` runs (both batches of
../shared/data, bundled in assets/test_full), with CPU stand-ins for the GPU
models: tiny_dnabert_s for DNA; tiny_esm2, tiny_fastesm2 (the same random
weights in FastESM2's layout) and aa_composition for proteins. It checks what
the comparison stands on: a cluster-disjoint split, ids and labels aligned,
paired columns, chunk and sequence metrics, and a verdict for each embedder.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict

import pytest
from conftest import ROOT, browser_pixels, needs_chromium

pytestmark = pytest.mark.slow

EMBEDDERS = ["aa_composition", "tiny_esm2", "tiny_fastesm2"]


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("chain")
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "compare_chain.py", "--samplesheet",
         ROOT / "assets" / "test_full" / "samplesheet.csv", "--workdir", workdir,
         "--bootstrap", "200"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return workdir


def test_no_cluster_spans_two_splits(chain):
    clusters = _rows(chain / "split" / "clusters.tsv")
    splits = defaultdict(set)
    for row in clusters:
        if row["split"] != "unused":
            splits[row["cluster"]].add(row["split"])
    assert splits and all(len(found) == 1 for found in splits.values())
    # Every frame of the test list comes from a test-split genome
    test_genomes = {row["genome"] for row in clusters if row["split"] == "test"}
    assert {row["genome"] for row in _rows(chain / "split" / "test.tsv")} <= test_genomes
    # Near-identical genomes exist in the data (e.g. the microviruses): some cluster holds several
    sizes = defaultdict(int)
    for row in clusters:
        sizes[row["cluster"]] += 1
    assert max(sizes.values()) > 1


def test_labels_and_ids_stay_aligned(chain):
    expected = [(row["frame_id"], row["label"]) for row in _rows(chain / "split" / "test.tsv")]
    for embedder in EMBEDDERS:
        predictions = _rows(chain / "evaluation" / embedder / "test_predictions.tsv")
        assert [(row["frame_id"], row["label"]) for row in predictions] == expected
    evaluation = json.loads(
        (chain / "evaluation" / "aa_composition" / "evaluation.json").read_text()
    )
    assert evaluation["test_viral_frames"] * 2 == evaluation["test_frames"]  # balanced
    # The balanced test set makes "always virus" score F1 = 2/3; composition does better
    assert evaluation["metrics"]["auroc"]["low"] > 0.6
    sequences = evaluation["levels"]["sequence"]
    assert sequences["count"] == len({row["genome"] for row in _rows(chain / "split" / "test.tsv")})


def test_comparison_has_paired_columns_levels_and_verdicts(chain):
    rows = {row["embedder"]: row for row in _rows(chain / "comparison" / "comparison.tsv")}
    assert set(rows) == set(EMBEDDERS)
    base, same, composition = rows["tiny_esm2"], rows["tiny_fastesm2"], rows["aa_composition"]
    assert base["verdict"] == "n/a" and base["mcnemar_p"] == "n/a"
    # The same weights in two layouts: identical calls, so the paired difference is exactly 0
    assert same["delta_f1"] == same["delta_f1_low"] == same["delta_f1_high"] == "0"
    assert same["mcnemar_b"] == same["mcnemar_c"] == "0"
    # the same model in another layout is not faster, unless every timed pass happens to be
    assert same["verdict"] in ("not_faster", "within")
    assert composition["verdict"] in ("within", "outside", "undecidable", "not_faster")
    # a baseline above chance on 348 frames of each class: the comparison means something
    assert "not_meaningful" not in {row["verdict"] for row in rows.values()}
    assert float(composition["mcnemar_p"]) <= 1
    for row in rows.values():
        assert (
            float(row["sequence_f1_low"])
            <= float(row["sequence_f1"])
            <= float(row["sequence_f1_high"])
        )
        assert float(row["hours_per_million_reads"]) > 0
    markdown = (chain / "comparison" / "comparison.md").read_text()
    assert "## Decision" in markdown and "- tiny_fastesm2: " in markdown
    assert "stop-free frames per read, measured on the input genomes" in markdown
    html = (chain / "comparison" / "report.html").read_text()
    assert "<h2>Decision</h2>" in html and "<svg" in html


@needs_chromium
def test_real_data_report_shows_its_plots_in_a_browser(chain):
    coloured, ink = browser_pixels(chain / "comparison" / "report.html", window="1280,2120")
    assert coloured > 20_000 and ink > 0.02  # ROC curves and speed bars of three embedders
