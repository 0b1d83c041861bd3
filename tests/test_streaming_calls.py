"""Predict mode's tables and page are made as the calls stream past: the scratch
database joins chunks, frames and sequences on disk, the tally keeps counts, bins and
the first sequences of the page, and memory holds a batch, not the sample."""

from __future__ import annotations

import random
import tempfile
import tracemalloc

import numpy as np
import pytest

from virnucpro.classify import call_summary
from virnucpro.classify.call_store import CallStore, OrderedLookup
from virnucpro.classify.call_summary import BINS, CallTally, page_order
from virnucpro.classify.calling import Chunk, SequenceCall
from virnucpro.classify.prediction_report import read_samples, render_prediction_report
from virnucpro.classify.prediction_tables import add_reports, write_calls, write_predictions
from virnucpro.errors import InputError
from virnucpro.files.digests import sequence_digest
from virnucpro.files.scratch_database import scratch_database
from virnucpro.files.sequence_files import read_fasta

CHUNK_HEADER = "chunk_id\tprediction\tframes\tmax_score1\tmax_score2\n"
SEQUENCE_HEADER = (
    "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\t"
    "length\tcoverage\tlow_coverage\n"
)


def _random_calls(count: int, seed: int) -> list[SequenceCall]:
    """Calls with many ties: scores on a coarse grid, unscored calls among them."""
    rng = random.Random(seed)
    calls = []
    for index in range(count):
        call = rng.choice(["virus", "others", "no_frame", "too_short"])
        scored = call in ("virus", "others")
        with_frames = rng.randint(1, 3) if scored else 0
        score = rng.choice([0.25, 0.5, 0.75]) if scored else float("nan")
        viral = rng.randint(0, with_frames)
        calls.append(SequenceCall(f"s{index}", 3, with_frames, viral, score, call, False))
    return calls


@pytest.mark.parametrize("kept", [0, 1, 7, 50, 400])
def test_the_first_sequences_kept_are_those_a_full_sort_gives(kept):
    calls = _random_calls(300, seed=kept)
    tally = CallTally("s", kept)
    for call in calls:
        tally.add_sequence(call)
    # stable: among equal keys, the earlier call first, as sorted() keeps them
    assert tally.summary().first == sorted(calls, key=page_order)[:kept]


def test_scores_are_binned_in_batches_as_numpy_bins_them_all(monkeypatch):
    monkeypatch.setattr(call_summary, "_BATCH", 7)
    values = [0.0, 0.05, 0.049999, 1.0, 0.95, 0.5, *np.random.default_rng(1).random(40)]
    tally = CallTally("s")
    for value in values:
        tally.sequence_scores.add(float(value))
    assert tally.summary().sequence_scores.tolist() == np.histogram(values, BINS)[0].tolist()
    assert tally.summary().sequence_scores.sum() == len(values)  # 1.0 falls in the last bin


def test_a_page_cannot_show_more_rows_than_the_tally_kept():
    tally = CallTally("s", max_rows=2)
    for call in _random_calls(5, seed=3):
        tally.add_sequence(call)
    render_prediction_report([tally.summary()], 0.5, max_rows=2)
    with pytest.raises(ValueError, match="keeps 2 rows, not 3"):
        render_prediction_report([tally.summary()], 0.5, max_rows=3)


def test_chunk_calls_of_a_sequence_apart_are_refused(tmp_path):
    chunks, sequences = tmp_path / "s.chunk_calls.tsv", tmp_path / "s.sequence_calls.tsv"
    chunks.write_text(
        CHUNK_HEADER + "a_chunk_1\tvirus\t1\t0.100000\t0.900000\n"
        "b_chunk_1\tothers\t1\t0.700000\t0.300000\na_chunk_2\tvirus\t1\t0.200000\t0.800000\n"
    )
    sequences.write_text(
        SEQUENCE_HEADER + "a\t1\t1\t1\t0.900000\tvirus\tNA\t1.0000\tno\n"
        "b\t1\t1\t0\t0.300000\tothers\tNA\t1.0000\tno\n"
    )
    with pytest.raises(InputError, match="the chunks of sequence 'a' are not together"):
        read_samples([chunks], [sequences])


