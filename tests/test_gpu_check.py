"""benchmarks/gpu_check.sh: the prepared GPU check runs end to end on the CPU (--tiny), and
its figures are what it measured: the backend it chose is the fastest padding-invariant
one it timed and the one the embed loop ran with, idle share is not made up on a CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, load_script

from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.verification import first_frames

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
MODELS = ("esm2_3b", "fastesm2_650", "dnabert_s")


@pytest.fixture(scope="module")
def gpu_check():
    return load_script(ROOT / "benchmarks" / "gpu_check.py")


def test_kernel_time_is_the_union_of_kernel_intervals(gpu_check):
    # Two streams overlapping on 2..3, nothing on 4..6: 0..4 and 6..8 are busy.
    assert gpu_check._union_length([(0, 3), (2, 4), (6, 8), (6.5, 7)]) == 6
    assert gpu_check._union_length([]) == 0


def test_kernels_are_told_from_copies_with_or_without_an_activity_type(gpu_check):
    from types import SimpleNamespace as Event

    assert gpu_check.is_kernel(Event(name="Memcpy HtoD", activity_type="kernel"))
    assert not gpu_check.is_kernel(Event(name="ampere_gemm", activity_type="gpu_memcpy"))
    # torch releases whose events have no activity type: by name
    assert gpu_check.is_kernel(Event(name="ampere_bf16_gemm"))
    assert not gpu_check.is_kernel(Event(name="Memcpy DtoH (Device -> Pinned)"))
    assert not gpu_check.is_kernel(Event(name="Memset (Device)"))


def test_the_choice_is_the_fastest_padding_invariant_backend(gpu_check):
    backends = {
        "flash_attention": {"unavailable": "no kernel"},
        "efficient_attention": {"seconds": 1.0, "padding_invariant": False},
        "cudnn_attention": {"seconds": 2.0, "padding_invariant": True},
        "math": {"seconds": 3.0, "padding_invariant": True},
    }
    assert gpu_check.fastest_invariant(backends) == "cudnn_attention"


def test_backends_are_timed_as_the_embedders_setting_and_idle_is_not_available_on_a_cpu(
    gpu_check,
):
    spec = get_embedder("tiny_dnabert_s")
    embedder = SequenceEmbedder(spec, "fp32", "cpu", 4096, ROOT / "assets" / "models" / spec.name)
    sequences = first_frames(
        ROOT / "assets" / "test" / "mixed_example.fasta", 300, 8, spec.modality
    )
    backends = gpu_check.attention_backends(embedder, sequences, alone=2)
    assert set(backends) == {"flash_attention", "efficient_attention", "cudnn_attention", "math"}
    # A CPU build has flash (for CPU) and math kernels only.
    assert (
        "unavailable" in backends["efficient_attention"]
        and "unavailable" in backends["cudnn_attention"]
    )
    assert backends["math"]["padding_invariant"] and backends["math"]["seconds"] > 0
    assert backends["flash_attention"]["max_abs_difference_from_alone"] <= 1e-5
    attention, idle = gpu_check.profiled_pass(embedder, sequences)
    assert 0 < attention < 1 and idle is None


@pytest.mark.slow
def test_tiny_run_measures_every_model_length_and_predict(tmp_path):
    output = tmp_path / "gpu_check.json"
    result = subprocess.run(
        [str(SCRIPT), "--tiny", "--device", "cpu", "--precision", "fp32", "--output", str(output), "--work", str(tmp_path), "--esm-kernels", "eager,fused"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert figures["tiny"] is True and figures["peak_tflops"] > 0
    assert set(figures["checkpoint_write_seconds"]) == set(MODELS)
    rows = {(row["model"], row["kernels"], row["frame_bp"]): row for row in figures["models"]}
    # each ESM model once per layer path asked for, each with its own load
    paths = {
        "esm2_3b": ("eager", "fused"),
        "fastesm2_650": ("eager", "fused"),
        "dnabert_s": ("n/a",),
    }
    assert set(rows) == {(m, k, bp) for m in MODELS for k in paths[m] for bp in (300, 500)}
    for row in rows.values():
        assert row["sequences"] == 96 and row["tokens"] > row["sequences"]
        assert row["sequences_per_second"] > 0 and row["mfu"] > 0
        # MFU from the TFLOP/s as measured, not as rounded for the table (0.00 on a slow CPU)
        assert row["mfu"] == pytest.approx(row["tflops"] / figures["peak_tflops"], rel=1e-12)
        assert 0 <= row["padding_share"] < 1 and 0 <= row["attention_share"] <= 1
        assert row["idle_share"] is None  # no kernel trace on a CPU: not a made-up number
        backends = row["attention_backends"]
        timed = {name: f for name, f in backends.items() if f.get("padding_invariant")}
        assert "math" in timed
        assert row["attention_backend"] == min(timed, key=lambda name: timed[name]["seconds"])
        assert row["tokenise_seconds_per_shard"] > 0 and row["write_seconds_per_shard"] > 0
        host = row["tokenise_seconds_per_shard"] + row["write_seconds_per_shard"]
        assert row["host_share_of_modelled_gpu"] == pytest.approx(
            host / row["modelled_gpu_seconds_per_shard"], rel=1e-12
        )
    # 500 bp frames are longer: more tokens for the same number of frames
    assert rows[("esm2_3b", "fused", 500)]["tokens"] > rows[("esm2_3b", "fused", 300)]["tokens"]
    assert [run["protein_model"] for run in figures["predict"]] == ["fastesm2_650", "esm2_3b"]
    for run in figures["predict"]:
        assert run["reads"] > 0 and run["frames"] > 0 and run["called_sequences"] == run["reads"]
        assert run["outside_batches_share"] is None
    assert (
        "| esm2_3b | eager | 500 bp |" in result.stdout
        and "| esm2_3b | fused | 500 bp |" in result.stdout
        and "outside GPU batches" in result.stdout
    )
    assert "| n/a |" in result.stdout and "tokenise s/shard" in result.stdout
    assert not list(tmp_path.glob("tmp*")), "the scratch folder is removed"
