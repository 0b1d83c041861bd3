"""The predict-mode HTML summary: hand-worked numbers, checks, determinism, Chromium rendering.

The tables of modules/local/prediction_report/tests/data are those the module's
nf-test reads too, so that both assert the same hand-worked values.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import ROOT, browser_pixels, needs_chromium, run_script

from virnucpro.classify.classifier import load_classifier
from virnucpro.classify.prediction_report import (
    classifier_id,
    prediction_provenance,
    read_samples,
    render_prediction_report,
    rows_per_sample,
    write_prediction_report,
)
from virnucpro.errors import InputError

DATA = ROOT / "modules" / "local" / "prediction_report" / "tests" / "data"
CLASSIFIER = ROOT / "assets" / "models" / "composition_classifier"
HOSTILE = "<script>alert(1)</script>"
CHUNK_HEADER = "chunk_id\tprediction\tframes\tmax_score1\tmax_score2\n"
SEQUENCE_HEADER = (
    "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\t"
    "length\tcoverage\tlow_coverage\n"
)


def _sequences(rows: str) -> str:
    """A sequence calls table of ``rows`` (newline-ended); a row of the six first columns
    gets length NA and the coverage and low_coverage flag (at 0.5) its counts give."""
    lines = []
    for row in rows.splitlines():
        fields = row.split("\t")
        if len(fields) == 6:
            chunks, with_frames = (int(n) if n.isdigit() else 0 for n in fields[1:3])
            share = with_frames / chunks if chunks else 0.0
            row += f"\tNA\t{share:.4f}\t{'yes' if share < 0.5 else 'no'}"
        lines.append(row + "\n")
    return SEQUENCE_HEADER + "".join(lines)


def _fixtures(*samples: str) -> tuple[list[Path], list[Path]]:
    return (
        [DATA / f"{sample}.chunk_calls.tsv" for sample in samples],
        [DATA / f"{sample}.sequence_calls.tsv" for sample in samples],
    )


def _page(max_rows: int = 2000, classifier: bool = True) -> str:
    """The page of the fixtures, as prediction_report.py makes it."""
    samples = read_samples(*_fixtures("beta", "alpha"), 0.5)
    checkpoint = ("composition_classifier", load_classifier(CLASSIFIER)) if classifier else None
    provenance = prediction_provenance(
        0.5, 0.5, checkpoint, classifier_id(CLASSIFIER) if classifier else None
    )
    return render_prediction_report(samples, 0.5, checkpoint, max_rows, 0.5, provenance)


def _tables(page: str) -> list[list[list[str]]]:
    """Each table's body rows as lists of cell texts (tags removed, entities kept)."""
    tables = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, re.DOTALL):
        rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
        tables.append([[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)] for row in rows])  # fmt: skip
    return tables


def _write(folder: Path, sample: str, chunks: list[str], sequences: list[str]) -> tuple[Path, Path]:
    """A sample's two tables from their tab-separated rows (header added)."""
    folder.mkdir(parents=True, exist_ok=True)
    chunk_table = folder / f"{sample}.chunk_calls.tsv"
    sequence_table = folder / f"{sample}.sequence_calls.tsv"
    chunk_table.write_text(CHUNK_HEADER + "".join(row + "\n" for row in chunks))
    sequence_table.write_text(_sequences("".join(row + "\n" for row in sequences)))
    return chunk_table, sequence_table


