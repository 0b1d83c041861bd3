"""The decision: verdicts under the allowed F1 loss, projected hours, frames per read."""

from __future__ import annotations

import pytest

from virnucpro.compare.decision import (
    Verdict,
    decide,
    frames_per_read,
    gene_origins,
    needed_test_frames,
    projected_hours,
    tokens_per_frame,
    verdict,
)
from virnucpro.errors import InputError


def _row(embedder, delta, low, high, speedup, **changes):
    """A comparison row; as a baseline, a sane one (AUROC 0.9, F1 0.9, 1000 balanced frames)."""
    return {
        "embedder": embedder,
        "delta_f1": delta,
        "delta_f1_low": low,
        "delta_f1_high": high,
        "speedup": speedup,
        "auroc": 0.9,
        "f1": 0.9,
        "test_frames": 1000,
        "test_viral_frames": 500,
        "virus_calls": 480,
        **changes,
    }


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-0.005, 0.004, Verdict.within),  # the whole interval loses less than 0.01
        (-0.01, 0.0, Verdict.within),  # a loss of exactly the allowed one is allowed
        (-0.05, -0.02, Verdict.outside),  # the whole interval loses more than 0.01
        (-0.03, -0.0100001, Verdict.outside),
        (-0.02, 0.003, Verdict.undecidable),  # the interval holds -0.01
        (-0.0100001, 0.02, Verdict.undecidable),
        (-0.02, -0.01, Verdict.undecidable),  # upper end on the line: could be exactly allowed
        (None, None, Verdict.undecidable),  # no paired interval
    ],
)
def test_verdict_of_the_interval_against_the_allowed_loss(low, high, expected):
    assert verdict(low, high, 0.01) is expected


def test_a_loss_of_exactly_the_allowed_one_survives_floating_point():
    # 0.85 - 0.9 is -0.050000000000000044 in floating point: exactly the allowed 0.05
    assert verdict(0.85 - 0.9, 0.0, 0.05) is Verdict.within
    assert verdict(-0.2, 0.9 - 0.95, 0.05) is Verdict.undecidable  # upper end on the line


def test_the_three_verdict_lines():
    rows = [
        _row("esm2_3b", 0.0, None, None, 1.0),
        _row("fastesm2_650", -0.004, -0.008, 0.001, 3.1),
        _row("esm2_650m", -0.04, -0.061, -0.022, 2.0),
        _row("aa_composition", -0.012, -0.03, 0.004, 250.0),
        _row("slow_one", 0.002, -0.02, 0.02, 0.5),
    ]
    lines = [decision.line for decision in decide(rows, "esm2_3b", 0.01)]
    assert lines == [
        "esm2_3b: the baseline",
        "fastesm2_650: 3.10\u00d7 faster, \u0394F1 = -0.004 [-0.008, +0.001]: within the allowed loss (0.01)",
        "esm2_650m: 2.00\u00d7 faster, \u0394F1 = -0.040 [-0.061, -0.022]: outside the allowed loss (0.01)",
        "aa_composition: 250.00\u00d7 faster, \u0394F1 = -0.012 [-0.030, +0.004]: not decidable at this test-set size (0.01)",
        "slow_one: 2.00\u00d7 slower, \u0394F1 = +0.002 [-0.020, +0.020]: not faster: nothing to gain",
    ]
    # A looser rule: esm2_650m's interval now holds -0.05; slow_one stays not faster
    outcomes = [decision.verdict for decision in decide(rows, "esm2_3b", 0.05)]
    assert outcomes == [
        None,
        Verdict.within,
        Verdict.undecidable,
        Verdict.within,
        Verdict.not_faster,
    ]


def test_no_speed_and_no_interval_are_said():
    (_, decision) = decide(
        [_row("a", 0.0, None, None, None), _row("b", -0.1, None, None, None)], "a", 0.01
    )
    assert decision.line == (
        "b: speed not measured, \u0394F1 = -0.100: "
        "not decidable without the test predictions (no paired interval)"
    )


@pytest.mark.parametrize("loss", [-0.01, 1.0, 2.0])
def test_an_allowed_loss_outside_0_1_is_refused(loss):
    with pytest.raises(InputError, match="allowed F1 loss must be in"):
        decide([_row("a", 0.0, None, None, 1.0)], "a", loss)


