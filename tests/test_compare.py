"""The comparison table: rows, deltas against the baseline, and refusals of unlike inputs."""

from __future__ import annotations

import html
import json

import pytest

from virnucpro import __version__
from virnucpro.compare.compare_embedders import compare_embedders
from virnucpro.embed.embedders.registry import EMBEDDERS
from virnucpro.errors import InputError
from virnucpro.files.contracts import PAIRED_COLUMNS as PAIRED


def _metrics(f1):
    metrics = {
        name: {"value": 0.9, "low": 0.85, "high": 0.95}
        for name in ("accuracy", "precision", "recall", "auroc", "mcc")
    }
    metrics["f1"] = {"value": f1, "low": f1 - 0.02, "high": f1 + 0.02}
    return metrics


def _evaluation(tmp_path, embedder, f1, dimension=1280, **changes):
    metrics = _metrics(f1)
    levels = {
        "min_viral_fraction": 0.5,
        "chunk": {"count": 80, "viral": 40, "metrics": _metrics(f1 + 0.01)},
        "sequence": {"count": 6, "viral": 3, "metrics": _metrics(f1 + 0.03)},
    }
    document = {
        "format": "virnucpro-evaluation/3", "levels": levels, "embedder": embedder, "dna_embedder": "dnabert_s", "dimension": dimension,
        "precision": "bf16", "chunk_size": 300, "test_frames": 400, "test_viral_frames": 200,
        "confusion": {"tn": 180, "fp": 20, "fn": 20, "tp": 180}, "test_ids_sha256": "abc",
        "test_frames_unseen": True, "protein_weights_sha256": f"weights of {embedder}",
        "dna_weights_sha256": "d" * 64, "dna_frames_sha256": ["a" * 64], "protein_frames_sha256": ["b" * 64],
        "metrics": metrics, "roc": {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.8, 1.0]}, **changes,
    }  # fmt: skip
    path = tmp_path / f"{embedder}.evaluation.json"
    path.write_text(json.dumps(document))
    return path


def _benchmark(tmp_path, embedder, sequences_per_second, **changes):
    document = {
        "format": "virnucpro-benchmark/3", "embedder": embedder, "repeats": 5,
        "model_id": f"hub/{embedder}", "revision": "abc123", "weights_sha256": f"weights of {embedder}", "device": "cuda", "device_name": "GB10",
        "precision": "bf16", "token_budget": 16384, "input_sha256": "def", "sequences": 512,
        "sequences_per_second": sequences_per_second, "tokens_per_second": sequences_per_second * 100,
        "sequences_per_second_low": sequences_per_second * 0.9, "sequences_per_second_high": sequences_per_second * 1.1,
        "peak_memory_gib": 3.5, "load_seconds": 12.0, **changes,
    }  # fmt: skip
    path = tmp_path / f"{embedder}.benchmark.json"
    path.write_text(json.dumps(document))
    return path


def _esm2_3b_and_fastesm2(tmp_path):
    """ESM2-3B (F1 0.95, 100 seq/s) and FastESM2_650 (F1 0.93, 450 seq/s): evaluations, benchmarks."""
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95, 2560),
        _evaluation(tmp_path, "fastesm2_650", 0.93),
    ]
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 100.0),
        _benchmark(tmp_path, "fastesm2_650", 450.0),
    ]
    return evaluations, benchmarks


def test_rows_state_speedup_and_delta_f1_against_the_baseline(tmp_path):
    evaluations, benchmarks = _esm2_3b_and_fastesm2(tmp_path)
    rows = compare_embedders(evaluations, benchmarks, tmp_path / "out")
    fast = rows[1]
    assert fast["speedup"] == pytest.approx(4.5) and fast["delta_f1"] == pytest.approx(-0.02)
    assert rows[0]["speedup"] == 1.0 and rows[0]["delta_f1"] == 0.0
    table = (tmp_path / "out" / "comparison.tsv").read_text().splitlines()
    header = table[0].split("\t")
    assert header[:5] == ["embedder", "dimension", "accuracy", "accuracy_low", "accuracy_high"]
    assert dict(zip(header, table[2].split("\t"), strict=True))["speedup"] == "4.5"
    # Paired columns follow ΔF1; without --predictions they are n/a (tests/test_paired.py)
    paired = header.index("speedup_high") + 1
    assert header[paired : paired + len(PAIRED)] == list(PAIRED)
    cells = table[2].split("\t")
    assert cells[paired : paired + len(PAIRED)] == ["-0.02"] + ["n/a"] * (len(PAIRED) - 1)
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert (
        "Baseline: **esm2_3b**" in markdown
        and "| esm2_3b (baseline) | 2560 | 0.950 [0.930, 0.970]" in markdown
    )
    # the range: FastESM2's slowest pass (405/s) against ESM2-3B's fastest (110/s), and back
    assert "| 450.0 | 45,000 | 3.50 | 12.0 | 4.50x [3.68, 5.50] | -0.020 |" in markdown
    assert "fastesm2_650" in (tmp_path / "out" / "report.html").read_text()


