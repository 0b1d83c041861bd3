"""The MultiQC report's content: the calls, comparison and verdicts files the steps write,
read as MultiQC reads them, and (slow) the real multiqc on them with the pipeline's config.

The inputs are those of tests/test_prediction_report.py (the prediction_report module's
hand-worked tables) and tests/test_compare.py (ESM2-3B against FastESM2_650).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_script
from test_compare import _benchmark, _esm2_3b_and_fastesm2, _evaluation
from test_prediction_report import HOSTILE, _fixtures, _write

from virnucpro.classify.calls_multiqc import CALLS_COLUMNS
from virnucpro.classify.prediction_report import write_prediction_report
from virnucpro.compare.compare_embedders import compare_embedders
from virnucpro.compare.comparison_multiqc import COMPARISON_COLUMNS
from virnucpro.errors import InputError
from virnucpro.multiqc_content import (
    CALLS_SECTION,
    COMPARISON_SECTION,
    SECTION_ORDER,
    VERDICTS_SECTION,
)

CONFIG = ROOT / "assets" / "multiqc_config.yml"
# The shape of pipeline_info/software_versions.yml (versionsYaml in
# subworkflows/local/utils_nfcore_virnucpro_pipeline/main.nf), under the name MultiQC
# reads as software versions
VERSIONS = """\
EMBED_PROTEIN:
    torch: "2.13.0+cpu"
    virnucpro: "0.1.0"
PREDICTION_REPORT:
    virnucpro: "0.1.0"
Workflow:
    virnucpro-nf: "0.1.0"
    nextflow: "25.04.6"
    profile: "test,docker"
    container_engine: "docker"
"""
VERSIONS_FILE = "virnucpro_software_mqc_versions.yml"


def _table(path: Path) -> tuple[dict, dict[str, dict[str, str]]]:
    """A *_mqc.tsv as MultiQC reads it: the YAML of its '#' lines, and row name -> column -> cell."""
    lines = path.read_text().splitlines()
    config = yaml.safe_load("\n".join(line[1:] for line in lines if line.startswith("#")))
    header, *rows = [line.split("\t") for line in lines if not line.startswith("#")]
    return config, {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def _html_config(text: str) -> dict:
    """The YAML of a *_mqc.html's leading comment, as MultiQC finds it."""
    return yaml.safe_load(re.match(r"<!--(.*?)-->", text, re.DOTALL).group(1))


def _compare(tmp_path: Path, **benchmark_changes) -> Path:
    """ESM2-3B and FastESM2_650 compared with --multiqc, hours from 2.5 frames per read."""
    evaluations, _ = _esm2_3b_and_fastesm2(tmp_path)
    benchmarks = [
        _benchmark(tmp_path, "esm2_3b", 100.0, **benchmark_changes),
        _benchmark(tmp_path, "fastesm2_650", 450.0, **benchmark_changes),
    ]
    counts = tmp_path / "genomes.counts.tsv"
    counts.write_text("source\tlabel\treads_500bp\tread_frames_500bp\nx.gbk\tviral\t40\t100\n")
    out = tmp_path / "out"
    compare_embedders(
        evaluations, benchmarks, out, counts_paths=[counts], max_f1_loss=0.05, multiqc=True
    )
    return out


def test_calls_table_counts_each_sample_worked_out_by_hand(tmp_path):
    write_prediction_report(tmp_path / "report.html", *_fixtures("beta", "alpha"), multiqc=True)
    config, rows = _table(tmp_path / CALLS_SECTION.file_name)
    assert config["id"] == "virnucpro_calls" and config["plot_type"] == "table"
    assert list(config["headers"]) == [column.key for column in CALLS_COLUMNS]
    # alpha: s1 virus (2 of 3 chunks viral), s4 others (1 of 3), s2 no_frame, s3 too_short
    # (both low coverage: no chunk with frames); 8 chunks, 6 with frames, 3 viral, 10
    # frames. beta: a virus and an others, 3 chunks, 2 with frames, 1 viral, 3 frames.
    # In sample name order, as the page's per-sample table.
    assert list(rows) == ["alpha", "beta"]
    assert rows["alpha"] == {
        "sequences": "4", "virus_sequences": "1", "others_sequences": "1",
        "no_frame_sequences": "1", "too_short_sequences": "1", "virus_fraction": "0.25",
        "low_coverage_sequences": "2", "chunks": "8", "chunks_with_frames": "6",
        "virus_chunks": "3", "frames": "10",
    }  # fmt: skip
    assert [rows["beta"][key] for key in ("sequences", "virus_fraction", "chunks", "frames")] == [
        "2", "0.5", "3", "3",
    ]  # fmt: skip


