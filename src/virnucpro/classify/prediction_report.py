"""The predict-mode summary: one self-contained HTML page of a run's calls.

It reads what the classify step wrote for each sample, ``{sample}.chunk_calls.tsv``
and ``{sample}.sequence_calls.tsv``, and shows the counts per sample, the calls,
the distribution of the virus scores and the per-sequence table. The two tables
of a sample must belong together: the sequence calls are worked out again from
the chunk calls (with the run's minimum viral fraction and minimum coverage) and
must be those of the file, so that a table of another sample or run, or of
another fraction or coverage, is an error rather than a wrong page. The page
ends with its provenance (``virnucpro.report_provenance``): version, date,
parameters, the classifier's models and id, and the demo caveat of a demo
classifier, also shown at the top. Self-contained and byte-identical for the
same tables on the same day (or with ``SOURCE_DATE_EPOCH``): see
``virnucpro.html_page``. On request the per-sample counts also go to a table for
the pipeline's MultiQC report, beside the page (``calls_multiqc``).
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import NoReturn

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from virnucpro.classify.call_summary import (
    BINS,
    DEFAULT_MAX_ROWS,
    CallSummary,
    CallTally,
    pooled,
)
from virnucpro.classify.calling import (
    CALLS,
    DEFAULT_MIN_COVERAGE,
    OTHERS,
    TOO_SHORT,
    VIRUS,
    ChunkCall,
    SequenceCall,
    coverage_text,
    sequence_call,
    sequence_of,
)
from virnucpro.classify.calls_multiqc import calls_table
from virnucpro.classify.classifier import MODALITIES, Classifier, describe_classifier
from virnucpro.classify.prediction_tables import read_chunk_calls, read_sequence_calls, yes_no
from virnucpro.embed.embedders.registry import EMBEDDERS
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CHUNK_CALLS, CLASSIFIER_WEIGHTS, SEQUENCE_CALLS
from virnucpro.files.digests import file_digest
from virnucpro.files.scratch_database import NameSet, scratch_database
from virnucpro.html_page import (
    RC,
    context_list,
    html_page,
    html_table,
    mpl_text,
    svg_element,
    table_row,
)
from virnucpro.multiqc_content import CALLS_SECTION
from virnucpro.preprocess.chunking import minimum_length
from virnucpro.preprocess.frames import NO_FRAME
from virnucpro.report_provenance import (
    MERGED_ROLES,
    NOT_RECORDED,
    ModelUsed,
    Provenance,
    models_of,
)

log = logging.getLogger(__name__)

CHUNK_SUFFIX = f".{CHUNK_CALLS.name}"
SEQUENCE_SUFFIX = f".{SEQUENCE_CALLS.name}"
# More samples than colours in the histograms' stack: one pooled bar instead.
MAX_STACKED = 8
CSS = """
.call-virus { color: #b42318; font-weight: 600; }
.call-no_frame, .call-too_short { color: #6b7280; }
tr.total td { font-weight: 600; background: #eef1f5; }
table.calls td:last-child, table.calls th:last-child { text-align: left; white-space: normal; }
table.sequences td:nth-child(2), table.sequences th:nth-child(2) { text-align: left; }
.low-coverage { color: #b45309; font-weight: 600; }
"""


# --- Reading and checking the tables


def _named(paths: Iterable[str | os.PathLike[str]], suffix: str) -> dict[str, Path]:
    """Sample name -> table, the name read from the file name as the classify step writes it."""
    found: dict[str, Path] = {}
    for path in map(Path, paths):
        sample = path.name.removesuffix(suffix)
        if sample in ("", path.name):
            raise InputError(f"{path}: not named SAMPLE{suffix}, as the classify step names it")
        if sample in found:
            raise InputError(f"sample '{sample}' is given twice: {found[sample]} and {path}")
        found[sample] = path
    return found


def _describe(call: SequenceCall) -> str:
    score = "NA" if math.isnan(call.max_viral_score) else f"{call.max_viral_score:.6f}"
    return (
        f"{call.chunks} chunks, {call.chunks_with_frames} with frames, {call.viral_chunks} "
        f"viral, max score {score}, call {call.call}"
    )


def _same(a: SequenceCall, b: SequenceCall) -> bool:
    """Field by field but the length (which the chunk calls do not give), NaN equal to
    NaN (an unscored sequence has no score)."""
    scores = (a.max_viral_score, b.max_viral_score)
    same_score = scores[0] == scores[1] or all(map(math.isnan, scores))
    unscored = (dataclasses.replace(call, max_viral_score=0.0, length=None) for call in (a, b))
    return same_score and next(unscored) == next(unscored)


def _example(names: list[str]) -> str:
    return f" (e.g. '{names[0]}')" if names else ""


def check_together(
    chunk_path: Path,
    sequence_path: Path,
    tally: CallTally,
    min_viral_fraction: float,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> None:
    """The sequence calls must be those the chunk calls give at ``min_viral_fraction``, and
    flagged low_coverage as they are at ``min_coverage``; both tables are read once, side
    by side, and every call given to ``tally``."""
    with scratch_database() as connection:
        chunks_seen, sequences_seen = (
            NameSet(connection, "chunks"),
            NameSet(connection, "sequences"),
        )
        grouped = NameSet(connection, "grouped")
        found = read_sequence_calls(sequence_path, sequences_seen)
        for line, (wanted, calls) in enumerate(
            _expected_calls(chunk_path, chunks_seen, min_viral_fraction, min_coverage), start=2
        ):
            if grouped.add(wanted.sequence_id) is not None:
                raise InputError(
                    f"{chunk_path}: the chunks of sequence '{wanted.sequence_id}' are not "
                    "together: not a table the classify step writes"
                )
            call = next(found, None)
            if call is None or call.sequence_id != wanted.sequence_id:
                _refuse_other_sequences(chunk_path, sequence_path)
            _check_call(
                chunk_path, sequence_path, line, call, wanted, min_viral_fraction, min_coverage
            )
            for chunk in calls:
                tally.add_chunk(chunk)
            tally.add_sequence(call)
        if next(found, None) is not None:
            _refuse_other_sequences(chunk_path, sequence_path)


def _expected_calls(
    chunk_path: Path, seen: NameSet, min_viral_fraction: float, min_coverage: float
) -> Iterator[tuple[SequenceCall, list[ChunkCall]]]:
    """Each sequence's call as its chunks give it, with them, in the chunk table's order."""
    rows = read_chunk_calls(chunk_path, seen)
    for sequence_id, group in groupby(rows, lambda call: sequence_of(call.chunk_id)):
        calls = list(group)
        yield sequence_call(sequence_id, calls, min_viral_fraction, min_coverage), calls


def _refuse_other_sequences(chunk_path: Path, sequence_path: Path) -> NoReturn:
    """The tables list other sequences, or the same in another order: which (the ids of
    both tables are read again, on this error only)."""
    with scratch_database() as connection:
        found_ids = [
            call.sequence_id
            for call in read_sequence_calls(sequence_path, NameSet(connection, "s"))
        ]
        chunks = read_chunk_calls(chunk_path, NameSet(connection, "c"))
        expected_ids = list(dict.fromkeys(sequence_of(call.chunk_id) for call in chunks))
    extra = [name for name in found_ids if name not in set(expected_ids)]
    missing = [name for name in expected_ids if name not in set(found_ids)]
    difference = (
        f"{len(extra)} of its sequences have no chunk in {chunk_path.name}{_example(extra)}, "
        f"the chunks of {len(missing)} sequences are not in it{_example(missing)}"
        if extra or missing
        else "they list the same sequences in another order"
    )
    raise InputError(
        f"{sequence_path} and {chunk_path} are not the tables of one sample: {difference}"
    )


def _check_call(
    chunk_path: Path,
    sequence_path: Path,
    line: int,
    found: SequenceCall,
    wanted: SequenceCall,
    min_viral_fraction: float,
    min_coverage: float,
) -> None:
    """A row of the sequence calls against the call its chunks give."""
    if _same(found, wanted):
        return
    if _same(found, dataclasses.replace(wanted, low_coverage=found.low_coverage)):
        raise InputError(
            f"{sequence_path}:{line}: sequence '{found.sequence_id}' is flagged low_coverage "
            f"{yes_no(found.low_coverage)}, but {wanted.chunks_with_frames} of its "
            f"{wanted.chunks} chunks have frames (coverage "
            f"{coverage_text(wanted.chunks_with_frames, wanted.chunks)}): "
            f"{yes_no(wanted.low_coverage)} at a minimum coverage of {min_coverage:g}; give the "
            "--min-coverage the tables were made with"
        )
    if _same(found, dataclasses.replace(wanted, call=found.call)):
        raise InputError(
            f"{sequence_path}:{line}: sequence '{found.sequence_id}' is called {found.call}, "
            f"but {wanted.viral_chunks} viral of {wanted.chunks_with_frames} chunks with "
            f"frames make it {wanted.call} at a minimum viral fraction of "
            f"{min_viral_fraction:g}: give the fraction the tables were made with"
        )
    raise InputError(
        f"{sequence_path}:{line}: sequence '{found.sequence_id}' does not match its chunks "
        f"in {chunk_path}: the table has {_describe(found)}, the chunks give "
        f"{_describe(wanted)} (tables of two runs?)"
    )


def read_samples(
    chunk_calls: Iterable[str | os.PathLike[str]],
    sequence_calls: Iterable[str | os.PathLike[str]],
    min_viral_fraction: float = 0.5,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> list[CallSummary]:
    """Each sample's two tables, paired by file name, checked and summed up (with its
    first ``max_rows`` sequences in page order); in sample name order."""
    chunk_tables = _named(chunk_calls, CHUNK_SUFFIX)
    sequence_tables = _named(sequence_calls, SEQUENCE_SUFFIX)
    unpaired = sorted(chunk_tables.keys() ^ sequence_tables.keys())
    if unpaired:
        has, lacks = ("chunk", "sequence")
        if unpaired[0] not in chunk_tables:
            has, lacks = lacks, has
        raise InputError(
            f"sample '{unpaired[0]}' has {has} calls but no {lacks} calls: "
            "give both tables of every sample"
        )
    samples = []
    for name in sorted(chunk_tables):
        tally = CallTally(name, max_rows)
        check_together(
            chunk_tables[name], sequence_tables[name], tally, min_viral_fraction, min_coverage
        )
        samples.append(tally.summary())
    return samples


# --- The page


def _number(value: int) -> str:
    return f"{value:,}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _na() -> str:
    return '<span class="na">n/a</span>'


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else _na()


def _call(call: str) -> str:
    return f'<span class="call-{call}">{call}</span>'


# The per-sample table's columns: keys of sample_counts
COUNTS = [
    ("sequences", "Sequences"),
    ("chunks", "Chunks"),
    ("chunks_with_frames", "Chunks<br>with frames"),
    ("no_frame_chunks", "Chunks<br>no_frame"),
    ("too_short_chunks", "Chunks<br>too_short"),
    ("frames", "Frames<br>scored"),
    ("virus_chunks", "Chunks<br>virus"),
    *((f"{call}_sequences", f"Sequences<br>{call}") for call in CALLS),
    ("low_coverage_sequences", "Sequences<br>low coverage"),
]


def _counts_table(samples: Sequence[CallSummary]) -> str:
    def row(sample: CallSummary, css: str = "") -> str:
        cells = (_number(sample.counts[key]) for key, _ in COUNTS)
        return table_row([html.escape(sample.name), *cells], css)

    rows = [row(sample) for sample in samples]
    if len(samples) > 1:
        rows.append(row(pooled(samples), "total"))
    return html_table(["Sample", *(label for _, label in COUNTS)], rows)


def _calls_table(total: Mapping[str, int], shortest: str, fraction: float) -> str:
    """The calls of every chunk and sequence of the run, and what each call means."""
    meaning = {
        VIRUS: "chunk: its frames' best virus score is at least their best others score; "
        f"sequence: at least {fraction:g} of its chunks with frames are viral",
        OTHERS: "scored, not viral",
        NO_FRAME: "no stop-free frame (sequence: in none of its chunks), so nothing to score",
        TOO_SHORT: f"shorter than {shortest}: never scored",
    }

    def cells(sequences: int, chunks: int) -> list[str]:
        return [
            _number(sequences), _percent(sequences, total["sequences"]),
            _number(chunks), _percent(chunks, total["chunks"]),
        ]  # fmt: skip

    rows = [
        table_row([_call(call), *cells(total[f"{call}_sequences"], total[f"{call}_chunks"]), html.escape(text)])
        for call, text in meaning.items()
    ]  # fmt: skip
    rows.append(table_row(["all", *cells(total["sequences"], total["chunks"]), ""], "total"))
    return html_table(["Call", "Sequences", "%", "Chunks", "%", "Meaning"], rows, "calls")


def _histogram_svg(
    samples: Sequence[CallSummary],
    bins: Callable[[CallSummary], np.ndarray],
    xlabel: str,
    ylabel: str,
    prefix: str,
) -> str | None:
    """Scores in 20 bins from 0 to 1, stacked by sample (pooled beyond ``MAX_STACKED``), with
    the P(virus) = 0.5 line; None when there is no score at all."""
    series = [(sample.name, bins(sample)) for sample in samples]
    if not any(counts.any() for _, counts in series):
        return None
    if len(series) > MAX_STACKED:
        series = [(f"all {len(series)} samples", bins(pooled(list(samples))))]
    with matplotlib.rc_context(RC):
        figure = Figure(figsize=(5.6, 3.6), layout="constrained")
        axes = figure.add_subplot()
        # Counts binned as the calls streamed past, drawn as np.histogram bins: one weight
        # at each bin's left edge
        _, _, bars = axes.hist(
            [BINS[:-1]] * len(series),
            bins=BINS,
            weights=[counts for _, counts in series],
            stacked=True,
            color=[f"C{index}" for index in range(len(series))],
            edgecolor="white",
            linewidth=0.6,
        )
        line = axes.axvline(0.5, ls="--", lw=1.2, color="#1d2430")
        # Explicit handles and labels: a name starting with '_' would otherwise be dropped.
        handles = [*(bars if len(series) > 1 else [bars]), line]
        labels = [*(mpl_text(name) for name, _ in series), "P(virus) = 0.5"]
        figure.legend(handles, labels, loc="outside upper center", ncols=3, frameon=False)
        axes.set_xlim(0, 1)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", alpha=0.25)
        return svg_element(figure, prefix)


def _figures(samples: Sequence[CallSummary], fraction: float) -> str:
    def chunk_scores(sample: CallSummary) -> np.ndarray:
        return sample.chunk_scores

    def sequence_scores(sample: CallSummary) -> np.ndarray:
        return sample.sequence_scores

    chunks = _histogram_svg(samples, chunk_scores, "best virus score of the chunk's frames", "chunks", "chunk-scores")  # fmt: skip
    if chunks is None:
        return '<p class="note">No chunk has a stop-free frame: there is no score to show.</p>'
    sequences = _histogram_svg(samples, sequence_scores, "best virus score of the sequence's chunks", "sequences", "sequence-scores")  # fmt: skip
    stacked = "stacked by sample" if 1 < len(samples) <= MAX_STACKED else "all samples together"
    return "\n".join([
        '<div class="figures">',
        f"<figure>{chunks}<figcaption>Every chunk with frames: max_score2 of the chunk calls, "
        f"{stacked}. Dashed: P(virus) = 0.5, where a frame is called virus; a chunk is virus "
        "when its best virus score is at least its best others score.</figcaption></figure>",
        f"<figure>{sequences}<figcaption>Every scored sequence: max_viral_score of the sequence "
        f"calls, {stacked}. A sequence is called by its share of viral chunks (at least "
        f"{fraction:g}), so one with a high best score can still be others.</figcaption></figure>",
        "</div>",
    ])  # fmt: skip


def rows_per_sample(sizes: Sequence[int], budget: int) -> list[int]:
    """Rows shown of each sample: all of a small sample's, the rest of ``budget`` shared
    evenly by the larger ones, so that no sample is left out of a capped table."""
    shown = [0] * len(sizes)
    left = budget
    by_size = sorted(range(len(sizes)), key=lambda index: sizes[index])
    for rank, index in enumerate(by_size):
        shown[index] = min(sizes[index], left // (len(sizes) - rank))
        left -= shown[index]
    return shown


def _coverage(call: SequenceCall) -> str:
    """The coverage as the table writes it, marked when low."""
    text = coverage_text(call.chunks_with_frames, call.chunks)
    return f'{text} <span class="low-coverage">low</span>' if call.low_coverage else text


def _sequences_table(samples: Sequence[CallSummary], max_rows: int) -> str:
    sizes = [sample.counts["sequences"] for sample in samples]
    shown = rows_per_sample(sizes, max_rows)
    rows = []
    for sample, count in zip(samples, shown, strict=True):
        if count > len(sample.first):
            raise ValueError(f"{sample.name} keeps {sample.max_rows} rows, not {max_rows}")
        for call in sample.first[:count]:
            scored = call.chunks_with_frames > 0
            rows.append(table_row([
                html.escape(sample.name), html.escape(call.sequence_id),
                _na() if call.length is None else _number(call.length),
                _number(call.chunks), _number(call.chunks_with_frames), _coverage(call),
                _number(call.viral_chunks),
                f"{call.viral_chunks / call.chunks_with_frames:.3f}" if scored else _na(),
                _na() if math.isnan(call.max_viral_score) else f"{call.max_viral_score:.3f}",
                _call(call.call),
            ]))  # fmt: skip
    order = "by sample, then call (virus first), then best virus score (highest first)"
    if sum(shown) == sum(sizes):
        note = f"Every sequence, {order}."
    else:
        capped = [
            f"{html.escape(sample.name)}: {count:,} of {size:,}"
            for sample, count, size in zip(samples, shown, sizes, strict=True)
            if count < size
        ]
        tables = ", ".join(html.escape(f"{sample.name}{SEQUENCE_SUFFIX}") for sample in samples[:3])
        tables += ", ..." if len(samples) > 3 else ""
        note = (
            f"<b>{sum(shown):,} of {sum(sizes):,} sequences shown</b> ({sum(sizes) - sum(shown):,} "
            f"left out so that the page stays light; at most {max_rows:,} rows, shared by the "
            f"samples): the first of each sample, {order} ({'; '.join(capped)}). Every sequence "
            f"is in its sample's sequence calls table ({tables})."
        )
    note += (
        " Length: bases of the input sequence (n/a when the classify step was not given the "
        "FASTA); coverage: chunks with frames / chunks."
    )
    head = ["Sample", "Sequence", "Length<br>(bp)", "Chunks", "Chunks<br>with frames"]
    head += ["Coverage", "Viral<br>chunks", "Viral<br>fraction", "Best virus<br>score", "Call"]
    return f'<p class="note">{note}</p>\n' + html_table(head, rows, "sequences")


def _coverage_note(low: int, min_coverage: float) -> str:
    """What the low coverage flag means, and how many sequences carry it."""
    return (
        f'<p class="note"><b>Low coverage</b> ({_plural(low, "sequence")}): under '
        f"{min_coverage:g} of the sequence's chunks have a stop-free frame to score (coverage = "
        "chunks with frames / chunks, the <code>coverage</code> and <code>low_coverage</code> "
        "columns of the sequence calls), so its call rests on a small part of it. A phage that "
        "reads stop codons as amino acids (stop-recoding) has few stop-free frames: one was "
        "called others from 22 of its 270 chunks. The flag never changes the call; a sequence "
        "without any frame (no_frame, too_short) has it at any minimum above 0. The minimum is "
        "<code>--min-coverage</code> (0.5 by default).</p>"
    )


#: The provenance block's classifier line when the page was not given one
NO_CLASSIFIER = "not given (--classifier): its models, chunk size and id are not known here"


def classifier_id(folder: str | os.PathLike[str]) -> str:
    """A classifier's id: the SHA-256 of its weights file, which decides every score."""
    return file_digest(Path(folder) / CLASSIFIER_WEIGHTS)


def classifier_models(classifier: Classifier) -> list[ModelUsed]:
    """The DNA and protein models a classifier records (classifier.json's ``models``: those
    whose features classify accepts); "not recorded" for one that does not (the demo, a
    converted legacy model)."""
    recorded = classifier.details.get("models")
    metadata = {}
    for modality in MODALITIES:
        embedder = classifier.embedders[modality]
        metadata[f"{modality}_embedder"] = embedder
        model = recorded[modality] if recorded else {}
        spec = EMBEDDERS.get(embedder)
        if model.get("model_id", "none") == "none" and spec is not None and not spec.needs_weights:
            continue  # composition features: no model to name
        for key in ("model_id", "revision", "weights_sha256"):
            metadata[f"{modality}_{key}"] = model.get(key, "") or NOT_RECORDED
    return models_of(metadata, MERGED_ROLES)


def demo_caveat(name: str, classifier: Classifier) -> list[str]:
    """The caveat of a demo classifier (none for a real one)."""
    return [f"{name} is a demo classifier: {classifier.demo}."] if classifier.demo else []


def prediction_provenance(
    min_viral_fraction: float,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    classifier: tuple[str, Classifier] | None = None,
    identity: str | None = None,
    parameters: Mapping[str, str] | None = None,
    models: Sequence[ModelUsed] | None = None,
) -> Provenance:
    """The page's provenance: the parameters of the calls (then ``parameters``: predict's
    precision, device and token budget), the models (``models``: those predict loaded;
    else those the classifier records), the classifier's folder name and ``identity``
    (``classifier_id``), and its demo caveat. Without a classifier, what the tables tell
    and that the rest is not known."""
    values = {
        "min-viral-fraction": f"{min_viral_fraction:g}",
        "min-coverage": f"{min_coverage:g}",
    }
    if classifier is None:
        return Provenance({**values, **(parameters or {})}, (), NO_CLASSIFIER)
    name, checkpoint = classifier
    values |= {"chunk-size": str(checkpoint.chunk_size), "precision": checkpoint.precision}
    values |= parameters or {}
    known = f"id {identity} (SHA-256 of its {CLASSIFIER_WEIGHTS})" if identity else "id not known"
    return Provenance(
        values,
        classifier_models(checkpoint) if models is None else models,
        f"{name}, {known}",
        demo_caveat(name, checkpoint),
    )


def render_prediction_report(
    samples: Sequence[CallSummary],
    min_viral_fraction: float,
    classifier: tuple[str, Classifier] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    provenance: Provenance | None = None,
) -> str:
    """The whole page as ASCII HTML; ``classifier``: the checkpoint's folder name and itself;
    ``provenance``: the block that ends the page (``prediction_provenance``), by default
    without the classifier's id."""
    if provenance is None:
        provenance = prediction_provenance(min_viral_fraction, min_coverage, classifier)
    total = pooled(list(samples)).counts
    context = {"samples": ", ".join(sample.name for sample in samples)}
    shortest = "half the chunk size"
    if classifier is not None:
        name, model = classifier
        shortest = f"{minimum_length(model.chunk_size)} bp, half the chunk size"
        context["classifier"] = name
        context["embedders"] = f"{model.embedders['dna']} (DNA), {model.protein_embedder} (protein)"
        context["chunk size"] = f"{model.chunk_size} bp (chunks under {shortest}: too_short)"
    context["minimum viral fraction"] = (
        f"{min_viral_fraction:g} of a sequence's chunks with frames (every call checked against it)"
    )
    context["minimum coverage"] = (
        f"{min_coverage:g} of a sequence's chunks with a stop-free frame, below which it is "
        "flagged low coverage (every flag checked against it)"
    )
    scored = total["virus_sequences"] + total["others_sequences"]
    lead = (
        f"{_plural(total['sequences'], 'sequence')} of {_plural(len(samples), 'sample')}: "
        f"<b>{total['virus_sequences']:,} called virus</b> "
        f"({_percent(total['virus_sequences'], total['sequences'])}), "
        f"{total['others_sequences']:,} others; {scored:,} scored from "
        f"{_plural(total['frames'], 'frame')} in {total['chunks_with_frames']:,} of "
        f"{_plural(total['chunks'], 'chunk')}. {total['no_frame_sequences']:,} without a "
        f"stop-free frame (no_frame), {total['too_short_sequences']:,} too short to score "
        f"(too_short); {total['low_coverage_sequences']:,} of low coverage (frames in under "
        f"{min_coverage:g} of their chunks)."
    )
    return html_page(
        "VirNucPro predictions",
        [
            f'<p class="lead">{lead}</p>',
            provenance.caveats_html(),
            context_list(context),
            "<h2>Calls</h2>",
            _calls_table(total, shortest, min_viral_fraction),
            "<h2>Per sample</h2>",
            _counts_table(samples),
            _coverage_note(total["low_coverage_sequences"], min_coverage),
            "<h2>Scores</h2>",
            _figures(samples, min_viral_fraction),
            "<h2>Sequences</h2>",
            _sequences_table(samples, max_rows),
            provenance.html(),
        ],
        css=CSS,
    )


def write_prediction_report(
    output: str | os.PathLike[str],
    chunk_calls: Sequence[str | os.PathLike[str]],
    sequence_calls: Sequence[str | os.PathLike[str]],
    classifier: Path | None = None,
    min_viral_fraction: float = 0.5,
    max_rows: int = DEFAULT_MAX_ROWS,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    multiqc: bool = False,
) -> None:
    """Read and check every sample's tables, then write the page atomically; ``multiqc``:
    with the samples' MultiQC table beside it (``calls_multiqc``), in the same commit."""
    samples = read_samples(chunk_calls, sequence_calls, min_viral_fraction, min_coverage, max_rows)
    table = calls_table(samples) if multiqc else None
    named, identity = None, None
    if classifier:
        named = (Path(classifier).name, describe_classifier(classifier))
        identity = classifier_id(classifier)
    provenance = prediction_provenance(min_viral_fraction, min_coverage, named, identity)
    page = render_prediction_report(
        samples, min_viral_fraction, named, max_rows, min_coverage, provenance
    )
    with AtomicOutputs() as outputs:
        outputs.open(output).write(page)
        if table is not None:
            outputs.open(Path(output).parent / CALLS_SECTION.file_name).write(table)
    total = pooled(samples).counts
    log.info(
        "%s, %s: %d called virus -> %s",
        _plural(len(samples), "sample"), _plural(total["sequences"], "sequence"),
        total["virus_sequences"], output,
    )  # fmt: skip