def test_missing_benchmark_gives_na_speed(tmp_path):
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95),
        _evaluation(tmp_path, "aa_composition", 0.8),
    ]
    rows = compare_embedders(
        evaluations, [_benchmark(tmp_path, "esm2_3b", 100.0)], tmp_path / "out"
    )
    assert rows[1]["speedup"] is None and rows[1]["sequences_per_second"] is None
    assert (
        "| n/a | n/a | n/a | n/a | n/a | -0.150 |"
        in (tmp_path / "out" / "comparison.md").read_text()
    )


@pytest.mark.parametrize(
    ("evaluation_change", "benchmark_change", "message"),
    [
        ({"test_ids_sha256": "other"}, {}, "evaluations differ in test_ids_sha256"),
        ({"precision": "fp32"}, {}, "evaluations differ in precision"),
        ({}, {"precision": "fp32"}, "benchmarks differ in precision"),
        ({}, {"device_name": "H100"}, "benchmarks differ in device_name"),
    ],
)
def test_unlike_inputs_are_refused(tmp_path, evaluation_change, benchmark_change, message):
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95),
        _evaluation(tmp_path, "fastesm2_650", 0.9, **evaluation_change),
    ]
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 1.0),
        _benchmark(tmp_path, "fastesm2_650", 2.0, **benchmark_change),
    ]
    with pytest.raises(InputError, match=message):
        compare_embedders(evaluations, benchmarks, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_speed_must_come_from_the_features_precision(tmp_path):
    evaluations = [_evaluation(tmp_path, "esm2_3b", 0.95)]
    with pytest.raises(
        InputError, match="benchmarks ran in fp32 but the features were made in bf16"
    ):
        compare_embedders(
            evaluations, [_benchmark(tmp_path, "esm2_3b", 1.0, precision="fp32")], tmp_path / "out"
        )


def test_unknown_baseline_is_refused(tmp_path):
    with pytest.raises(
        InputError,
        match=r"baseline 'esm2_3b' is not among the evaluated embedders \(tiny_esm2\): set --baseline",
    ):
        compare_embedders([_evaluation(tmp_path, "tiny_esm2", 0.6)], [], tmp_path / "out")


def test_chunk_and_sequence_levels_and_the_decision(tmp_path):
    evaluations, benchmarks = _esm2_3b_and_fastesm2(tmp_path)
    counts = tmp_path / "genomes.counts.tsv"
    counts.write_text("source\tlabel\treads_500bp\tread_frames_500bp\nx.gbk\tviral\t40\t100\n")
    rows = compare_embedders(
        evaluations, benchmarks, tmp_path / "out", counts_paths=[counts], max_f1_loss=0.05
    )
    fast = rows[1]
    assert fast["chunk_f1"] == pytest.approx(0.94) and fast["sequence_f1_low"] == pytest.approx(
        0.94
    )
    # 1e6 reads x 2.5 frames x 168 tokens / 45,000 tokens/s / 3600 s
    assert fast["hours_per_million_reads"] == pytest.approx(1e6 * 2.5 * 168 / 45_000 / 3600)
    # No --predictions: no paired interval, so no verdict can be reached
    assert fast["verdict"] == "undecidable" and rows[0]["verdict"] is None
    table = (tmp_path / "out" / "comparison.tsv").read_text().splitlines()
    header = table[0].split("\t")
    assert header[-4:] == [
        "hours_per_million_reads",
        "needed_test_frames",
        "verdict",
        "verdict_reason",
    ]
    assert dict(zip(header, table[1].split("\t"), strict=True))["verdict"] == "n/a"
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert markdown.index("## Decision") < markdown.index("## Accuracy and speed")
    assert "Allowed F1 loss: 0.05." in markdown and "2.50 stop-free frames per read" in markdown
    assert (
        "| fastesm2_650 | 45,000 | 2.59 | 4.50x [3.68, 5.50] | -0.020 | not decidable" in markdown
    )
    assert "- fastesm2_650: 4.50\u00d7 faster" in markdown
    assert (
        "| fastesm2_650 | 0.940 [0.920, 0.960] | 0.900 [0.850, 0.950] | 0.960 [0.940, 0.980]"
        in markdown
    )
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Decision</h2>" in page and "<h2>Chunks and sequences</h2>" in page
    assert "test sequences" in page and "6 (3 viral)" in page


def test_without_counts_the_hours_are_na(tmp_path):
    evaluations = [_evaluation(tmp_path, "esm2_3b", 0.95)]
    rows = compare_embedders(
        evaluations, [_benchmark(tmp_path, "esm2_3b", 100.0)], tmp_path / "out"
    )
    assert rows[0]["hours_per_million_reads"] is None
    assert "n/a (no training-set counts given)" in (tmp_path / "out" / "comparison.md").read_text()


def test_an_evaluation_of_the_old_format_is_refused(tmp_path):
    old = _evaluation(tmp_path, "esm2_3b", 0.95, format="virnucpro-evaluation/2")
    with pytest.raises(
        InputError, match=r"not an evaluation file of this version \(virnucpro-evaluation/3\)"
    ):
        compare_embedders([old], [], tmp_path / "out")


def test_an_evaluation_on_frames_the_classifier_may_have_seen_is_refused(tmp_path):
    baseline = _evaluation(tmp_path, "esm2_3b", 0.63)
    unknown = _evaluation(tmp_path, "fastesm2_650", 0.92, test_frames_unseen=False)
    with pytest.raises(InputError, match=r"fastesm2_650.evaluation.json: its classifier does not "
                       r"record the frames it was trained on"):  # fmt: skip
        compare_embedders([baseline, unknown], [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_evaluations_of_other_dna_weights_or_frames_are_refused(tmp_path):
    baseline = _evaluation(tmp_path, "esm2_3b", 0.8)
    other = _evaluation(tmp_path, "fastesm2_650", 0.7, dna_weights_sha256="e" * 64)
    with pytest.raises(InputError, match=r"differ in dna_weights_sha256 \(esm2_3b.evaluation.json: "
                       r"dddddddddddd, fastesm2_650.evaluation.json: eeeeeeeeeeee\)"):  # fmt: skip
        compare_embedders([baseline, other], [], tmp_path / "out")
    other = _evaluation(tmp_path, "fastesm2_650", 0.7, dna_frames_sha256=["c" * 64, "a" * 64])
    with pytest.raises(
        InputError, match=r"differ in dna_frames_sha256 .*\[cccccccccccc, aaaaaaaaaaaa\]"
    ):
        compare_embedders([baseline, other], [], tmp_path / "out")


def test_an_evaluation_without_a_recorded_key_or_with_nan_is_refused(tmp_path):
    baseline = _evaluation(tmp_path, "esm2_3b", 0.8)
    other = _evaluation(tmp_path, "fastesm2_650", 0.7)
    document = json.loads(other.read_text())
    del document["protein_weights_sha256"]
    other.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"an evaluation without protein_weights_sha256"):
        compare_embedders([baseline, other], [], tmp_path / "out")
    other = _evaluation(tmp_path, "fastesm2_650", float("nan"))
    with pytest.raises(InputError, match=r"cannot read an evaluation \(NaN is not a number"):
        compare_embedders([baseline, other], [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_benchmark_of_other_weights_than_the_evaluated_features_is_refused(tmp_path):
    evaluations = [_evaluation(tmp_path, name, 0.9) for name in ("esm2_3b", "fastesm2_650")]
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 10.0),
        _benchmark(tmp_path, "fastesm2_650", 40.0, weights_sha256="0123456789abcdef"),
    ]
    with pytest.raises(
        InputError,
        match=r"fastesm2_650.benchmark.json timed fastesm2_650 with weights 0123456789ab but "
        r".*fastesm2_650.evaluation.json evaluated features of weights weights of f",
    ):
        compare_embedders(evaluations, benchmarks, tmp_path / "out")


def test_evaluations_with_other_sequence_call_rules_are_refused(tmp_path):
    first = _evaluation(tmp_path, "esm2_3b", 0.95)
    other = _evaluation(tmp_path, "fastesm2_650", 0.9)
    document = json.loads(other.read_text())
    document["levels"]["min_viral_fraction"] = 0.3
    other.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"differ in the minimum viral fraction .*\(0.3, 0.5\)"):
        compare_embedders([first, other], [], tmp_path / "out")


def test_the_tables_and_the_report_are_one_commit(tmp_path):
    evaluations = [_evaluation(tmp_path, name, 0.9) for name in ("esm2_3b", "fastesm2_650")]
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)  # the report cannot be written
    with pytest.raises(InputError, match=r"report\.html"):
        compare_embedders(evaluations, [], out)
    assert sorted(path.name for path in out.iterdir()) == ["report.html"]  # no table either