def test_chunks_of_a_sequence_apart_in_the_reports_are_refused(tmp_path):
    chunks = [Chunk("a_chunk_1", 300, ("F1",)), Chunk("b_chunk_1", 300), Chunk("a_chunk_2", 300)]
    with pytest.raises(InputError, match="the chunks of sequence 'a' are not together in the"):
        write_predictions(tmp_path, "s", chunks, ["a_chunk_1F1"], np.array([[0.2, 0.8]]), 300, None)
    assert list(tmp_path.iterdir()) == []


def test_the_scratch_database_lives_in_tmpdir_and_goes_with_the_run(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []
    with scratch_database() as connection:
        seen = [path.name for path in scratch.iterdir()]
        connection.execute("CREATE TABLE t (x)")
    assert len(seen) == 1 and seen[0].startswith("virnucpro-")
    write_predictions(tmp_path / "out", "s", [Chunk("a_chunk_1", 300)], [], np.empty((0, 2)), 300, None)  # fmt: skip
    assert list(scratch.iterdir()) == []


def _peak_while_writing(sequences: int, folder) -> int:
    """Python's peak traced memory of write_calls over ``sequences`` two-chunk sequences
    with a frame each, the store filled beforehand from generators."""
    with scratch_database() as connection:
        store = CallStore(connection)
        store.add_chunks(
            (Chunk(f"r{i}_chunk_{k}", 300, ("F1",)), "report")
            for i in range(sequences)
            for k in (1, 2)
        )
        for start in range(0, sequences, 5000):
            ids = [f"r{i}_chunk_{k}F1" for i in range(start, start + 5000) for k in (1, 2)]
            scores = np.tile(np.array([[0.25, 0.75]], dtype=np.float32), (len(ids), 1))
            store.add_frames(ids, scores, "features")
        tracemalloc.start()
        try:
            write_calls(store, folder, "s", 300, None)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.mark.slow
def test_writing_the_tables_holds_a_batch_not_the_sample(tmp_path):
    small, large = (
        _peak_while_writing(5000, tmp_path / "a"),
        _peak_while_writing(50000, tmp_path / "b"),
    )
    # Held per sequence before: chunk and sequence calls, ids, scores, about 1.5 KB; now at
    # most a batch of scores to bin and of lengths, whatever the sample's size
    assert large - small < 45000 * 100, (small, large)


def test_ordered_lookup_finds_names_in_any_order_and_rows_added_later():
    with scratch_database() as connection:
        connection.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, id TEXT UNIQUE, v INTEGER)")
        connection.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(f"r{i}", i) for i in range(100)])  # fmt: skip
        lookup = OrderedLookup(connection, "t", "v")
        wanted = ["r0", "r1", "r5", "r99", "r2", "r3", "x", "r40", "r41"]
        assert [None if (row := lookup.find(name)) is None else row[2] for name in wanted] == [
            0, 1, 5, 99, 2, 3, None, 40, 41,
        ]  # fmt: skip
        connection.execute("INSERT INTO t (id, v) VALUES ('late', 7)")
        assert lookup.find("r99")[2] == 99 and lookup.find("late")[2] == 7


