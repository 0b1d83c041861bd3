"""The decision the comparison ends in: is an embedder's speed worth its accuracy?

For each embedder: its measured throughput, the device-hours one million 500 bp
reads would take to embed (frames per read measured on the input genomes), its
paired ΔF1 interval against the baseline and a verdict under the user's rule
``max_f1_loss``. The loss is accepted only when the whole 95% interval says so:

- within: the interval's lower end is at least ``-max_f1_loss`` (the loss is at
  most the allowed one, with 95% confidence);
- outside: the interval's upper end is below ``-max_f1_loss`` (the loss surely
  exceeds it);
- not decidable: the interval holds ``-max_f1_loss``; a larger test set narrows it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from virnucpro.errors import InputError
from virnucpro.files.contracts import COUNTS, PROJECTION_READ_LENGTH
from virnucpro.files.tables import read_table

#: Reads in the projection of embedding time.
PROJECTION_READS = 1_000_000


class Verdict(str, Enum):
    within = "within"
    outside = "outside"
    undecidable = "undecidable"


VERDICT_TEXT = {
    Verdict.within: "within the allowed loss",
    Verdict.outside: "outside the allowed loss",
    Verdict.undecidable: "not decidable at this test-set size",
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


def tokens_per_frame(read_length: int = PROJECTION_READ_LENGTH) -> float:
    """Tokens of a stop-free frame of a read: its residues (the three offsets averaged), BOS and EOS."""
    return sum((read_length - offset) // 3 for offset in range(3)) / 3 + 2


def projected_hours(tokens_per_second: float | None, per_read: float | None) -> float | None:
    """Hours to embed the frames of one million reads at the measured tokens/s."""
    if not tokens_per_second or per_read is None:
        return None
    return PROJECTION_READS * per_read * tokens_per_frame() / tokens_per_second / 3600


@dataclass(frozen=True)
class Decision:
    embedder: str
    verdict: Verdict | None  # None for the baseline
    line: str


def _speed(speedup: float | None) -> str:
    if speedup is None:
        return "speed not measured"
    return f"{speedup:.2f}\u00d7 faster" if speedup >= 1 else f"{1 / speedup:.2f}\u00d7 slower"


def decide(rows: Sequence[Mapping[str, Any]], baseline: str, max_f1_loss: float) -> list[Decision]:
    """One verdict line per embedder against ``baseline``, in row order."""
    check_max_f1_loss(max_f1_loss)
    decisions = []
    for row in rows:
        name = row["embedder"]
        if name == baseline:
            decisions.append(Decision(name, None, f"{name}: the baseline"))
            continue
        low, high = row.get("delta_f1_low"), row.get("delta_f1_high")
        outcome = verdict(low, high, max_f1_loss)
        head = f"{name}: {_speed(row.get('speedup'))}, \u0394F1 = {row['delta_f1'] + 0.0:+.3f}"
        if low is None or high is None:
            line = f"{head}: not decidable without the test predictions (no paired interval)"
        else:
            line = (
                f"{head} [{low + 0.0:+.3f}, {high + 0.0:+.3f}]: {VERDICT_TEXT[outcome]} "
                f"({max_f1_loss:g})"
            )
        decisions.append(Decision(name, outcome, line))
    return decisions