def test_counts_calls_and_sequence_rows_worked_out_by_hand():
    calls, per_sample, sequences = _tables(_page())

    # alpha: s1 3 scored chunks (2 viral), s2 no_frame, s3 too_short (its frame unscored), s4
    # 3 scored (1 viral); beta: HOSTILE 1 scored (viral) + 1 no_frame, b2 1 scored.
    # Chunks: virus 2+1+1 = 4, others 1+2+1 = 4, no_frame 2, too_short 1 of 11.
    assert [row[:5] for row in calls] == [
        ["virus", "2", "33.3%", "4", "36.4%"],
        ["others", "2", "33.3%", "4", "36.4%"],
        ["no_frame", "1", "16.7%", "2", "18.2%"],
        ["too_short", "1", "16.7%", "1", "9.1%"],
        ["all", "6", "100.0%", "11", "100.0%"],
    ]
    # Sequences, chunks, with frames, no_frame, too_short, frames scored (2+1+3 + 2+1+1; 1+2),
    # viral chunks, then sequences virus, others, no_frame, too_short, and of low coverage
    # (alpha's s2 and s3, no chunk with frames); samples in name order
    assert per_sample == [
        ["alpha", "4", "8", "6", "1", "1", "10", "3", "1", "1", "1", "1", "2"],
        ["beta", "2", "3", "2", "1", "0", "3", "1", "1", "1", "0", "0", "0"],
        ["all samples", "6", "11", "8", "2", "1", "13", "4", "2", "2", "1", "1", "2"],
    ]
    # By sample, then call (virus first), then best virus score: length (beta's tables were
    # made without the FASTA: n/a), chunks, with frames, coverage = with frames / chunks
    # (marked low under 0.5; beta's 1 of 2 is not), viral chunks, fraction = viral / with
    # frames, best score, call
    assert sequences == [
        ["alpha", "s1", "850", "3", "3", "1.0000", "2", "0.667", "0.900", "virus"],
        ["alpha", "s4", "900", "3", "3", "1.0000", "1", "0.333", "0.550", "others"],
        ["alpha", "s2", "280", "1", "0", "0.0000 low", "0", "n/a", "n/a", "no_frame"],
        ["alpha", "s3", "120", "1", "0", "0.0000 low", "0", "n/a", "n/a", "too_short"],
        ["beta", html.escape(HOSTILE), "n/a", "2", "1", "0.5000", "1", "1.000", "0.950", "virus"],
        ["beta", "b2", "n/a", "1", "1", "1.0000", "0", "0.000", "0.450", "others"],
    ]


def _context(page: str) -> dict[str, str]:
    """The first list of the page (the one under the lead), label -> text."""
    first = re.search(r'<dl class="context">(.*?)</dl>', page, re.DOTALL).group(1)
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", first))


def test_context_holds_what_the_inputs_carry():
    page = _page()
    assert _context(page) == {
        "samples": "alpha, beta",
        "classifier": "composition_classifier",
        "embedders": "dna_composition (DNA), aa_composition (protein)",
        "chunk size": "300 bp (chunks under 150 bp, half the chunk size: too_short)",
        "minimum viral fraction": "0.5 of a sequence&#x27;s chunks with frames (every call checked against it)",
        "minimum coverage": "0.5 of a sequence&#x27;s chunks with a stop-free frame, below which it is flagged low coverage (every flag checked against it)",
    }  # fmt: skip
    lead = re.search(r'<p class="lead">(.*?)</p>', page).group(1)
    assert re.sub(r"<[^>]+>", "", lead) == (
        "6 sequences of 2 samples: 2 called virus (33.3%), 2 others; 4 scored from 13 frames in "
        "8 of 11 chunks. 1 without a stop-free frame (no_frame), 1 too short to score "
        "(too_short); 2 of low coverage (frames in under 0.5 of their chunks)."
    )
    # Without the checkpoint, nothing is made up about it
    bare = _context(_page(classifier=False))
    assert set(bare) == {"samples", "minimum viral fraction", "minimum coverage"}


def test_page_is_deterministic_self_contained_ascii_and_escaped(tmp_path):
    outputs = [tmp_path / "a" / "report.html", tmp_path / "b" / "report.html"]
    for output in outputs:
        write_prediction_report(output, *_fixtures("alpha", "beta"), CLASSIFIER, 0.5)
    page = outputs[0].read_text()
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    # Given in another order: the same page
    chunks, sequences = _fixtures("beta", "alpha")
    write_prediction_report(outputs[1], chunks, sequences[::-1], CLASSIFIER, 0.5)
    assert outputs[1].read_bytes() == outputs[0].read_bytes()

    page.encode("ascii")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert not re.search(r"https?://|@import|<script|<link|<img|<iframe", without_namespaces)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two inline SVGs must not share ids
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    assert str(tmp_path) not in page and str(ROOT) not in page  # no path of this machine


def test_hostile_sample_names_are_escaped_in_tables_and_plots(tmp_path):
    name = "<b>x$1_"
    chunks, sequences = _write(tmp_path, name, ["q_chunk_1\tvirus\t1\t0.2\t0.8"], ["q\t1\t1\t1\t0.8\tvirus"])  # fmt: skip
    write_prediction_report(tmp_path / "report.html", [chunks], [sequences])
    page = (tmp_path / "report.html").read_text()
    assert "<b>x" not in page
    assert page.count("&lt;b&gt;x$1_") >= 4  # context, both tables, the legends (literal '$')