def test_inputs_in_other_orders_give_the_same_tables(tmp_path):
    rng = random.Random(5)
    records = [(f"s{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(200, 600)))) for i in range(60)]  # fmt: skip
    fasta = tmp_path / "in.fasta"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    chunks, frames = [], []
    for name, sequence in records:
        pieces = [sequence[:300], sequence[300:]] if len(sequence) > 300 else [sequence]
        for index, piece in enumerate(pieces, start=1):
            labels = tuple(rng.sample(["F1", "F2", "R1", "R3"], rng.randint(0, 2)))
            chunks.append(Chunk(f"{name}_chunk_{index}", len(piece), tuple(sorted(labels))))  # fmt: skip
            frames += [f"{name}_chunk_{index}{label}" for label in sorted(labels)]
    scores = np.array([[rng.random(), rng.random()] for _ in frames])
    write_predictions(tmp_path / "a", "s", chunks, frames, scores, 300, fasta)
    # frames and FASTA records in other orders: the same tables, every length found
    order = list(range(len(frames)))
    rng.shuffle(order)
    shuffled = tmp_path / "shuffled.fasta"
    shuffled.write_text("".join(f">{n}\n{q}\n" for n, q in rng.sample(records, len(records))))
    write_predictions(tmp_path / "b", "s", chunks, [frames[i] for i in order], scores[order], 300, shuffled)  # fmt: skip
    # the viral FASTA keeps the input's order: the same records
    viral = [sorted(read_fasta(tmp_path / side / "s.viral.fasta")) for side in ("a", "b")]
    assert viral[0] == viral[1] and viral[0]
    for name in ("frame_scores.tsv", "chunk_calls.tsv", "sequence_calls.tsv"):
        assert (tmp_path / "a" / f"s.{name}").read_text() == (
            tmp_path / "b" / f"s.{name}"
        ).read_text()
    rows = (tmp_path / "b" / "s.sequence_calls.tsv").read_text().splitlines()[1:]
    assert [int(row.split("\t")[6]) for row in rows] == [len(q) for _, q in records]


def test_chunks_of_another_size_are_refused_in_any_order(tmp_path):
    """Chunks cut at 300 bp, listed sorted by name (chunk_1, chunk_10, chunk_11, chunk_2),
    for a 500 bp classifier."""
    chunks = sorted(
        (Chunk(f"a_chunk_{i}", 300 if i < 12 else 150, ("F1",)) for i in range(1, 13)),
        key=lambda chunk: chunk.id,
    )
    frames = [f"{chunk.id}F1" for chunk in chunks]
    with pytest.raises(InputError, match="chunk 'a_chunk_1' has 300 bp: its chunks were cut at another size"):  # fmt: skip
        write_predictions(tmp_path, "s", chunks, frames, np.full((12, 2), 0.5), 500, None)


def test_a_score_that_is_not_a_number_is_refused(tmp_path):
    chunks = [Chunk("a_chunk_1", 300, ("F1", "R1"))]
    with pytest.raises(InputError, match="frame 'a_chunk_1R1' has no finite score"):
        write_predictions(tmp_path, "s", chunks, ["a_chunk_1F1", "a_chunk_1R1"], np.array([[0.2, 0.8], [np.nan, 0.5]]), 300, None)  # fmt: skip


def test_a_longer_sequence_under_a_reported_name_is_refused(tmp_path):
    sequence = "".join(random.Random(3).choice("ACGT") for _ in range(600))
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">a\n{sequence}\n")
    # The report was made from the first 300 bp only: one chunk, its digest right
    chunks = [Chunk("a_chunk_1", 300, (), sequence_digest(sequence[:300]))]
    with pytest.raises(InputError, match=r"its chunk 'a_chunk_2' \(300 bp\) is not in the report"):
        write_predictions(tmp_path / "out", "s", chunks, [], np.empty((0, 2)), 300, fasta)


def test_a_frames_report_listing_a_frame_twice_is_refused(tmp_path):
    report = tmp_path / "frames.tsv"
    report.write_text(f"chunk_id\tlength\tframes\tsha256\na_chunk_1\t300\tF1,F1\t{'0' * 64}\n")
    with scratch_database() as connection, pytest.raises(InputError, match=":2: not a frames report row"):  # fmt: skip
        add_reports(CallStore(connection), [report])
