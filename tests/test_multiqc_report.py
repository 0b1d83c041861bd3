"""The MULTIQC_REPORT step: MultiQC on the steps' custom content, every file a section or nothing.

MultiQC skips a file it cannot parse and still exits 0; the step must not publish a
report that silently lacks a section.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run_script

CONFIG = ROOT / "assets" / "multiqc_config.yml"
CALLS = ROOT / "modules" / "local" / "prediction_report" / "tests" / "data"
VERSIONS = 'PREDICTION_REPORT:\n    virnucpro: "0.1.0"\nWorkflow:\n    nextflow: "26.04.6"\n'


def report_command(*content: Path, output: Path) -> list[str]:
    args = ["--config", str(CONFIG), "--output-dir", str(output), "--threads", "1"]
    for path in content:
        args += ["--content", str(path)]
    return args


@pytest.fixture
def calls_content(tmp_path: Path) -> Path:
    """virnucpro_calls_mqc.tsv as prediction_report.py --multiqc writes it (two samples)."""
    folder = tmp_path / "calls"
    folder.mkdir()
    args = ["--output", str(folder / "report.html"), "--multiqc"]
    for sample in ("alpha", "beta"):
        args += ["--chunk-calls", str(CALLS / f"{sample}.chunk_calls.tsv")]
        args += ["--sequence-calls", str(CALLS / f"{sample}.sequence_calls.tsv")]
    result = run_script("prediction_report.py", *args)
    assert result.returncode == 0, result.stderr
    return folder / "virnucpro_calls_mqc.tsv"


@pytest.fixture
def versions_content(tmp_path: Path) -> Path:
    path = tmp_path / "virnucpro_software_mqc_versions.yml"
    path.write_text(VERSIONS)
    return path


def test_a_file_of_no_step_is_refused(tmp_path):
    stray = tmp_path / "notes_mqc.tsv"
    stray.write_text("Sample\tx\na\t1\n")
    result = run_script("multiqc_report.py", *report_command(stray, output=tmp_path / "out"))
    assert result.returncode == 1
    assert "notes_mqc.tsv: not a file of the pipeline's MultiQC report" in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_same_file_twice_is_refused(tmp_path, versions_content):
    other = tmp_path / "again"
    other.mkdir()
    (other / versions_content.name).write_text(VERSIONS)
    result = run_script(
        "multiqc_report.py",
        *report_command(versions_content, other / versions_content.name, output=tmp_path / "out"),
    )
    assert result.returncode == 1
    assert "given twice: virnucpro_software_mqc_versions.yml" in result.stderr


@pytest.mark.slow
def test_every_file_is_a_section_of_the_report(tmp_path, calls_content, versions_content):
    out = tmp_path / "out"
    result = run_script(
        "multiqc_report.py", *report_command(calls_content, versions_content, output=out)
    )
    assert result.returncode == 0, result.stderr
    page = (out / "multiqc_report.html").read_text()
    assert 'id="virnucpro_calls"' in page and 'id="multiqc_software_versions"' in page
    assert "26.04.6" in page
    table = (out / "multiqc_data" / "multiqc_virnucpro_calls_table.txt").read_text()
    # alpha: 4 sequences (1 virus, 1 others, 1 no_frame, 1 too_short) in 8 chunks
    assert table.splitlines()[1].split("\t")[:5] == ["alpha", "4", "1", "1", "1"]
    # Only the report and its data: MultiQC's working folder is gone
    assert sorted(path.name for path in out.iterdir()) == ["multiqc_data", "multiqc_report.html"]


@pytest.mark.slow
def test_a_file_multiqc_cannot_read_stops_the_step_with_nothing_written(
    tmp_path, calls_content, versions_content
):
    out = tmp_path / "out"
    broken = tmp_path / "broken" / "virnucpro_comparison_mqc.tsv"
    broken.parent.mkdir()
    broken.write_text("not a table")
    result = run_script(
        "multiqc_report.py", *report_command(calls_content, broken, versions_content, output=out)
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: MultiQC could not read {broken}: its report would lack them"
    )
    assert list(out.iterdir()) == []