def test_tokens_per_frame_and_projected_hours_by_hand():
    # 500 bp: offsets 0, 1, 2 give 166 residues each, plus BOS and EOS
    assert tokens_per_frame(500) == 168
    assert tokens_per_frame(300) == pytest.approx((100 + 99 + 99) / 3 + 2)
    # 1e6 reads x 2.5 frames x 168 tokens / 14,000 tokens/s = 30,000 s = 8.33 h
    assert projected_hours(14_000.0, 2.5) == pytest.approx(1e6 * 2.5 * 168 / 14_000 / 3600)
    assert projected_hours(14_000.0, 2.5) == pytest.approx(8.3333, abs=1e-4)
    assert projected_hours(None, 2.5) is None and projected_hours(14_000.0, None) is None


def _counts(path, rows):
    header = "source\tlabel\treads_500bp\tread_frames_500bp\n"
    path.write_text(header + "".join(f"{s}\tviral\t{r}\t{f}\n" for s, r, f in rows))
    return path


def test_frames_per_read_pools_every_input(tmp_path):
    first = _counts(tmp_path / "a.counts.tsv", [("a.gbk", 10, 31)])
    second = _counts(tmp_path / "b.counts.tsv", [("b.gbk", 30, 49)])
    assert frames_per_read([first, second]) == pytest.approx((31 + 49) / 40)
    assert frames_per_read([]) is None


def test_bad_counts_are_refused(tmp_path):
    empty = _counts(tmp_path / "empty.counts.tsv", [("a.gbk", 0, 0)])
    with pytest.raises(InputError, match="no 500 bp read"):
        frames_per_read([empty])
    broken = _counts(tmp_path / "broken.counts.tsv", [("a.gbk", "ten", 3)])
    with pytest.raises(InputError, match=r"broken.counts.tsv:2: read counts must be whole numbers"):
        frames_per_read([broken])
    old = tmp_path / "old.counts.tsv"
    old.write_text("source\tlabel\nx\tviral\n")
    with pytest.raises(InputError, match="reads_500bp"):
        frames_per_read([old])


def test_needed_test_frames_worked_by_hand():
    # 100 frames, b = 6 only the embedder calls right, c = 4 only the baseline does:
    # variance per frame = (6 + 4)/100 - ((6 - 4)/100)^2 = 0.1 - 0.0004 = 0.0996;
    # ΔF1 = -0.03 against an allowed 0.05 leaves a margin of 0.02;
    # n = 1.959964^2 x 0.0996 / 0.02^2 = 3.841459 x 249 = 956.52 -> 957 frames
    assert needed_test_frames(6, 4, 100, -0.03, 0.05) == 957
    # the margin is what matters, on either side of the line: ΔF1 = -0.07 is 0.02 past it
    assert needed_test_frames(6, 4, 100, -0.07, 0.05) == 957
    # no discordance: the two agree on every frame, one frame decides
    assert needed_test_frames(0, 0, 100, 0.0, 0.05) == 1
    # ΔF1 exactly on the line (0.85 - 0.9 in floating point): no size decides it
    assert needed_test_frames(6, 4, 100, 0.85 - 0.9, 0.05) is None


def test_an_undecided_verdict_says_how_many_test_frames_would_decide_it():
    rows = [
        _row("esm2_3b", 0.0, None, None, None, test_frames=100, test_viral_frames=50),
        _row("fastesm2_650", -0.03, -0.08, 0.02, 3.0, mcnemar_b=6, mcnemar_c=4),
    ]
    rows[0].update(test_frames=200, test_viral_frames=100, virus_calls=90)
    rows[1]["mcnemar_b"], rows[1]["mcnemar_c"] = 12, 8  # 20 of 200: the same 0.1 discordance
    (_, decision) = decide(rows, "esm2_3b", 0.05)
    assert decision.verdict is Verdict.undecidable
    # 0.1 - 0.02^2 = 0.0996 as above: 957 frames, and this set has 200
    assert decision.needed_test_frames == 957
    assert decision.line.endswith(
        "not decidable at this test-set size (0.05); "
        "decidable at 0.05 from about 957 test frames (this set: 200)"
    )


