"""Paired statistics against the baseline: bootstrap Δ intervals and McNemar's exact test.

The small case below is worked by hand. Eight test frames, four viral (0-3), four host (4-7):

    frame            0    1    2    3    4    5    6    7
    label            1    1    1    1    0    0    0    0
    baseline call    1    1    0    0    0    0    0    1     TP 2, FN 2, FP 1, TN 3
    baseline score  .9   .8  .45   .4   .3   .2   .1   .6
    other call       1    1    1    1    0    0    0    1     TP 4, FN 0, FP 1, TN 3
    other score     .9   .8   .7  .65   .3   .2   .1   .6

F1 = 2TP / (2TP + FP + FN): baseline 4/7, other 8/9, so dF1 = 8/9 - 4/7 = 20/63.
MCC = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)):
    baseline (6 - 2) / sqrt(3*4*4*5) = 4/sqrt(240) = 1/sqrt(15);
    other (12 - 0) / sqrt(5*4*4*3) = 12/sqrt(240) = sqrt(0.6); dMCC = 2/sqrt(15).
AUROC = share of the 16 (viral, host) pairs ranked right: the baseline misorders 0.45 < 0.6
    and 0.4 < 0.6 (14/16), the other none (16/16): dAUROC = 2/16.
McNemar: only the other is right on frames 2 and 3 (b = 2), only the baseline on none (c = 0):
    p = 2 * P(X <= 0), X ~ Binomial(2, 1/2) = 2 * C(2,0) / 2^2 = 0.5.
"""

from __future__ import annotations

import csv
import hashlib
import math

import numpy as np
import pytest
from conftest import run_script
from test_compare import _evaluation

from virnucpro.classify.classifier import LABELS
from virnucpro.compare.compare_embedders import compare_embedders
from virnucpro.compare.paired_statistics import (
    align,
    discordant,
    mcnemar_exact,
    paired_bootstrap,
    paired_statistics,
    read_predictions,
)
from virnucpro.errors import InputError
from virnucpro.files.contracts import PAIRED_COLUMNS as COLUMNS

IDS = [f"frame_{index}" for index in range(8)]
LABELS_ = np.array([1, 1, 1, 1, 0, 0, 0, 0])
BASE = (np.array([1, 1, 0, 0, 0, 0, 0, 1]), np.array([0.9, 0.8, 0.45, 0.4, 0.3, 0.2, 0.1, 0.6]))
OTHER = (np.array([1, 1, 1, 1, 0, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.65, 0.3, 0.2, 0.1, 0.6]))