def test_comparison_files_end_in_a_provenance_block(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796601600")  # 2026-12-07 00:00 UTC
    evaluations, benchmarks = _esm2_3b_and_fastesm2(tmp_path)
    compare_embedders(evaluations, benchmarks, tmp_path / "out", max_f1_loss=0.02)
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    block = markdown[markdown.index("## Provenance") :].splitlines()
    assert block[2:6] == [
        f"- VirNucPro version: {__version__}",
        "- Date: 2026-12-07",
        "- Parameters: baseline=esm2_3b max_f1_loss=0.02 precision=bf16 chunk_size=300 "
        "token_budget=16384 timed_passes=5",
        # DNA: the registry's pin, with the weights digest the evaluations recorded
        f"- DNA model: dnabert_s ({EMBEDDERS['dnabert_s'].model_id} @ "
        f"{EMBEDDERS['dnabert_s'].revision or 'unpinned'}; weights sha256 {'d' * 64})",
    ]
    # proteins: as the benchmark that timed them names them
    assert block[6] == (
        "- Protein (esm2_3b) model: esm2_3b (hub/esm2_3b @ abc123; weights sha256 weights of esm2_3b)"
    )
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Provenance</h2>" in page and "<dd>2026-12-07</dd>" in page
    assert "Caveat" not in markdown  # real models: nothing to warn of


def test_random_test_models_and_composition_features_are_named_as_such(tmp_path, caplog):
    evaluations = [
        _evaluation(tmp_path, "tiny_esm2", 0.95, dna_embedder="tiny_dnabert_s"),
        _evaluation(tmp_path, "aa_composition", 0.90, dna_embedder="tiny_dnabert_s"),
    ]
    compare_embedders(evaluations, [], tmp_path / "out", baseline="tiny_esm2")
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    caveat = (
        "tiny_dnabert_s, tiny_esm2: random test models (seeded random weights in the real "
        "models' layout): these numbers test the machinery, not the embedders."
    )
    assert markdown.startswith(f"> **Caveat:** {caveat}\n")
    assert "aa_composition: model-free composition features" in markdown
    page = (tmp_path / "out" / "report.html").read_text()
    assert html.escape(caveat) in page
    assert "aa_composition (no model: computed from the sequence alone)" in page
    # a bundled test model no benchmark names: its folder in the clone
    assert (
        f"tiny_dnabert_s (assets/models/tiny_dnabert_s @ local; weights sha256 {'d' * 64})" in page
    )
    assert caveat in caplog.text


def test_a_meaningless_comparison_says_why_in_table_report_and_log(tmp_path, caplog):
    below_chance = _metrics(0.95)
    below_chance["auroc"] = {"value": 0.31, "low": 0.2, "high": 0.4}
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95, 2560, metrics=below_chance),
        _evaluation(tmp_path, "fastesm2_650", 0.93),
    ]
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 100.0),
        _benchmark(tmp_path, "fastesm2_650", 450.0),
    ]
    rows = compare_embedders(evaluations, benchmarks, tmp_path / "out")
    why = "the baseline's AUROC is 0.310, at or below chance (0.5)"
    assert rows[1]["verdict"] == "not_meaningful" and rows[1]["verdict_reason"] == why
    table = (tmp_path / "out" / "comparison.tsv").read_text().splitlines()
    cells = dict(zip(table[0].split("\t"), table[2].split("\t"), strict=True))
    assert (cells["verdict"], cells["verdict_reason"]) == ("not_meaningful", why)
    assert f"not meaningful: {why}" in (tmp_path / "out" / "comparison.md").read_text()
    assert (
        "not meaningful: the baseline&#x27;s AUROC is 0.310"
        in (tmp_path / "out" / "report.html").read_text()
    )
    assert any(
        record.levelname == "WARNING" and why in record.getMessage() for record in caplog.records
    )


