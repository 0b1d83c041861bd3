"""benchmarks/gpu_check.sh --tiny: the prepared GPU check runs end to end on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.slow
def test_tiny_run_measures_every_model_length_and_predict(tmp_path):
    output = tmp_path / "gpu_check.json"
    result = subprocess.run(
        [str(SCRIPT), "--tiny", "--device", "cpu", "--precision", "fp32", "--output", str(output), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert figures["tiny"] is True and figures["peak_tflops"] > 0
    assert set(figures["checkpoint_write_seconds"]) == {"esm2_3b", "fastesm2_650", "dnabert_s"}
    rows = {(row["model"], row["frame_bp"]): row for row in figures["models"]}
    assert set(rows) == {
        (m, bp) for m in ("esm2_3b", "fastesm2_650", "dnabert_s") for bp in (300, 500)
    }
    for row in rows.values():
        assert row["sequences"] == 96 and row["tokens"] > row["sequences"]
        assert row["sequences_per_second"] > 0 and row["mfu"] > 0
        # MFU from the TFLOP/s as measured, not as rounded for the table (0.00 on a slow CPU)
        assert row["mfu"] == pytest.approx(row["tflops"] / figures["peak_tflops"], rel=1e-12)
        assert 0 <= row["padding_share"] < 1 and 0 <= row["idle_share"] <= 1
        assert 0 <= row["attention_share"] <= 1
    # 500 bp frames are longer: more tokens for the same number of frames
    assert rows[("esm2_3b", 500)]["tokens"] > rows[("esm2_3b", 300)]["tokens"]
    assert [run["protein_model"] for run in figures["predict"]] == ["fastesm2_650", "esm2_3b"]
    for run in figures["predict"]:
        assert run["reads"] > 0 and run["frames"] > 0 and run["called_sequences"] == run["reads"]
        assert 0 <= run["outside_kernels_share"] <= 1
    assert "| esm2_3b | 500 bp |" in result.stdout and "outside GPU kernels" in result.stdout
    assert not list(tmp_path.glob("tmp*")), "the scratch folder is removed"
