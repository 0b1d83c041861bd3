"""``virnucpro verify-embedder``: native loader against the model repository's code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ASSETS, write_fasta

from virnucpro.embed import verification
from virnucpro.embed.embedders.loader import load_encoder
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import embed_sequences
from virnucpro.errors import InputError
from virnucpro.files.sequence_files import read_fasta
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import stop_free_frames

CPU = torch.device("cpu")
EXAMPLE = ASSETS / "mixed_example.fasta"


@pytest.fixture(autouse=True)
def _module_cache(tmp_path, monkeypatch):
    """Remote code is copied into $HF_HOME/modules: keep it out of the user's cache."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def _virnucpro(*args: str | os.PathLike[str], hf_home: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "virnucpro"
    env = {**os.environ, "HF_HOME": str(hf_home), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, env=env, check=False
    )


def _table_rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.strip().splitlines()
    assert lines[0].split() == [
        "precision", "frames", "max_abs_diff", "min_cosine", "tolerance", "result"
    ]  # fmt: skip
    return {line.split()[0]: line.split() for line in lines[1:-1]}


def test_tiny_esm2_passes_from_the_command_line(tmp_path):
    figures = tmp_path / "verify.json"
    result = _virnucpro(
        "verify-embedder", "tiny_esm2", "--device", "cpu", "--frames", "50",
        "--output", figures, hf_home=tmp_path / "hf",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "verify-embedder tiny_esm2: PASS"
    rows = _table_rows(result.stdout)
    assert list(rows) == ["fp32"]  # tiny_esm2's default precision is fp32: one pass only
    _, frames, max_abs, min_cosine, cosine_bound, abs_bound, outcome = rows["fp32"]
    assert frames == "50" and outcome == "PASS"
    assert float(max_abs) <= 1e-4 and float(min_cosine) >= 0.99999
    assert (cosine_bound, abs_bound) == ("cos>=0.99999", "abs<=0.0001")
    report = json.loads(figures.read_text())
    assert report["embedder"] == "tiny_esm2" and report["passed"] is True
    assert report["summary"] == "verify-embedder tiny_esm2: PASS"
    assert report["dimension"] == 32 and report["device"] == "cpu"
    [fp32] = report["comparisons"]
    assert fp32["precision"] == "fp32" and fp32["frames"] == 50 and fp32["passed"] is True
    assert fp32["max_abs_diff"] <= 1e-4 and fp32["min_cosine"] >= 0.99999
    assert fp32["max_abs_tolerance"] == 1e-4 and fp32["min_cosine_tolerance"] == 0.99999


def test_remote_code_that_fails_is_one_error_line(tmp_path):
    # tiny_fastesm2's bundled modeling_fastesm.py raises when imported.
    result = _virnucpro(
        "verify-embedder", "tiny_fastesm2", "--device", "cpu", "--frames", "10",
        "--trust-remote-code", hf_home=tmp_path / "hf",
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "'tiny_fastesm2'" in errors[0] and "trust_remote_code" in errors[0]
    assert "modeling_fastesm.py must never be imported" in errors[0]
    assert "Traceback" not in result.stderr
    assert "PASS" not in result.stdout


def test_model_free_embedder_is_refused():
    with pytest.raises(InputError, match="'aa_composition' has no model"):
        verification.measure_agreement(get_embedder("aa_composition"), device="cpu")


class _Shifted:
    """An encoder whose hidden states are moved by ``shift`` (pooled vectors move by it too)."""

    def __init__(self, encoder, shift: torch.Tensor | float):
        self._encoder, self._shift = encoder, shift

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def hidden_states(self, input_ids, attention_mask):
        return self._encoder.hidden_states(input_ids, attention_mask) + self._shift


def _perturb_remote(monkeypatch, shift_for_dtype) -> list[tuple[torch.dtype, bool]]:
    """Wrap the loader so that remote encoders are shifted; returns the loads made."""
    loads: list[tuple[torch.dtype, bool]] = []

    def load(spec, folder, device, dtype, trust_remote_code=False, *, auto_classes=False):
        assert not trust_remote_code  # no --trust-remote-code: the folder's code never runs
        loads.append((dtype, auto_classes))
        encoder = load_encoder(spec, folder, device, dtype, auto_classes=auto_classes)
        shift = shift_for_dtype(dtype)
        return _Shifted(encoder, shift) if auto_classes and shift is not None else encoder

    monkeypatch.setattr(verification, "load_encoder", load)
    return loads


def _native_vectors(frames: int) -> np.ndarray:
    spec = get_embedder("tiny_esm2")
    proteins = verification.first_frames(EXAMPLE, 300, frames, Modality.protein)
    encoder = load_encoder(spec, model_directory(spec), CPU, torch.float32)
    return embed_sequences(encoder, proteins, CPU).astype(np.float64)


def test_remote_vectors_that_differ_fail_with_their_figures(monkeypatch, tmp_path):
    # Our side runs transformers' own layers, so that it equals the remote side bit for bit
    # before the shift (the default fused layers differ by ~5e-7).
    monkeypatch.setenv("VIRNUCPRO_ESM_KERNELS", "eager")
    shift = 1e-3
    loads = _perturb_remote(monkeypatch, lambda dtype: shift)
    spec = get_embedder("tiny_esm2")
    result = verification.measure_agreement(spec, frames=40, device="cpu")
    assert loads == [(torch.float32, True), (torch.float32, False)]
    [fp32] = result.comparisons
    # Every pooled value of the remote side moved by exactly ``shift``.
    native = _native_vectors(40)
    shifted = native + shift
    expected_cosine = (
        (native * shifted).sum(axis=1)
        / (np.linalg.norm(native, axis=1) * np.linalg.norm(shifted, axis=1))
    ).min()
    assert fp32.frames == 40
    assert fp32.max_abs_diff == pytest.approx(shift, abs=1e-6)
    assert fp32.min_cosine == pytest.approx(expected_cosine, abs=1e-7)
    assert not fp32.passed and not result.passed
    assert result.summary().startswith("verify-embedder tiny_esm2: FAIL (fp32: ")
    assert "max abs diff 1.000e-03 > 0.0001" in result.summary()

    # The command's path: table and result line printed, figures written, then the error.
    stream, figures = io.StringIO(), tmp_path / "fail.json"
    with pytest.raises(InputError, match=r"^verify-embedder tiny_esm2: FAIL \(fp32: "):
        verification.verify_embedder(spec, output=figures, stream=stream, frames=40, device="cpu")
    rows = _table_rows(stream.getvalue())
    assert rows["fp32"][-1] == "FAIL" and float(rows["fp32"][2]) == pytest.approx(shift, rel=1e-3)
    assert stream.getvalue().strip().splitlines()[-1].startswith("verify-embedder tiny_esm2: FAIL")
    report = json.loads(figures.read_text())
    assert report["passed"] is False
    assert report["comparisons"][0]["max_abs_diff"] == pytest.approx(shift, abs=1e-6)


def test_the_run_precision_is_compared_on_its_own_bound(monkeypatch):
    # Remote bf16 vectors pointing elsewhere: fp32 passes, bf16 fails on the cosine.
    generator = torch.Generator().manual_seed(0)
    direction = torch.randn(32, generator=generator)
    loads = _perturb_remote(
        monkeypatch, lambda dtype: direction if dtype == torch.bfloat16 else None
    )
    result = verification.measure_agreement(
        get_embedder("tiny_esm2"), frames=20, device="cpu", precision="bf16"
    )
    assert loads == [
        (torch.float32, True), (torch.float32, False), (torch.bfloat16, True), (torch.bfloat16, False)
    ]  # fmt: skip
    fp32, bf16 = result.comparisons
    assert fp32.passed and fp32.max_abs_diff <= 1e-4 and fp32.min_cosine >= 0.99999
    assert bf16.precision == "bf16" and bf16.max_abs_tolerance is None
    assert bf16.min_cosine < 0.999 and not bf16.passed
    assert result.summary().startswith("verify-embedder tiny_esm2: FAIL (bf16: min cosine ")
    assert "fp32" not in result.summary()
    # A looser bound makes the same figures pass; the absolute difference is not held at bf16.
    assert verification.Comparison("bf16", 20, 9.0, bf16.min_cosine, -1e-9, None).passed


def test_compare_vectors():
    vectors = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    assert verification.compare_vectors(vectors, vectors.copy()) == (0.0, 1.0)
    other = np.array([[3.0, 2.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    max_abs, cosine = verification.compare_vectors(vectors, other)
    assert max_abs == 2.0 and cosine == pytest.approx(10 / 14)
    flipped = np.array([[-1.0, -2.0, -3.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    assert verification.compare_vectors(vectors, flipped)[1] == pytest.approx(-1.0)
    broken = other.copy()
    broken[0, 0] = np.nan
    max_abs, cosine = verification.compare_vectors(vectors, broken)
    comparison = verification.Comparison("fp32", 2, max_abs, cosine, 0.99999, 1e-4)
    assert not comparison.passed  # NaN never passes
    comparison = verification.Comparison("fp32", 2, 0.0, 1.0, 0.99999, 1e-4)
    assert comparison.passed and comparison.failures() == []


def test_first_frames_are_taken_in_input_order(tmp_path):
    chunks = list(chunk_records(read_fasta(EXAMPLE), 300))
    frames = [frame for kept in stop_free_frames(chunks) for frame in kept]
    proteins = verification.first_frames(EXAMPLE, 300, 25, Modality.protein)
    nucleotides = verification.first_frames(EXAMPLE, 300, 25, Modality.dna)
    assert proteins == [frame.protein for frame in frames[:25]]
    assert nucleotides == [frame.nucleotide for frame in frames[:25]]
    assert verification.first_frames(EXAMPLE, 300, 10**6, Modality.dna) == [
        frame.nucleotide for frame in frames
    ]
    assert verification.default_input() == EXAMPLE
    stops = write_fasta(tmp_path / "stops.fasta", [("s", "AC"), ("t", "TAATAGTGA")])
    # "TAATAGTGA" has stop-free frames (F2, F3 and reverse); "AC" is too short for any.
    short = write_fasta(tmp_path / "short.fasta", [("s", "AC")])
    assert verification.first_frames(stops, 300, 5, Modality.protein)
    with pytest.raises(InputError, match="no stop-free frame"):
        verification.first_frames(short, 300, 5, Modality.protein)
    with pytest.raises(InputError, match="at least 1"):
        verification.first_frames(EXAMPLE, 300, 0, Modality.protein)


def test_bad_options_are_refused_before_loading(tmp_path):
    spec = get_embedder("tiny_esm2")
    with pytest.raises(InputError, match="precision"):
        verification.measure_agreement(spec, device="cpu", precision="fp8")
    with pytest.raises(InputError, match="no such FASTA"):
        verification.measure_agreement(spec, device="cpu", input_path=tmp_path / "missing.fasta")
    with pytest.raises(InputError, match="not a model folder"):
        verification.measure_agreement(spec, device="cpu", model_dir=tmp_path)