def test_provenance_names_the_models_the_features_were_made_with(tmp_path):
    # a DNA model from --models_dir: the features name its folder, not the registry's pin
    local = {"dna_model_id": "/data/models/dnabert_s", "dna_revision": "local"}
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95, 2560, protein_model_id="hub/esm2_3b", protein_revision="r1", **local),
        _evaluation(tmp_path, "fastesm2_650", 0.93, protein_model_id="hub/fast", protein_revision="r2", **local),
    ]  # fmt: skip
    compare_embedders(evaluations, [], tmp_path / "out")
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert (
        f"- DNA model: dnabert_s (/data/models/dnabert_s @ local; weights sha256 {'d' * 64})"
        in markdown
    )
    assert (
        "- Protein (fastesm2_650) model: fastesm2_650 (hub/fast @ r2; weights sha256 weights of fastesm2_650)"
        in markdown
    )


def test_benchmarks_of_different_numbers_of_passes_are_not_compared(tmp_path):
    evaluations, _ = _esm2_3b_and_fastesm2(tmp_path)
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 100.0),
        _benchmark(tmp_path, "fastesm2_650", 450.0, repeats=1),
    ]
    with pytest.raises(InputError, match="benchmarks differ in repeats"):
        compare_embedders(evaluations, benchmarks, tmp_path / "out")