def test_the_sequence_table_is_capped_and_says_what_is_left_out(tmp_path):
    big = [f"big{i}_chunk_1\tothers\t1\t0.9\t{i / 100:.6f}" for i in range(30)]
    big_calls = [f"big{i}\t1\t1\t0\t{i / 100:.6f}\tothers" for i in range(30)]
    tables = [
        _write(tmp_path, "big", big, big_calls),
        _write(tmp_path, "small", ["s_chunk_1\tvirus\t1\t0.1\t0.9"], ["s\t1\t1\t1\t0.9\tvirus"]),
    ]
    samples = read_samples([t[0] for t in tables], [t[1] for t in tables])
    page = render_prediction_report(samples, 0.5, max_rows=10)
    rows = _tables(page)[2]
    # The small sample whole, the big one's 9 best-scoring sequences
    assert [row[1] for row in rows] == [f"big{i}" for i in range(29, 20, -1)] + ["s"]
    assert "<b>10 of 31 sequences shown</b> (21 left out" in page
    assert "big: 9 of 30" in page and "small: 1 of" not in page
    assert "big.sequence_calls.tsv, small.sequence_calls.tsv" in page
    assert "Every sequence, by sample" in render_prediction_report(samples, 0.5, max_rows=31)


def test_rows_are_shared_so_that_every_sample_shows_some():
    assert rows_per_sample([10, 5000, 5000], 2000) == [10, 995, 995]
    assert rows_per_sample([3, 3], 2000) == [3, 3]
    assert rows_per_sample([5, 5, 5], 4) == [1, 1, 2]
    assert rows_per_sample([], 10) == []


def test_a_run_without_any_scored_chunk_says_so(tmp_path):
    chunks, sequences = _write(tmp_path, "none", ["a_chunk_1\tno_frame\t0\tNA\tNA"], ["a\t1\t0\t0\tNA\tno_frame"])  # fmt: skip
    page = render_prediction_report(read_samples([chunks], [sequences]), 0.5)
    assert "<svg" not in page and "there is no score to show" in page
    assert _tables(page)[1] == [
        ["none", "1", "1", "0", "1", "0", "0", "0", "0", "0", "1", "0", "1"]
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # Sequence calls of other sequences (another sample's table under this name)
        (lambda c, s: s.write_text(_sequences("x\t1\t1\t1\t0.900000\tvirus\n")),
         "are not the tables of one sample: 1 of its sequences have no chunk in one.chunk_calls.tsv (e.g. 'x'), the chunks of 2 sequences are not in it (e.g. 'a')"),
        (lambda c, s: s.write_text(_sequences("b\t1\t1\t0\t0.300000\tothers\na\t2\t2\t1\t0.900000\tvirus\n")),
         "they list the same sequences in another order"),
        # Another run's chunk table: counts that do not add up
        (lambda c, s: c.write_text(CHUNK_HEADER + "a_chunk_1\tvirus\t1\t0.1\t0.9\nb_chunk_1\tothers\t1\t0.7\t0.3\n"),
         "sequence 'a' does not match its chunks in"),
        # Tables made with --min-viral-fraction 1: a is others there
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.900000\tothers\nb\t1\t1\t0\t0.300000\tothers\n")),
         "sequence 'a' is called others, but 1 viral of 2 chunks with frames make it virus at a minimum viral fraction of 0.5: give the fraction the tables were made with"),
        (lambda c, s: c.write_text(CHUNK_HEADER + "a_chunk_1\tvirus\t1\tNA\tNA\n"), ":2: not a chunk calls row"),
        (lambda c, s: c.write_text(CHUNK_HEADER + "a_chunk_1\tmaybe\t1\t0.1\t0.9\n"), ":2: not a chunk calls row"),
        (lambda c, s: c.write_text(CHUNK_HEADER + "a_chunk_1\tvirus\t1\t0.1\t1.5\n"), ":2: not a chunk calls row"),
        (lambda c, s: c.write_text(CHUNK_HEADER + "a_chunk_1\tvirus\t1\t0.1\t0.9\na_chunk_1\tvirus\t1\t0.1\t0.9\n"), ":3: chunk 'a_chunk_1' is listed twice"),
        (lambda c, s: s.write_text(_sequences("a\t2\ttwo\t1\t0.9\tvirus\n")), ":2: not a sequence calls row"),
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.9\tvirus\na\t2\t2\t1\t0.9\tvirus\n")), ":3: sequence 'a' is listed twice"),
        (lambda c, s: c.write_text("chunk_id\tprediction\n"), "not a chunk calls table (no frames, max_score1, max_score2 column in the header)"),
        # A sequence calls table of an earlier version, without length and coverage
        (lambda c, s: s.write_text("sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\na\t2\t2\t1\t0.9\tvirus\n"),
         "not a sequence calls table (no length, coverage, low_coverage column in the header)"),
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.900000\tvirus\tNA\t0.5000\tno\nb\t1\t1\t0\t0.300000\tothers\n")),
         ":2: sequence 'a' has coverage 0.5000, but 2 chunks with frames of its 2 make 1.0000"),
        # Tables flagged with --min-coverage 1: a (2 of 2) would not be low even there
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.900000\tvirus\t700\t1.0000\tyes\nb\t1\t1\t0\t0.300000\tothers\n")),
         "sequence 'a' is flagged low_coverage yes, but 2 of its 2 chunks have frames (coverage 1.0000): no at a minimum coverage of 0.5; give the --min-coverage the tables were made with"),
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.9\tvirus\t7e2\t1.0000\tno\n")), ":2: not a sequence calls row"),
        (lambda c, s: s.write_text(_sequences("a\t2\t2\t1\t0.9\tvirus\tNA\t1.0000\tmaybe\n")), ":2: not a sequence calls row"),
    ],
)  # fmt: skip
def test_tables_that_do_not_belong_together_are_refused(tmp_path, change, message):
    chunks, sequences = _write(
        tmp_path, "one",
        ["a_chunk_1\tvirus\t1\t0.100000\t0.900000", "a_chunk_2\tothers\t2\t0.800000\t0.200000", "b_chunk_1\tothers\t1\t0.700000\t0.300000"],
        ["a\t2\t2\t1\t0.900000\tvirus", "b\t1\t1\t0\t0.300000\tothers"],
    )  # fmt: skip
    read_samples([chunks], [sequences])  # as written, the two belong together
    change(chunks, sequences)
    with pytest.raises(InputError) as error:
        read_samples([chunks], [sequences])
    assert message in str(error.value)