def test_an_embedder_not_faster_than_the_baseline_has_nothing_to_gain_whatever_its_f1():
    base = _row("esm2_3b", 0.0, None, None, 1.0)
    better_but_slower = _row("big", 0.05, 0.03, 0.07, 0.8, speedup_low=0.7, speedup_high=0.9)
    # a median exactly as fast as the baseline's: not faster
    level = _row("level", 0.0, -0.001, 0.001, 1.0, speedup_low=0.9, speedup_high=1.1)
    # faster at the median, though one slow pass overlaps the baseline: faster, said uncertain
    noisy = _row("noisy", 0.0, -0.001, 0.001, 1.2, speedup_low=0.95, speedup_high=1.5)
    clear = _row("clear", 0.0, -0.001, 0.001, 1.2, speedup_low=1.05, speedup_high=1.4)
    decisions = decide([base, better_but_slower, level, noisy, clear], "esm2_3b", 0.01)
    assert [d.verdict for d in decisions] == [
        None,
        Verdict.not_faster,
        Verdict.not_faster,
        Verdict.within,
        Verdict.within,
    ]
    assert decisions[1].line == (
        "big: 1.25\u00d7 slower (passes: 0.70\u20130.90\u00d7 the baseline's speed), "
        "\u0394F1 = +0.050 [+0.030, +0.070]: not faster: nothing to gain"
    )
    assert decisions[1].reason == "its median speed is not above the baseline's"
    assert decisions[3].line.startswith(
        "noisy: 1.20\u00d7 faster (passes: 0.95\u20131.50\u00d7 the baseline's speed, overlapping it)"
    )
    assert "overlapping" not in decisions[4].line


@pytest.mark.parametrize(
    ("baseline", "reason"),
    [
        ({"auroc": 0.31}, "the baseline's AUROC is 0.310, at or below chance (0.5)"),
        ({"auroc": 0.5}, "the baseline's AUROC is 0.500, at or below chance (0.5)"),
        ({"auroc": None}, "the baseline's AUROC is n/a, at or below chance (0.5)"),
        ({"virus_calls": 0, "f1": 0.0}, "the baseline calls every test frame others"),
        ({"virus_calls": 1000}, "the baseline calls every test frame virus"),
        ({"f1": 0.0}, "the baseline's F1 is 0"),
        (
            {"test_frames": 37, "test_viral_frames": 12, "virus_calls": 10},
            "the test set holds 37 frames (12 viral, 25 host): fewer than 100 of each class",
        ),
        (
            {"test_frames": 5000, "test_viral_frames": 4901},
            "the test set holds 5,000 frames (4,901 viral, 99 host): fewer than 100 of each class",
        ),
    ],
)
def test_a_comparison_against_a_baseline_at_chance_or_on_too_few_frames_is_not_meaningful(
    baseline, reason
):
    rows = [
        _row("esm2_3b", 0.0, None, None, 1.0, **baseline),
        _row("fastesm2_650", -0.004, -0.008, 0.001, 3.1),
    ]
    decision = decide(rows, "esm2_3b", 0.01)[1]
    assert decision.verdict is Verdict.not_meaningful
    assert reason in decision.reason.split("; ")
    assert decision.line.endswith(f"not meaningful: {decision.reason}")


def test_a_sane_baseline_on_exactly_100_frames_of_each_class_is_meaningful():
    rows = [
        _row("esm2_3b", 0.0, None, None, 1.0, test_frames=200, test_viral_frames=100),
        _row("fastesm2_650", -0.004, -0.008, 0.001, 3.1),
    ]
    assert decide(rows, "esm2_3b", 0.01)[1].verdict is Verdict.within


def test_a_slower_embedder_is_not_faster_even_when_the_comparison_means_nothing():
    rows = [
        _row("esm2_3b", 0.0, None, None, 1.0, auroc=0.3),
        _row("slow", 0.1, 0.05, 0.15, 0.5),
    ]
    assert decide(rows, "esm2_3b", 0.01)[1].verdict is Verdict.not_faster


def test_the_training_genes_origin_is_counted(tmp_path):
    header = "source\tlabel\treads_500bp\tread_frames_500bp\tcds_source\tcds_predicted\n"
    (tmp_path / "a.tsv").write_text(header + "a.gbk\tviral\t4\t3\tannotated\t0\n")
    (tmp_path / "b.tsv").write_text(
        header
        + "b.fna\tviral\t9\t5\tpyrodigal-gv:meta\t85\nc.fa\thost\t90\t50\tpyrodigal:single\t1748\n"
    )
    (tmp_path / "old.tsv").write_text(
        "source\tlabel\treads_500bp\tread_frames_500bp\nd.gb\thost\t1\t1\n"
    )
    paths = [tmp_path / name for name in ("a.tsv", "b.tsv", "old.tsv")]
    assert gene_origins(paths) == (
        "2 inputs annotated; 2 FASTA inputs, 1,833 genes predicted "
        "(pyrodigal-gv:meta, pyrodigal:single)"
    )
    assert gene_origins(paths[:1]) == "1 input annotated"
    assert gene_origins([]) is None
    (tmp_path / "bad.tsv").write_text(header + "e.fa\thost\t1\t1\tpyrodigal:meta\tmany\n")
    with pytest.raises(InputError, match=r"bad.tsv:2: cds_predicted must be a whole number"):
        gene_origins([tmp_path / "bad.tsv"])