def test_a_sample_without_sequences_has_no_virus_fraction(tmp_path):
    chunks, sequences = _write(tmp_path, "empty", [], [])
    write_prediction_report(tmp_path / "report.html", [chunks], [sequences], multiqc=True)
    _, rows = _table(tmp_path / CALLS_SECTION.file_name)
    assert rows["empty"]["sequences"] == "0" and rows["empty"]["virus_fraction"] == ""


def test_without_multiqc_no_content_is_written(tmp_path):
    write_prediction_report(tmp_path / "predict" / "report.html", *_fixtures("alpha"))
    evaluations, benchmarks = _esm2_3b_and_fastesm2(tmp_path)
    compare_embedders(evaluations, benchmarks, tmp_path / "compare")
    assert not list(tmp_path.glob("*/*_mqc*"))


def test_a_sample_name_multiqc_would_show_unescaped_is_refused_with_nothing_written(tmp_path):
    """MultiQC writes row names into its page as they are: only safe names become rows."""
    chunks, sequences = _write(tmp_path, "x<b>", ["q_chunk_1\tvirus\t1\t0.2\t0.8"], ["q\t1\t1\t1\t0.8\tvirus"])  # fmt: skip
    with pytest.raises(InputError, match=r"sample name 'x<b>' cannot name a row of virnucpro_calls_mqc\.tsv: MultiQC shows row names as they are"):  # fmt: skip
        write_prediction_report(tmp_path / "report.html", [chunks], [sequences], multiqc=True)
    assert not (tmp_path / "report.html").exists()
    assert not (tmp_path / CALLS_SECTION.file_name).exists()


def test_comparison_table_holds_the_rows_and_verdicts(tmp_path):
    config, rows = _table(_compare(tmp_path) / COMPARISON_SECTION.file_name)
    assert config["id"] == "virnucpro_comparison"
    assert list(config["headers"]) == [column.key for column in COMPARISON_COLUMNS]
    assert config["headers"]["delta_f1"]["title"] == "\u0394F1"
    assert list(rows) == ["esm2_3b", "fastesm2_650"]
    base, fast = rows["esm2_3b"], rows["fastesm2_650"]
    assert [base[key] for key in ("dimension", "f1", "speedup", "delta_f1", "verdict")] == [
        "2560", "0.95", "1", "0", "baseline",
    ]  # fmt: skip
    # 450 seq/s against 100, F1 0.93 against 0.95; 1e6 reads x 2.5 frames x 168 tokens /
    # 45,000 tokens/s / 3600 s = 2.59259 h. No test predictions: no paired interval, so no
    # verdict can be reached.
    assert fast["sequences_per_second"] == "450" and fast["tokens_per_second"] == "45000"
    assert fast["speedup"] == "4.5" and fast["delta_f1"] == "-0.02"
    assert fast["chunk_f1"] == "0.94" and fast["sequence_f1"] == "0.96"
    assert fast["hours_per_million_reads"] == "2.59259"
    assert fast["delta_f1_low"] == fast["delta_f1_high"] == fast["mcnemar_p"] == ""
    assert fast["verdict"] == "undecidable"


def test_verdicts_section_says_the_rule_and_each_line_escaped(tmp_path):
    text = (_compare(tmp_path, device_name=HOSTILE) / VERDICTS_SECTION.file_name).read_text()
    assert text.isascii()
    assert _html_config(text) == {
        "id": "virnucpro_verdicts",
        "section_name": "Verdicts",
        "description": VERDICTS_SECTION.description,
    }
    body = text[text.index("-->") + 3 :]
    assert "<p>Allowed F1 loss: 0.05. Hours: protein embedding of 1,000,000 reads" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    # the baseline has no verdict line; FastESM2's, as comparison.md has it
    assert re.findall(r"<li>(.*?)</li>", body) == [
        "fastesm2_650: 4.50&#215; faster (passes: 3.68&#8211;5.50&#215; the baseline&#x27;s "
        "speed), &#916;F1 = -0.020: not decidable without the test predictions (no paired "
        "interval)"
    ]


