"""Prediction results a user can trust and file.

- coverage: a sequence called from few of its chunks (a stop-recoding phage, called
  host from 22 of its 270 chunks) is flagged ``low_coverage``, its call unchanged;
- length: each sequence's bases, read from the input, never guessed from its chunks;
- the prefix of ``virnucpro predict``: the input's file name by default, and outputs of
  another input under the same prefix are not replaced unless asked;
- the demo classifier says it is one, on stderr and in the report;
- the provenance block that ends the report: version, date, parameters, models with
  revision and weights digest, the classifier's id.

Everything runs in this process (the composition embedders take a second for the
mixed example) but one command, which checks the refusal as the user sees it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from command_runs import DEMO, MIXED, fasta_records, snapshot
from conftest import ASSETS, ROOT, write_fasta

from virnucpro import __version__
from virnucpro.classify.calling import (
    Chunk,
    call_chunks,
    call_sequences,
    coverage_text,
    is_low_coverage,
)
from virnucpro.classify.classifier import describe_classifier
from virnucpro.classify.prediction_report import (
    NO_CLASSIFIER,
    read_samples,
    render_prediction_report,
    write_prediction_report,
)
from virnucpro.classify.prediction_tables import classify_features, write_predictions
from virnucpro.errors import InputError
from virnucpro.predict import default_prefix, predict_fasta

NO_FRAME_FASTA = ASSETS / "no_frame.fasta"
NO_FRAME_REPORT = ASSETS / "no_frame.frames.tsv"
REPORT_DATA = ROOT / "modules" / "local" / "prediction_report" / "tests" / "data"
MAKER = ROOT / "scripts" / "make_test_classifier.sh"
# 2023-11-14 22:13:20 UTC
EPOCH, DAY = "1700000000", "2023-11-14"


def _rows(path: Path) -> dict[str, dict[str, str]]:
    """A sequence calls table, sequence id -> its row."""
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return {line.split("\t")[0]: dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]}  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _block(page: str) -> dict[str, str]:
    """The provenance block of a page, label -> text (tags removed)."""
    block = page.split("<h2>Provenance</h2>", 1)[1]
    rows = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block)
    return {label: re.sub(r"<[^>]+>", "", text) for label, text in rows}


def _classifier(folder: Path, change) -> Path:
    """A copy of the demo classifier with ``change(config)`` applied to its classifier.json."""
    shutil.copytree(DEMO, folder)
    config = json.loads((folder / "classifier.json").read_text())
    change(config)
    (folder / "classifier.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def _predict(fasta: Path, out: Path, **options) -> None:
    predict_fasta(fasta, DEMO, out, device="cpu", **options)


# --------------------------------------------------------------------------- coverage


def test_coverage_and_the_low_coverage_flag_worked_by_hand():
    # The stop-recoding phage: frames in 22 of its 270 chunks
    assert coverage_text(22, 270) == "0.0815" and is_low_coverage(22, 270, 0.5)
    # Exactly at the minimum is not low, the minimum taken as written (0.28 x 25 is
    # 7.000000000000001 in floating point: 7 of 25 chunks still reach 0.28)
    assert coverage_text(135, 270) == "0.5000" and not is_low_coverage(135, 270, 0.5)
    assert not is_low_coverage(7, 25, 0.28) and is_low_coverage(6, 25, 0.28)
    # No chunk with frames: coverage 0, low at any minimum above 0
    assert coverage_text(0, 3) == "0.0000" and is_low_coverage(0, 3, 0.5)
    assert not is_low_coverage(0, 3, 0.0)
    with pytest.raises(InputError, match=r"minimum coverage must be between 0 and 1, got 1\.5"):
        call_sequences([], 0.5, 1.5)


def _phage_sample() -> tuple[list[Chunk], list[str], np.ndarray]:
    """A phage of 270 chunks with frames in 22 (each scored others), a host of 2 chunks
    with frames, a sequence with frames in 1 of its 2 chunks and one without any frame."""
    chunks = [Chunk(f"phage_chunk_{i}", 300, ("F1",) if i <= 22 else ()) for i in range(1, 271)]
    chunks += [Chunk(f"host_chunk_{i}", 300, ("R2",)) for i in (1, 2)]
    chunks += [Chunk("half_chunk_1", 300, ("F3",)), Chunk("half_chunk_2", 300)]
    chunks += [Chunk("bare_chunk_1", 300)]
    frames = [frame for chunk in chunks for frame in chunk.frame_ids]
    scores = np.tile([0.8, 0.2], (len(frames), 1))
    scores[-1] = [0.1, 0.9]  # half's frame: virus
    return chunks, frames, scores


def test_a_stop_recoding_phage_is_flagged_low_coverage_and_keeps_its_call(tmp_path, caplog):
    chunks, frames, scores = _phage_sample()
    caplog.set_level(logging.WARNING)
    write_predictions(tmp_path / "a", "s", chunks, frames, scores, 300, None)
    rows = _rows(tmp_path / "a" / "s.sequence_calls.tsv")
    columns = ("chunks", "chunks_with_frames", "call", "length", "coverage", "low_coverage")
    assert {name: tuple(row[c] for c in columns) for name, row in rows.items()} == {
        "phage": ("270", "22", "others", "NA", "0.0815", "yes"),
        "host": ("2", "2", "others", "NA", "1.0000", "no"),
        "half": ("2", "1", "virus", "NA", "0.5000", "no"),  # at the minimum: not low
        "bare": ("1", "0", "no_frame", "NA", "0.0000", "yes"),
    }
    # One warning for the scored sequences called from few chunks (not 'bare', never called)
    assert "1 of 4 sequences were called from under 0.5 of their chunks" in caplog.text
    assert "'phage': others from 22 of its 270 chunks" in caplog.text
    # The flag never changes a call: at a minimum of 0.05 only the flag differs
    write_predictions(tmp_path / "b", "s", chunks, frames, scores, 300, None, min_coverage=0.05)
    other = _rows(tmp_path / "b" / "s.sequence_calls.tsv")
    assert other["phage"] == {**rows["phage"], "low_coverage": "no"}
    assert [row["call"] for row in other.values()] == [row["call"] for row in rows.values()]


def test_the_report_counts_low_coverage_sequences_and_checks_the_flag(tmp_path):
    chunks, frames, scores = _phage_sample()
    write_predictions(tmp_path, "s", chunks, frames, scores, 300, None)
    tables = [tmp_path / "s.chunk_calls.tsv"], [tmp_path / "s.sequence_calls.tsv"]
    page = render_prediction_report(read_samples(*tables, 0.5, 0.5), 0.5, min_coverage=0.5)
    per_sample = re.findall(r"<td>(.*?)</td>", page.split("<h2>Per sample</h2>")[1].split("</table>")[0])  # fmt: skip
    assert per_sample[-1] == "2"  # phage and bare
    assert "<b>Low coverage</b> (2 sequences): under 0.5 of the sequence" in page
    assert "called others from 22 of its 270 chunks. The flag never changes the call" in page
    phage = re.search(r"<td>phage</td>(.*?)</tr>", page).group(1)
    assert '<td>0.0815 <span class="low-coverage">low</span></td>' in phage
    # Tables flagged at another minimum than the report's
    with pytest.raises(InputError) as error:
        read_samples(*tables, 0.5, 0.05)
    assert (
        "sequence 'phage' is flagged low_coverage yes, but 22 of its 270 chunks have frames "
        "(coverage 0.0815): no at a minimum coverage of 0.05; give the --min-coverage the "
        "tables were made with"
    ) in str(error.value)


# --------------------------------------------------------------------------- length


def test_the_length_is_that_of_each_input_sequence_in_classify(tmp_path):
    lengths = {name: str(len(sequence)) for name, sequence in fasta_records(NO_FRAME_FASTA)}
    assert lengths == {"stops_a": "400", "empty": "0", "stops_b": "200"}
    classify_features(DEMO, [], [NO_FRAME_REPORT], tmp_path, "nf", NO_FRAME_FASTA)
    rows = _rows(tmp_path / "nf.sequence_calls.tsv")
    assert {name: row["length"] for name, row in rows.items()} == lengths
    # Without the FASTA the length is not known (chunks of 300 and 152 bp are cut from 302
    # and from 303 bases alike): NA, not a guess
    classify_features(DEMO, [], [NO_FRAME_REPORT], tmp_path / "bare", "nf")
    rows = _rows(tmp_path / "bare" / "nf.sequence_calls.tsv")
    assert {row["length"] for row in rows.values()} == {"NA"}


def test_virnucpro_predict_names_its_outputs_after_the_input_and_records_the_run(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    records = fasta_records(MIXED)[:4]
    fasta = tmp_path / "genomes.fasta.gz"
    fasta.write_bytes(gzip.compress("".join(f">{n}\n{s}\n" for n, s in records).encode(), mtime=0))
    caplog.set_level(logging.WARNING)
    _predict(fasta, tmp_path / "out")
    names = ("chunk_calls.tsv", "frame_scores.tsv", "report.html", "run.json")
    names += ("sequence_calls.tsv", "viral.fasta")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        f"genomes.{name}" for name in names
    ]
    rows = _rows(tmp_path / "out" / "genomes.sequence_calls.tsv")
    assert {name: row["length"] for name, row in rows.items()} == {
        name: str(len(sequence)) for name, sequence in records
    }
    run = json.loads((tmp_path / "out" / "genomes.run.json").read_text())
    assert run == {
        "format": "virnucpro-predict-run/1",
        "input": str(fasta.resolve()),
        "input_sha256": _sha256(fasta),
        "classifier": str(DEMO.resolve()),
        "classifier_id": _sha256(DEMO / "model.safetensors"),
        "parameters": {
            "min-viral-fraction": "0.5", "min-coverage": "0.5", "chunk-size": "300",
            "precision": "fp32", "device": "cpu", "token-budget": "16384", "attention": "auto",
        },
        "models": {
            "dna": {"embedder": "dna_composition", "model_id": "none", "revision": "none", "weights_sha256": "none"},
            "protein": {"embedder": "aa_composition", "model_id": "none", "revision": "none", "weights_sha256": "none"},
        },
        "tool_version": __version__,
        "date": DAY,
    }  # fmt: skip
    # The report's block says the same, with the models predict loaded
    block = _block((tmp_path / "out" / "genomes.report.html").read_text())
    assert block["Date"] == DAY and block["VirNucPro version"] == __version__
    assert block["Parameters"] == (
        "min-viral-fraction=0.5 min-coverage=0.5 chunk-size=300 precision=fp32 device=cpu "
        "token-budget=16384 attention=auto"
    )
    assert block["DNA model"] == "dna_composition (none @ none; weights sha256 none)"
    assert block["Classifier"].startswith(f"composition_classifier, id {run['classifier_id']}")
    assert "is a demo classifier: model-free composition demo" in caplog.text


# --------------------------------------------------------------------------- the prefix


def test_the_default_prefix_is_the_input_file_name_without_fasta_and_gzip_extensions():
    assert default_prefix(Path("data/genomes.fasta.gz")) == "genomes"
    assert [default_prefix(name) for name in ("a.FNA", "b.fa", "c.fas.gz", "d.v2.fasta")] == [
        "a", "b", "c", "d.v2",
    ]  # fmt: skip
    assert default_prefix("reads.txt") == "reads.txt"  # not a FASTA extension: kept
    for name, shown in (("my genomes.fasta", "'my genomes'"), (".fasta", "''")):
        with pytest.raises(InputError) as error:
            default_prefix(name)
        assert shown in str(error.value) and str(error.value).endswith("give --prefix")


def test_an_input_that_cannot_be_read_is_refused_as_such_before_its_digest(tmp_path):
    (tmp_path / "folder.fasta").mkdir()
    for name, words in (("missing.fasta", ": no such file"), ("folder.fasta", ": is a directory")):
        with pytest.raises(InputError, match=words):
            _predict(tmp_path / name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _two_inputs(folder: Path) -> tuple[Path, Path]:
    records = fasta_records(MIXED)
    return (
        write_fasta(folder / "first.fasta", records[:2]),
        write_fasta(folder / "second.fasta", records[2:4]),
    )


def test_outputs_of_another_input_are_replaced_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, second = _two_inputs(tmp_path)
    out = tmp_path / "out"
    _predict(first, out, prefix="sample")
    before = snapshot(out)
    assert len(before) == 6
    with pytest.raises(InputError) as error:
        _predict(second, out, prefix="sample")
    message = str(error.value)
    assert f"hold the predictions of {first.resolve()} (sha256 {_sha256(first)[:12]})" in message
    assert f"not of {second} (sha256 {_sha256(second)[:12]})" in message
    assert message.endswith("give another --prefix or --output-dir, or --overwrite to replace them")  # fmt: skip
    assert snapshot(out) == before
    # The same input (by content, wherever it lies) replaces its own outputs
    _predict(first, out, prefix="sample")
    assert snapshot(out) == before
    _predict(Path(shutil.copy(first, tmp_path / "copy.fasta")), out, prefix="sample")
    # Asked to, another input's outputs are replaced, and the record says whose they are now
    _predict(second, out, prefix="sample", overwrite=True)
    assert json.loads((out / "sample.run.json").read_text())["input"] == str(second.resolve())
    # Another prefix in the same folder is another set of outputs
    _predict(first, out)
    assert {"first.run.json", "sample.run.json"} <= {path.name for path in out.iterdir()}


@pytest.mark.parametrize(
    ("record", "state"),
    [(None, "missing"), ("not json\n", "unreadable"), ('{"format": "other"}\n', "unreadable")],
)
def test_outputs_without_a_run_record_count_as_another_inputs(tmp_path, record, state):
    """Outputs of an earlier version (no run record) or with a record that cannot be read."""
    first, _ = _two_inputs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "first.sequence_calls.tsv").write_text("earlier\n")
    if record is not None:
        (out / "first.run.json").write_text(record)
    before = snapshot(out)
    with pytest.raises(InputError) as error:
        _predict(first, out)
    assert f"hold the predictions of an input they do not record (first.run.json {state}" in str(
        error.value
    )
    assert f"not of {first} (sha256 {_sha256(first)[:12]})" in str(error.value)
    assert snapshot(out) == before


def test_the_refusal_is_one_error_line_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    """``virnucpro predict`` as the user runs it, in this process (a command costs seconds)."""
    from virnucpro.cli.common import run_app
    from virnucpro.cli.predict import app  # the command alone: the others' imports cost seconds

    first, second = _two_inputs(tmp_path)
    _predict(first, tmp_path / "out", prefix="sample")
    before = snapshot(tmp_path)
    monkeypatch.setattr(sys, "argv", [
        "virnucpro", str(second), "--classifier", str(DEMO), "--device", "cpu",
        "--output-dir", str(tmp_path / "out"), "--prefix", "sample",
    ])  # fmt: skip
    capsys.readouterr()
    with pytest.raises(SystemExit) as status:
        run_app(app)
    stderr = capsys.readouterr().err
    assert status.value.code == 1 and stderr.count("error: ") == 1
    [line] = stderr.splitlines()
    assert line.startswith("error: ") and str(first.resolve()) in line and str(second) in line
    assert "--overwrite" in line
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- the demo classifier


def test_the_maker_script_writes_the_demo_key_of_the_bundled_classifier(tmp_path):
    """scripts/make_test_classifier.sh marks the classifier train_classifier.py wrote."""
    config = json.loads((DEMO / "classifier.json").read_text())
    del config["demo"]
    trained = tmp_path / "classifier.json"
    trained.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    step = re.search(r"<<'PY'\n(.*?)\nPY\n", MAKER.read_text(), re.DOTALL).group(1)
    subprocess.run([sys.executable, "-", trained], input=step, text=True, check=True)
    assert trained.read_bytes() == (DEMO / "classifier.json").read_bytes()
    demo = describe_classifier(DEMO).demo
    assert demo.startswith("model-free composition demo") and "validation accuracy 0.58" in demo
    assert demo.endswith("not for real calls")


def test_the_demo_classifier_warns_in_the_log_and_the_report(tmp_path, caplog):
    real = _classifier(tmp_path / "real", lambda config: config.pop("demo"))
    caplog.set_level(logging.WARNING)
    for name, classifier in (("demo", DEMO), ("real", real)):
        classify_features(classifier, [], [NO_FRAME_REPORT], tmp_path / name, "nf", NO_FRAME_FASTA)
        tables = [tmp_path / name / "nf.chunk_calls.tsv"], [tmp_path / name / "nf.sequence_calls.tsv"]  # fmt: skip
        write_prediction_report(tmp_path / name / "report.html", *tables, classifier)
    warnings = [record.getMessage() for record in caplog.records if "demo" in record.getMessage()]
    assert warnings == [
        f"{DEMO} is a demo classifier: {describe_classifier(DEMO).demo}"
    ]  # the real one: none
    page = (tmp_path / "demo" / "report.html").read_text()
    caveat = '<p class="caveat">composition_classifier is a demo classifier: model-free composition demo'  # fmt: skip
    # At the top, under the lead, and in the provenance block
    assert page.count(caveat) == 2 and page.index(caveat) < page.index("<h2>Calls</h2>")
    assert "caveat" not in (tmp_path / "real" / "report.html").read_text().split("</style>")[1]


@pytest.mark.parametrize("demo", ["", 3])
def test_a_demo_entry_must_be_a_sentence(tmp_path, demo):
    folder = _classifier(tmp_path / "c", lambda config: config.update(demo=demo))
    with pytest.raises(InputError, match=r"classifier\.json: invalid demo"):
        describe_classifier(folder)


# --------------------------------------------------------------------------- provenance


def test_the_report_ends_with_its_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    models = {
        "dna": {"model_id": "org/dna-model", "revision": "0123abc", "weights_sha256": "d" * 64},
        "protein": {"model_id": "org/protein-model", "revision": "", "weights_sha256": "e" * 64},
    }
    recorded = _classifier(tmp_path / "trained", lambda config: config.update(models=models))
    tables = [REPORT_DATA / "alpha.chunk_calls.tsv"], [REPORT_DATA / "alpha.sequence_calls.tsv"]
    write_prediction_report(tmp_path / "a.html", *tables, recorded, 0.5, min_coverage=0.5)
    page = (tmp_path / "a.html").read_text()
    # The last section of the page
    last = page.split("<h2>Provenance</h2>", 1)
    assert len(last) == 2 and "<h2>Sequences</h2>" in last[0] and "<h2>" not in last[1]
    assert _block(page) == {
        "VirNucPro version": __version__,
        "Date": DAY,
        "Parameters": "min-viral-fraction=0.5 min-coverage=0.5 chunk-size=300 precision=fp32",
        "DNA model": f"dna_composition (org/dna-model @ 0123abc; weights sha256 {'d' * 64})",
        "Protein model": f"aa_composition (org/protein-model @ not recorded; weights sha256 {'e' * 64})",
        "Classifier": f"trained, id {_sha256(recorded / 'model.safetensors')} (SHA-256 of its model.safetensors)",
    }  # fmt: skip
    # The demo records no models, and its composition embedders have none
    write_prediction_report(tmp_path / "b.html", *tables, DEMO, 0.5)
    block = _block((tmp_path / "b.html").read_text())
    assert block["DNA model"] == "dna_composition (no model: computed from the sequence alone)"
    # Without --classifier, what the tables tell and no more
    write_prediction_report(tmp_path / "c.html", *tables, None, 0.5, min_coverage=0.5)
    assert _block((tmp_path / "c.html").read_text()) == {
        "VirNucPro version": __version__,
        "Date": DAY,
        "Parameters": "min-viral-fraction=0.5 min-coverage=0.5",
        "Classifier": NO_CLASSIFIER,
    }


def test_the_provenance_date_is_that_of_source_date_epoch_or_today(tmp_path, monkeypatch):
    tables = [REPORT_DATA / "alpha.chunk_calls.tsv"], [REPORT_DATA / "alpha.sequence_calls.tsv"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    write_prediction_report(tmp_path / "a.html", *tables)
    assert _block((tmp_path / "a.html").read_text())["Date"] == "1970-01-01"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    write_prediction_report(tmp_path / "b.html", *tables)
    assert re.fullmatch(r"20\d\d-\d\d-\d\d", _block((tmp_path / "b.html").read_text())["Date"])


def test_call_sequences_gives_every_sequence_a_coverage():
    chunks = [Chunk("a_chunk_1", 300, ("F1",)), Chunk("a_chunk_2", 300)]
    calls = call_sequences(call_chunks(chunks, ["a_chunk_1F1"], np.array([[0.2, 0.8]]), 300))
    assert [(call.coverage, call.low_coverage, call.call) for call in calls] == [
        (0.5, False, "virus")
    ]


def test_a_language_model_the_classifier_does_not_record_is_said_to_be_unrecorded(tmp_path):
    # a converted legacy classifier: DNABERT-S and ESM2-3B features, no models recorded
    legacy = _classifier(
        tmp_path / "legacy",
        lambda config: config.update(embedders={"dna": "dnabert_s", "protein": "esm2_3b"}),
    )
    tables = [REPORT_DATA / "alpha.chunk_calls.tsv"], [REPORT_DATA / "alpha.sequence_calls.tsv"]
    write_prediction_report(tmp_path / "a.html", *tables, legacy, 0.5)
    block = _block((tmp_path / "a.html").read_text())
    assert block["DNA model"] == "dnabert_s (model, revision and weights not recorded)"
    assert block["Protein model"] == "esm2_3b (model, revision and weights not recorded)"
