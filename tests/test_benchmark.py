"""An embedder's speed: the median of repeated timed passes, with the slowest and fastest."""

from __future__ import annotations

import json

import pytest

from virnucpro.embed import benchmark
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.errors import InputError


def _frames(tmp_path, count=6):
    path = tmp_path / "frames.protein.fasta"
    path.write_text("".join(f">f{index}\nMKTAYIAKQRQISFVKSHFSRQ\n" for index in range(count)))
    return path


def test_figures_are_the_median_pass_with_the_slowest_and_fastest_as_range(tmp_path, monkeypatch):
    passes = iter([3.0, 1.0, 1.5])
    monkeypatch.setattr(benchmark, "timed_pass", lambda *args, **kwargs: next(passes))
    result = benchmark.benchmark_embedder(
        get_embedder("aa_composition"), _frames(tmp_path), tmp_path / "b.json", "fp32", "cpu",
        4096, warmup=2, repeats=3,
    )  # fmt: skip
    assert result["seconds_per_pass"] == [3.0, 1.0, 1.5] and result["seconds"] == 1.5
    # 6 sequences: 6/1.5 at the median pass (not the mean, 1.83 s), 6/3 at the slowest, 6/1 at
    # the fastest
    assert (
        result["sequences_per_second"],
        result["sequences_per_second_low"],
        result["sequences_per_second_high"],
    ) == (4.0, 2.0, 6.0)
    assert result["tokens_per_second_low"] * 3 == pytest.approx(result["tokens_per_second"] * 1.5)
    assert json.loads((tmp_path / "b.json").read_text())["repeats"] == 3


def test_only_the_first_pass_warms_up(tmp_path, monkeypatch):
    warmups = []

    def timed(embedder, sequences, warmup, stats=None):
        warmups.append(warmup)
        return 1.0

    monkeypatch.setattr(benchmark, "timed_pass", timed)
    benchmark.benchmark_embedder(
        get_embedder("aa_composition"), _frames(tmp_path), tmp_path / "b.json", "fp32", "cpu",
        4096, warmup=5, repeats=4,
    )  # fmt: skip
    assert warmups == [5, 0, 0, 0]


def test_real_passes_are_timed_and_zero_passes_are_refused(tmp_path):
    result = benchmark.benchmark_embedder(
        get_embedder("aa_composition"), _frames(tmp_path), tmp_path / "b.json", "fp32", "cpu",
        4096, warmup=1, repeats=3,
    )  # fmt: skip
    low, median, high = (result[f"sequences_per_second{end}"] for end in ("_low", "", "_high"))
    assert len(result["seconds_per_pass"]) == 3 and 0 < low <= median <= high
    with pytest.raises(InputError, match="repeats must be at least 1 timed pass, got 0"):
        benchmark.benchmark_embedder(
            get_embedder("aa_composition"), _frames(tmp_path), tmp_path / "c.json", "fp32",
            "cpu", 4096, repeats=0,
        )  # fmt: skip
    assert not (tmp_path / "c.json").exists()