def test_an_embedder_name_that_cannot_be_a_row_is_refused_with_nothing_written(tmp_path):
    evaluations = [
        _evaluation(tmp_path, "esm2_3b", 0.95),
        _evaluation(tmp_path, "my model", 0.9),
    ]
    with pytest.raises(
        InputError, match=r"embedder 'my model' cannot name a row of virnucpro_comparison_mqc\.tsv"
    ):
        compare_embedders(evaluations, [], tmp_path / "out", multiqc=True)
    assert not (tmp_path / "out").exists()


def test_config_orders_the_sections_and_keeps_the_report_offline():
    config = yaml.safe_load(CONFIG.read_text())
    order = config["report_section_order"]
    assert tuple(sorted(order, key=lambda section: -order[section]["order"])) == SECTION_ORDER
    assert config["title"] == "VirNucPro-NF" and config["custom_logo"] is None
    assert config["no_version_check"] is True and config["no_ai"] is True
    # the titled report keeps the name the pipeline publishes
    assert config["output_fn_name"] == "multiqc_report.html"
    assert config["data_dir_name"] == "multiqc_data"


@pytest.mark.slow
def test_multiqc_renders_every_section_in_order_from_the_steps_files(tmp_path):
    """The bin scripts' --multiqc files and a software versions file, through the real
    multiqc with the pipeline's config, offline."""
    from multiqc.utils.config_schema import MultiQCConfig

    config = yaml.safe_load(CONFIG.read_text())
    assert set(config) <= set(MultiQCConfig.model_fields), "a key MultiQC does not know"
    MultiQCConfig(**config)

    found = tmp_path / "found"
    chunks, sequences = _fixtures("alpha", "beta")
    predicted = run_script(
        "prediction_report.py", "--multiqc", "--output", found / "predict" / "report.html",
        *(arg for path in chunks for arg in ("--chunk-calls", path)),
        *(arg for path in sequences for arg in ("--sequence-calls", path)),
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    evaluations, benchmarks = _esm2_3b_and_fastesm2(tmp_path)
    compared = run_script(
        "compare_embedders.py", "--multiqc", "--output-dir", found / "compare",
        *(arg for path in evaluations for arg in ("--evaluation", path)),
        *(arg for path in benchmarks for arg in ("--benchmark", path)),
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    (found / VERSIONS_FILE).write_text(VERSIONS)

    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "multiqc", "-c", CONFIG, "-o", tmp_path / "multiqc", found],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    print(f"multiqc took {time.monotonic() - start:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "multiqc" / "multiqc_report.html").read_text()
    places = [page.find(f'id="{section}"') for section in SECTION_ORDER]
    assert -1 not in places and places == sorted(places), dict(
        zip(SECTION_ORDER, places, strict=True)
    )
    assert '<h1 class="side-nav-title"><a href="#">VirNucPro-NF</a></h1>' in page
    # a value of each section: alpha's virus fraction and FastESM2's speedup as the table
    # formats them, the verdict line, the versions of both groups
    calls = page[places[0] : places[1]]
    assert re.search(r'data-original-sn="alpha".*?>0\.250<', calls, re.DOTALL)
    comparison = page[places[1] : places[2]]
    assert re.search(
        r'data-original-sn="fastesm2_650".*?>4\.50<span[^>]*></span>x<', comparison, re.DOTALL
    )
    assert "fastesm2_650: 4.50&#215; faster" in page[places[2] : places[3]]
    versions = page[places[3] :]
    assert "<td>torch</td>" in versions and "2.13.0+cpu" in versions
    assert "<td>Workflow</td>" in versions and "test,docker" in versions
    data = tmp_path / "multiqc" / "multiqc_data" / "multiqc_virnucpro_calls_table.txt"
    assert "alpha\t4\t1\t1\t1\t1\t0.25\t2\t8\t6\t3\t10" in data.read_text()
