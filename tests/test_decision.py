"""The decision: verdicts under the allowed F1 loss, projected hours, frames per read."""

from __future__ import annotations

import pytest

from virnucpro.compare.decision import (
    Verdict,
    decide,
    frames_per_read,
    projected_hours,
    tokens_per_frame,
    verdict,
)
from virnucpro.errors import InputError


def _row(embedder, delta, low, high, speedup):
    return {
        "embedder": embedder,
        "delta_f1": delta,
        "delta_f1_low": low,
        "delta_f1_high": high,
        "speedup": speedup,
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
        "slow_one: 2.00\u00d7 slower, \u0394F1 = +0.002 [-0.020, +0.020]: not decidable at this test-set size (0.01)",
    ]
    # A looser rule: esm2_650m's interval now holds -0.05
    outcomes = [decision.verdict for decision in decide(rows, "esm2_3b", 0.05)]
    assert outcomes == [None, Verdict.within, Verdict.undecidable, Verdict.within, Verdict.within]


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