def test_samples_are_paired_by_file_name_each_once(tmp_path):
    a = _write(tmp_path / "1", "a", [], [])
    b = _write(tmp_path / "1", "b", [], [])
    again = _write(tmp_path / "2", "a", [], [])
    with pytest.raises(InputError, match="sample 'b' has sequence calls but no chunk calls: give both"):  # fmt: skip
        read_samples([a[0]], [a[1], b[1]])
    with pytest.raises(InputError, match="sample 'a' has chunk calls but no sequence calls"):
        read_samples([a[0], b[0]], [b[1]])
    with pytest.raises(InputError, match=r"sample 'a' is given twice: .*1/a\.chunk_calls\.tsv and"):
        read_samples([a[0], again[0]], [a[1]])
    with pytest.raises(InputError, match=r"not named SAMPLE\.sequence_calls\.tsv, as the classify"):
        read_samples([a[0]], [a[0]])
    # A sample whose input was empty of sequences: header-only tables, an empty page section
    assert [sample.name for sample in read_samples([a[0], b[0]], [b[1], a[1]])] == ["a", "b"]


def test_the_bin_script_writes_the_page_and_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # one date for the script's page and _page's
    chunks, sequences = _fixtures("alpha", "beta")
    args = [arg for pair in zip(["--chunk-calls"] * 2, chunks, strict=True) for arg in pair]
    args += [arg for pair in zip(["--sequence-calls"] * 2, sequences, strict=True) for arg in pair]
    result = run_script("prediction_report.py", *args, "--classifier", CLASSIFIER,
                        "--min-viral-fraction", "0.5", "--output", tmp_path / "report.html")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 samples, 6 sequences: 2 called virus" in result.stderr
    assert (tmp_path / "report.html").read_text() == _page()

    failed = run_script("prediction_report.py", *args, "--min-viral-fraction", "0.9",
                        "--output", tmp_path / "other.html")  # fmt: skip
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 1 and len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: ") and "give the fraction the tables were made with" in lines[0]  # fmt: skip
    assert not (tmp_path / "other.html").exists()


@needs_chromium
def test_report_plots_are_visible_in_headless_chromium(tmp_path):
    write_prediction_report(tmp_path / "report.html", *_fixtures("alpha", "beta"), CLASSIFIER)
    coloured, ink = browser_pixels(tmp_path / "report.html", window="1200,1600")
    # The histogram bars (one colour per sample) are the only strongly coloured areas.
    assert coloured > 10_000, "no coloured plots rendered"
    assert ink > 0.02
