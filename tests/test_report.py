"""The HTML comparison report: self-contained, deterministic, and visibly plotted in Chromium."""

from __future__ import annotations

import re

import pytest
from conftest import browser_pixels, needs_chromium

from virnucpro.compare.comparison_report import render_report, write_report
from virnucpro.compare.decision import decide
from virnucpro.report_provenance import ModelUsed, Provenance


def _row(embedder, f1, speed, **changes):
    row = {"embedder": embedder, "dimension": 1280}
    for name in ("f1", "accuracy", "precision", "recall", "auroc", "mcc"):
        row.update({name: f1, f"{name}_low": f1 - 0.02, f"{name}_high": f1 + 0.01})
    row.update(sequences_per_second=speed, tokens_per_second=speed and speed * 100, peak_memory_gib=speed and 4.0,
               sequences_per_second_low=speed and speed * 0.9, sequences_per_second_high=speed and speed * 1.1,
               load_seconds=speed and 9.5, speedup=speed and speed / 100, delta_f1=f1 - 0.95,
               speedup_low=speed and speed * 0.9 / 110, speedup_high=speed and speed * 1.1 / 90,
               test_frames=268, test_viral_frames=134, virus_calls=130, **changes)  # fmt: skip
    return row


ROWS = [
    _row("esm2_3b", 0.95, 100.0, dimension=2560),
    _row("fastesm2_650", 0.93, 450.0),
    _row("aa_composition", 0.81, None),
]
ROCS = {
    row["embedder"]: ([0.0, 0.05, 0.2, 1.0], [0.0, row["f1"] - 0.2, row["f1"], 1.0]) for row in ROWS
}
CONTEXT = {"test frames": "268 (134 viral)", "precision": "bf16"}
DECISIONS = decide(ROWS, "esm2_3b", 0.01)
PROJECTION = "Hours: protein embedding of 1,000,000 reads of 500 bp."
PROVENANCE = Provenance(
    {"baseline": "esm2_3b", "max_f1_loss": "0.01"},
    [ModelUsed("DNA", "dnabert_s", "zhihan1996/DNABERT-S", "00e47f9", "c" * 64)],
    caveats=["tiny_esm2: random test models"],
    date="2026-12-07",
)


def test_report_is_self_contained_and_deterministic():
    page = render_report(ROWS, ROCS, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE)
    assert page == render_report(ROWS, ROCS, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE)
    assert page.count("<svg") >= 2
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert not re.search(r"https?://|@import|<script|<link", without_namespaces)
    assert "0.930" in page and "[0.910, 0.940]" in page
    assert '<span class="worse">-0.020</span>' in page and "+0.000" in page
    assert "baseline" in page and "268 (134 viral)" in page
    assert page.count("n/a") >= 4  # aa_composition was not benchmarked


def test_hostile_names_are_escaped(tmp_path):
    rows = [*ROWS[:2], _row("<script>alert(1)</script>", 0.5, 10.0)]
    rocs = {**ROCS, rows[2]["embedder"]: ([0.0, 1.0], [0.0, 1.0])}
    write_report(
        tmp_path / "report.html", rows, rocs, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE
    )
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


@needs_chromium
def test_report_plots_are_visible_in_headless_chromium(tmp_path):
    write_report(
        tmp_path / "report.html", ROWS, ROCS, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE
    )
    coloured, ink = browser_pixels(tmp_path / "report.html")
    # The ROC curves and speed bars are the only strongly coloured parts of the page.
    assert coloured > 20_000, "no coloured plots rendered"
    assert ink > 0.02


def test_one_row_per_embedder_with_baseline_marked_and_na_speed():
    page = render_report(ROWS, ROCS, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE)
    table = page.index("<h2>Comparison</h2>")
    body = page[page.index("<tbody>", table) : page.index("</tbody>", table)]
    cells = [re.sub(r"<[^>]+>", "", row) for row in re.findall(r"<tr.*?</tr>", body)]
    assert len(cells) == len(ROWS)
    assert [bool(re.search(r'<tr class="baseline"', row)) for row in re.findall(r"<tr[^>]*>", body)] == [True, False, False]  # fmt: skip
    assert "0.930 [0.910, 0.940]" in re.sub(r"\s+", " ", cells[1]) and "4.50&#215;" in cells[1]
    # seq/s and its range, tokens/s, speedup and its range, memory, load
    assert cells[2].count("n/a") == 7
    assert "not measured: aa_composition" in page  # and left out of the speed chart


def test_page_is_ascii_with_unique_ids_and_literal_names():
    rows = [*ROWS[:2], _row("_cost$5 \u00e9", 0.5, None)]
    rocs = {**ROCS, rows[2]["embedder"]: ([0.0, 1.0], [0.0, 1.0])}
    page = render_report(rows, rocs, "esm2_3b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE)
    page.encode("ascii")
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two inline SVGs must not share ids
    assert "_cost$5 &#233; (AUROC 0.500)" in page  # not hidden as '_…', not parsed as mathtext
    with pytest.raises(ValueError, match="baseline"):
        render_report(ROWS, ROCS, "esm1b", CONTEXT, DECISIONS, PROJECTION, PROVENANCE)


def test_decision_section_states_each_verdict():
    rows = [
        ROWS[0],
        _row("within_one", 0.948, 300.0, delta_f1_low=-0.006, delta_f1_high=0.002),
        _row("outside_one", 0.90, 900.0, delta_f1_low=-0.07, delta_f1_high=-0.03),
        _row("<b>unsure</b>", 0.94, 200.0, delta_f1_low=-0.03, delta_f1_high=0.01),
    ]
    rows = [{**row, "hours_per_million_reads": 1.5} for row in rows]
    rocs = {row["embedder"]: ([0.0, 1.0], [0.0, 1.0]) for row in rows}
    page = render_report(
        rows, rocs, "esm2_3b", CONTEXT, decide(rows, "esm2_3b", 0.01), PROJECTION, PROVENANCE
    )
    section = page[page.index("<h2>Decision</h2>") : page.index("<h2>Comparison</h2>")]
    assert PROJECTION in section and section.count("1.50") == 4
    assert '<span class="better">within the allowed loss</span>' in section
    assert '<span class="worse">outside the allowed loss</span>' in section
    assert '<span class="na">not decidable at this test-set size</span>' in section
    assert (
        "<li>within_one: 3.00&#215; faster (passes: 2.45&#8211;3.67&#215; the baseline" in section
    )
    assert "&#916;F1 = -0.002 [-0.006, +0.002]: within the allowed loss (0.01)</li>" in section
    assert "<b>unsure</b>" not in section and "&lt;b&gt;unsure&lt;/b&gt;" in section
    assert section.count("<li>") == 3  # no verdict line for the baseline
