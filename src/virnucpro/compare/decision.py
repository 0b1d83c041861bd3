"""The decision the comparison ends in: is an embedder's speed worth its accuracy?

For each embedder: its measured throughput, the device-hours one million 500 bp
reads would take to embed (frames per read measured on the input genomes), its
paired ΔF1 interval against the baseline and a verdict under the user's rule
``max_f1_loss``, taken in this order:

- not faster: its median speed over the timed passes is not above the baseline's:
  nothing to gain, whatever its ΔF1 (the line shows the passes' range, and says when
  it overlaps the baseline's speed);
- not meaningful: the baseline is at or below chance on the test set (AUROC at most
  0.5, every frame called one class, or F1 0), or the test set holds fewer than
  ``MIN_FRAMES_PER_CLASS`` frames of a class: no ΔF1 against it means anything;
- within: the 95% interval's lower end is at least ``-max_f1_loss`` (the loss is at
  most the allowed one, with 95% confidence);
- outside: the interval's upper end is below ``-max_f1_loss`` (the loss surely
  exceeds it);
- not decidable: the interval holds ``-max_f1_loss``; a larger test set narrows it,
  and ``needed_test_frames`` says about how large (the column holds it for every
  embedder with paired calls; the line, for the undecided ones).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any

from virnucpro.errors import InputError
from virnucpro.files.contracts import COUNTS, PROJECTION_READ_LENGTH
from virnucpro.files.tables import read_table
from virnucpro.preprocess.gene_prediction import ANNOTATED

#: Reads in the projection of embedding time.
PROJECTION_READS = 1_000_000


#: Fewest test frames of each class for a comparison to mean anything
MIN_FRAMES_PER_CLASS = 100
#: The two-sided 95% normal quantile, as the intervals are 95%
Z95 = 1.959963984540054


class Verdict(str, Enum):
    within = "within"
    outside = "outside"
    undecidable = "undecidable"
    not_faster = "not_faster"
    not_meaningful = "not_meaningful"


VERDICT_TEXT = {
    Verdict.within: "within the allowed loss",
    Verdict.outside: "outside the allowed loss",
    Verdict.undecidable: "not decidable at this test-set size",
    Verdict.not_faster: "not faster: nothing to gain",
    Verdict.not_meaningful: "not meaningful",
}


def check_max_f1_loss(max_f1_loss: float) -> None:
    if not 0 <= max_f1_loss < 1:
        raise InputError(f"the allowed F1 loss must be in [0, 1), got {max_f1_loss}")


_DECIMALS = 9


def verdict(low: float | None, high: float | None, max_f1_loss: float) -> Verdict:
    """Where the ΔF1 interval [low, high] lies against the allowed loss."""
    check_max_f1_loss(max_f1_loss)
    if low is None or high is None:
        return Verdict.undecidable
    # ΔF1 bounds are differences of ratios of counts: compared at 1e-9, so that floating
    # point (0.85 - 0.9 is -0.050000000000000044) cannot move an exact -1/20 past 0.05.
    low, high = round(low, _DECIMALS), round(high, _DECIMALS)
    if low >= -max_f1_loss:
        return Verdict.within
    if high < -max_f1_loss:
        return Verdict.outside
    return Verdict.undecidable


def frames_per_read(counts_paths: Sequence[str | os.PathLike[str]]) -> float | None:
    """Stop-free frames per 500 bp read of the input genomes (build_training_set.py counts).

    None without counts tables; an input that gives no read counts nothing.
    """
    reads = frames = 0
    for path in counts_paths:
        for line, row in enumerate(read_table(path, COUNTS), start=2):
            try:
                reads += int(row["reads_500bp"])
                frames += int(row["read_frames_500bp"])
            except ValueError:
                raise InputError(f"{path}:{line}: read counts must be whole numbers") from None
    if counts_paths and not reads:
        raise InputError("the counts tables hold no 500 bp read: no frames-per-read to project")
    return frames / reads if reads else None


def gene_origins(counts_paths: Sequence[str | os.PathLike[str]]) -> str | None:
    """How the training genomes' genes were found, counted: annotated CDS, or predicted
    in FASTA genomes (by which finder), e.g. '30 inputs annotated; 2 FASTA inputs,
    1,234 genes predicted (pyrodigal-gv:meta, pyrodigal:single)'. None without counts."""
    annotated, predicted, genes, finders = 0, 0, 0, []
    for path in counts_paths:
        for line, row in enumerate(read_table(path, COUNTS), start=2):
            source = row.get("cds_source") or ANNOTATED  # counts of earlier versions: GenBank
            if source == ANNOTATED:
                annotated += 1
                continue
            try:
                genes += int(row.get("cds_predicted") or "")
            except ValueError:
                raise InputError(f"{path}:{line}: cds_predicted must be a whole number") from None
            predicted += 1
            finders += [source] if source not in finders else []
    if not counts_paths:
        return None
    text = f"{annotated} input{'s' if annotated != 1 else ''} annotated"
    if predicted:
        text += (
            f"; {predicted} FASTA input{'s' if predicted != 1 else ''}, {genes:,} genes "
            f"predicted ({', '.join(finders)})"
        )
    return text