def _write(path, calls_scores, ids=IDS, labels=LABELS_):
    calls, scores = calls_scores
    lines = ["frame_id\tlabel\tprediction\tscore1\tscore2"]
    lines += [
        f"{frame_id}\t{label}\t{LABELS[call]}\t{1 - score:.6f}\t{score:.6f}"
        for frame_id, label, call, score in zip(ids, labels, calls, scores, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _percentiles(draws):
    """numpy's default (linear) 2.5% and 97.5% percentiles of two draws x0 <= x1."""
    x0, x1 = sorted(draws)
    return x0 + 0.025 * (x1 - x0), x0 + 0.975 * (x1 - x0)


def test_paired_bootstrap_by_hand():
    # Resample 1: all eight frames (the figures of the module docstring).
    # Resample 2: frames 0 1 2 3 4 5 6 6 (frame 7 left out, frame 6 twice):
    #   baseline calls TP 2, FN 2, FP 0, TN 4: F1 4/6 = 2/3, MCC 8/sqrt(2*4*4*6) = 1/sqrt(3);
    #   other calls    TP 4, FN 0, FP 0, TN 4: F1 1, MCC 1;
    #   AUROC: every viral score is above every host score for both, 1 - 1 = 0.
    indices = np.array([list(range(8)), [0, 1, 2, 3, 4, 5, 6, 6]])
    result = paired_bootstrap(LABELS_, BASE, OTHER, indices)
    expected = {
        "f1": (20 / 63, [20 / 63, 1 - 2 / 3]),
        "auroc": (2 / 16, [2 / 16, 0.0]),
        "mcc": (2 / math.sqrt(15), [2 / math.sqrt(15), 1 - 1 / math.sqrt(3)]),
    }
    for name, (point, draws) in expected.items():
        low, high = _percentiles(draws)
        assert result[f"delta_{name}"] == pytest.approx(point, abs=1e-12)
        assert result[f"delta_{name}_low"] == pytest.approx(low, abs=1e-12)
        assert result[f"delta_{name}_high"] == pytest.approx(high, abs=1e-12)
    # e.g. dF1: draws 20/63 and 1/3 = 21/63, low = 20/63 + 0.025/63 = 20.025/63 = 0.3178571,
    # high = 20.975/63 = 0.3329365; dAUROC: draws 0 and 0.125, low 0.003125, high 0.121875
    assert result["delta_f1_low"] == pytest.approx(0.3178571, abs=1e-7)
    assert result["delta_f1_high"] == pytest.approx(0.3329365, abs=1e-7)
    assert (result["delta_auroc_low"], result["delta_auroc_high"]) == pytest.approx(
        (0.003125, 0.121875)
    )


def test_resamples_of_one_class_are_left_out_of_every_interval():
    # Frames 0 and 1 only: both viral, so no AUROC, and F1 and MCC would say nothing.
    result = paired_bootstrap(LABELS_, BASE, OTHER, np.array([[0, 1, 0, 1, 0, 1, 0, 1]] * 3))
    for name in ("f1", "auroc", "mcc"):
        assert result[f"delta_{name}_low"] is None and result[f"delta_{name}_high"] is None
    assert result["delta_auroc"] == pytest.approx(2 / 16)  # the whole set has both classes


def test_mcnemar_by_hand():
    # Two-sided exact test: p = 2 · P(X <= min(b, c)), X ~ Binomial(b + c, 1/2), at most 1.
    # b = 1, c = 5: n = 6, P(X <= 1) = (C(6,0) + C(6,1)) / 2^6 = (1 + 6) / 64, p = 14/64 = 0.21875
    assert mcnemar_exact(1, 5) == mcnemar_exact(5, 1) == 0.21875
    # b = 0, c = 6: p = 2 · 1/64 = 0.03125
    assert mcnemar_exact(0, 6) == 0.03125
    # b = 2, c = 8: n = 10, (1 + 10 + 45) / 1024 = 56/1024, p = 112/1024 = 0.109375
    assert mcnemar_exact(2, 8) == 0.109375
    # b = c = 3: 2 · (1 + 6 + 15 + 20)/64 = 84/64 > 1, so p = 1; no discordant pair: p = 1
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    # A large n stays exact (no float overflow of 2^n): b = 0, c = 2000 gives 2 / 2^2000
    assert mcnemar_exact(0, 2000) == 2.0**-1999
    # Ten frames, all viral: the other is right on 0 and 3-9 and wrong on 1-2; the baseline
    # right on 0-3 and wrong on 4-9 -> only the other right: 4-9 (b = 6), only the baseline: 1-2
    labels = np.ones(10, dtype=int)
    other = np.array([1, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    baseline = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert discordant(labels, baseline, other) == (6, 2)
    # (1 + 8 + 28) / 256 = 37/256, doubled: 74/256
    assert mcnemar_exact(6, 2) == 74 / 256


def test_mcnemar_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(1, 5), (7, 19), (40, 61), (0, 3), (12, 12)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)


def test_paired_statistics_of_the_worked_case(tmp_path):
    base = read_predictions(_write(tmp_path / "base.tsv", BASE))
    other = read_predictions(_write(tmp_path / "other.tsv", OTHER))
    result = paired_statistics(base, other, 200, 7)
    assert set(result) == set(COLUMNS)
    assert result["delta_f1"] == pytest.approx(20 / 63)
    assert result["delta_auroc"] == pytest.approx(2 / 16)
    assert (result["mcnemar_b"], result["mcnemar_c"], result["mcnemar_p"]) == (2, 0, 0.5)
    for name in ("f1", "auroc", "mcc"):
        assert (
            result[f"delta_{name}_low"] <= result[f"delta_{name}"] <= result[f"delta_{name}_high"]
        )
    assert paired_statistics(base, other, 200, 7) == result  # seeded
    # Frame order does not matter: the other table is aligned on the baseline's frames.
    order = [7, 3, 0, 5, 1, 6, 2, 4]
    shuffled = _write(tmp_path / "shuffled.tsv", (OTHER[0][order], OTHER[1][order]),
                      [IDS[i] for i in order], LABELS_[order])  # fmt: skip
    assert paired_statistics(base, read_predictions(shuffled), 200, 7) == result


def test_identical_predictions_give_zero_delta_and_p_one(tmp_path):
    base = read_predictions(_write(tmp_path / "base.tsv", BASE))
    same = read_predictions(_write(tmp_path / "same.tsv", BASE))
    result = paired_statistics(base, same, 500, 3)
    for name in ("f1", "auroc", "mcc"):
        assert result[f"delta_{name}"] == 0.0
        assert (result[f"delta_{name}_low"], result[f"delta_{name}_high"]) == (0.0, 0.0)
    assert (result["mcnemar_b"], result["mcnemar_c"], result["mcnemar_p"]) == (0, 0, 1.0)


def test_other_frames_or_labels_are_refused(tmp_path):
    base = read_predictions(_write(tmp_path / "base.tsv", BASE))
    renamed = read_predictions(_write(tmp_path / "renamed.tsv", OTHER, [*IDS[:7], "frame_x"]))
    with pytest.raises(
        InputError,
        match=r"base\.tsv and .*renamed\.tsv hold different test frames \(1 only in the first, "
        r"e\.g\. frame_7; 1 only in the second, e\.g\. frame_x\)",
    ):
        paired_statistics(base, renamed, 10, 1)
    fewer = read_predictions(_write(tmp_path / "fewer.tsv", (OTHER[0][:7], OTHER[1][:7]), IDS[:7], LABELS_[:7]))  # fmt: skip
    with pytest.raises(
        InputError, match=r"fewer\.tsv hold different test frames \(1 only in the first"
    ):
        align(base, fewer)
    relabelled = read_predictions(
        _write(tmp_path / "relabelled.tsv", OTHER, labels=[0, *LABELS_[1:]])
    )
    with pytest.raises(
        InputError,
        match=r"relabelled\.tsv give different true labels to 1 frames \(e\.g\. frame_0\)",
    ):
        align(base, relabelled)


def test_malformed_predictions_are_refused(tmp_path):
    (tmp_path / "bad.tsv").write_text(
        "frame_id\tlabel\tprediction\tscore1\tscore2\nf\t1\tmaybe\t0.1\t0.9\n"
    )
    with pytest.raises(InputError, match=r"bad\.tsv, line 2: not a prediction row"):
        read_predictions(tmp_path / "bad.tsv")
    (tmp_path / "header.tsv").write_text("id\tlabel\n")
    with pytest.raises(InputError, match=r"header\.tsv: not a test_predictions\.tsv"):
        read_predictions(tmp_path / "header.tsv")


def _inputs(tmp_path):
    """Evaluations that the two worked tables could have come from, and the tables."""
    sha = hashlib.sha256("\n".join(IDS).encode()).hexdigest()
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 4 / 7, 2560, test_ids_sha256=sha),
        _evaluation(tmp_path, "fastesm2_650", 8 / 9, test_ids_sha256=sha),
    ]
    predictions = [_write(tmp_path / "esm2_3b.tsv", BASE), _write(tmp_path / "fast.tsv", OTHER)]
    return evaluations, predictions


def _table(path):
    with open(path) as handle:
        return {row["embedder"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_comparison_shows_the_paired_columns(tmp_path):
    evaluations, predictions = _inputs(tmp_path)
    compare_embedders(evaluations, [], tmp_path / "out", "esm2_3b", predictions, 300, 42)
    rows = _table(tmp_path / "out" / "comparison.tsv")
    fast, base = rows["fastesm2_650"], rows["esm2_3b"]
    header = list(fast)
    start = header.index("speedup_high") + 1
    assert header[start : start + len(COLUMNS)] == list(COLUMNS)
    assert (fast["mcnemar_b"], fast["mcnemar_c"], fast["mcnemar_p"]) == ("2", "0", "0.5")
    assert float(fast["delta_f1"]) == pytest.approx(20 / 63, abs=1e-6)
    assert float(fast["delta_auroc"]) == 0.125
    assert float(fast["delta_f1_low"]) <= float(fast["delta_f1"]) <= float(fast["delta_f1_high"])
    assert base["delta_f1"] == "0" and all(base[key] == "n/a" for key in COLUMNS[1:])
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert "| embedder | ΔF1 | ΔAUROC | ΔMCC | b | c | McNemar p |" in markdown
    assert f"| fastesm2_650 | +0.317 [{float(fast['delta_f1_low']):+.3f}, " in markdown
    assert "| +0.125 [" in markdown and " | 2 | 0 | 0.5 |" in markdown
    assert "paired bootstrap: 300 resamples, seed 42" in markdown
    page = (tmp_path / "out" / "report.html").read_text()
    paired = page[page.index("<h2>Paired against esm2_3b</h2>") :]
    assert "McNemar p</th>" in paired and "<td>0.5</td>" in paired
    assert '<span class="better">+0.317</span>' in paired.split("</table>")[0]


def test_without_predictions_the_paired_columns_are_na(tmp_path):
    evaluations, _ = _inputs(tmp_path)
    compare_embedders(evaluations, [], tmp_path / "out", "esm2_3b")
    fast = _table(tmp_path / "out" / "comparison.tsv")["fastesm2_650"]
    assert float(fast["delta_f1"]) == pytest.approx(20 / 63) and all(
        fast[key] == "n/a" for key in COLUMNS[1:]
    )
    assert "McNemar" not in (tmp_path / "out" / "comparison.md").read_text()
    assert "Paired against" not in (tmp_path / "out" / "report.html").read_text()


def test_comparison_refuses_unpaired_or_misordered_predictions(tmp_path):
    evaluations, predictions = _inputs(tmp_path)
    other = _write(tmp_path / "other_frames.tsv", OTHER, [*IDS[:7], "frame_x"])
    with pytest.raises(
        InputError, match=r"esm2_3b\.tsv and .*other_frames\.tsv hold different test frames"
    ):
        compare_embedders(evaluations, [], tmp_path / "out", "esm2_3b", [predictions[0], other])
    with pytest.raises(
        InputError, match=r"fast\.tsv are not the test predictions of .*esm2_3b\.evaluation\.json"
    ):
        compare_embedders(evaluations, [], tmp_path / "out", "esm2_3b", predictions[::-1])
    with pytest.raises(InputError, match="1 predictions files for 2 evaluations"):
        compare_embedders(evaluations, [], tmp_path / "out", "esm2_3b", predictions[:1])
    assert not (tmp_path / "out").exists()


def test_command_line_takes_predictions_bootstrap_and_seed(tmp_path):
    evaluations, predictions = _inputs(tmp_path)
    result = run_script(
        "compare_embedders.py", "--evaluation", evaluations[0], "--evaluation", evaluations[1],
        "--predictions", predictions[0], "--predictions", predictions[1], "--bootstrap", "50",
        "--seed", "1", "--baseline", "esm2_3b", "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _table(tmp_path / "out" / "comparison.tsv")["fastesm2_650"]["mcnemar_p"] == "0.5"
    assert "50 resamples, seed 1" in (tmp_path / "out" / "comparison.md").read_text()