def tokens_per_frame(read_length: int = PROJECTION_READ_LENGTH) -> float:
    """Tokens of a stop-free frame of a read: its residues (the three offsets averaged), BOS and EOS."""
    return sum((read_length - offset) // 3 for offset in range(3)) / 3 + 2


def projected_hours(tokens_per_second: float | None, per_read: float | None) -> float | None:
    """Hours to embed the frames of one million reads at the measured tokens/s."""
    if not tokens_per_second or per_read is None:
        return None
    return PROJECTION_READS * per_read * tokens_per_frame() / tokens_per_second / 3600


def needed_test_frames(
    b: int, c: int, frames: int, delta_f1: float, max_f1_loss: float
) -> int | None:
    """About how many test frames the 95% interval of ΔF1 needs to leave ``-max_f1_loss`` out.

    From the discordance of the paired calls: ``b`` frames only the embedder calls
    right and ``c`` only the baseline does, of ``frames``. Per frame, the paired
    difference has variance ``(b + c)/n - ((b - c)/n)^2`` (as in McNemar's test), so
    the interval's half-width is about ``Z95 * sqrt(variance / n)``; it clears the
    line when that is below ``|ΔF1 + max_f1_loss|``. An approximation (ΔF1 moves
    with the calls as accuracy does, not exactly) that says whether a test set is
    tens or thousands of times too small. None when ΔF1 sits on the line: no size
    decides it.
    """
    margin = round(delta_f1 + max_f1_loss, _DECIMALS)
    if margin == 0:
        return None
    variance = Fraction(b + c, frames) - Fraction(b - c, frames) ** 2
    return max(1, math.ceil(Z95**2 * float(variance) / margin**2))


def meaningless_reasons(base: Mapping[str, Any]) -> list[str]:
    """Why a comparison against the baseline row ``base`` means nothing (empty: it does)."""
    reasons = []
    auroc = base.get("auroc")
    if auroc is None or auroc <= 0.5:
        shown = "n/a" if auroc is None else f"{auroc:.3f}"
        reasons.append(f"the baseline's AUROC is {shown}, at or below chance (0.5)")
    virus_calls, frames = base["virus_calls"], base["test_frames"]
    if virus_calls in (0, frames):
        called = "others" if virus_calls == 0 else "virus"
        reasons.append(f"the baseline calls every test frame {called}")
    if base["f1"] == 0:
        reasons.append("the baseline's F1 is 0")
    viral = base["test_viral_frames"]
    if min(viral, frames - viral) < MIN_FRAMES_PER_CLASS:
        reasons.append(
            f"the test set holds {frames:,} frames ({viral:,} viral, {frames - viral:,} host): "
            f"fewer than {MIN_FRAMES_PER_CLASS} of each class"
        )
    return reasons


@dataclass(frozen=True)
class Decision:
    embedder: str
    verdict: Verdict | None  # None for the baseline
    line: str
    reason: str | None = None  # why not faster, or not meaningful
    needed_test_frames: int | None = None


def _speed(row: Mapping[str, Any]) -> str:
    speedup, low, high = row.get("speedup"), row.get("speedup_low"), row.get("speedup_high")
    if speedup is None:
        return "speed not measured"
    text = f"{speedup:.2f}\u00d7 faster" if speedup >= 1 else f"{1 / speedup:.2f}\u00d7 slower"
    if low is None or high is None:
        return text
    overlap = ", overlapping it" if round(low, _DECIMALS) <= 1 <= round(high, _DECIMALS) else ""
    return f"{text} (passes: {low:.2f}\u2013{high:.2f}\u00d7 the baseline's speed{overlap})"


def is_faster(row: Mapping[str, Any]) -> bool | None:
    """Faster: the median pass beats the baseline's median. None: not timed."""
    speedup = row.get("speedup")
    return None if speedup is None else round(speedup, _DECIMALS) > 1


def decide(rows: Sequence[Mapping[str, Any]], baseline: str, max_f1_loss: float) -> list[Decision]:
    """One verdict line per embedder against ``baseline``, in row order."""
    check_max_f1_loss(max_f1_loss)
    base = next(row for row in rows if row["embedder"] == baseline)
    meaningless = "; ".join(meaningless_reasons(base))
    decisions = []
    for row in rows:
        name = row["embedder"]
        if name == baseline:
            decisions.append(Decision(name, None, f"{name}: the baseline"))
            continue
        low, high = row.get("delta_f1_low"), row.get("delta_f1_high")
        delta = f"\u0394F1 = {row['delta_f1'] + 0.0:+.3f}"
        if low is not None and high is not None:
            delta += f" [{low + 0.0:+.3f}, {high + 0.0:+.3f}]"
        head = f"{name}: {_speed(row)}, {delta}"
        needed = None
        if row.get("mcnemar_b") is not None:
            needed = needed_test_frames(
                row["mcnemar_b"],
                row["mcnemar_c"],
                base["test_frames"],
                row["delta_f1"],
                max_f1_loss,
            )
        if is_faster(row) is False:
            reason = "its median speed is not above the baseline's"
            line = f"{head}: {VERDICT_TEXT[Verdict.not_faster]}"
            decisions.append(Decision(name, Verdict.not_faster, line, reason, needed))
            continue
        if meaningless:
            line = f"{head}: {VERDICT_TEXT[Verdict.not_meaningful]}: {meaningless}"
            decisions.append(Decision(name, Verdict.not_meaningful, line, meaningless, needed))
            continue
        outcome = verdict(low, high, max_f1_loss)
        if low is None or high is None:
            line = f"{head}: not decidable without the test predictions (no paired interval)"
        else:
            line = f"{head}: {VERDICT_TEXT[outcome]} ({max_f1_loss:g})"
            if outcome is Verdict.undecidable and row.get("mcnemar_b") is not None:
                line += "; " + _needed_text(needed, base["test_frames"], max_f1_loss)
        decisions.append(Decision(name, outcome, line, None, needed))
    return decisions


def _needed_text(needed: int | None, frames: int, max_f1_loss: float) -> str:
    if needed is None:
        return f"no test-set size decides a \u0394F1 of exactly -{max_f1_loss:g}"
    return (
        f"decidable at {max_f1_loss:g} from about {needed:,} test frame{'s' if needed > 1 else ''} "
        f"(this set: {frames:,})"
    )
