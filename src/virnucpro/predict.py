"""The whole prediction in one process: FASTA in, tables out, each model loaded once.

For a single machine without Nextflow: chunk -> frames -> embed DNA and protein
-> merge -> classify -> tables and report, streaming the frames in batches so
memory stays bounded. The classifier's checkpoint says which embedders and
chunk size to use. The tables, the report and ``PREFIX.run.json`` (what made
them: input path and SHA-256, classifier id, parameters, version, date) are one
commit: they appear together, all new, or not at all.

Every output is named ``PREFIX.*``, PREFIX by default the input's file name
without its FASTA and gzip extensions. Outputs of another input under the same
prefix in the same folder (or of an earlier version, which wrote no run record)
are not replaced unless asked (``overwrite``); the same input's are.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from virnucpro import __version__
from virnucpro.classify.call_store import CallStore
from virnucpro.classify.call_summary import CallSummary
from virnucpro.classify.calling import DEFAULT_MIN_COVERAGE, Chunk, check_coverage
from virnucpro.classify.classifier import describe_classifier, load_classifier
from virnucpro.classify.prediction_report import (
    classifier_id,
    prediction_provenance,
    render_prediction_report,
)
from virnucpro.classify.prediction_tables import check_fraction, warn_if_demo, write_calls
from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.registry import Modality, get_embedder, with_revision
from virnucpro.embed.sequence_embedding import DEFAULT_TOKEN_BUDGET, EmbedStats
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import CHUNK_CALLS, FRAME_SCORES, PREDICT_RUN, SEQUENCE_CALLS
from virnucpro.files.digests import file_digest
from virnucpro.files.names import check_name
from virnucpro.files.scratch_database import scratch_database
from virnucpro.files.sequence_files import open_text, read_dna
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import frame_label, stop_free_frames
from virnucpro.report_provenance import MERGED_ROLES, models_of

log = logging.getLogger(__name__)

#: What predict writes after PREFIX., the run record last
OUTPUTS = (
    FRAME_SCORES.name,
    CHUNK_CALLS.name,
    SEQUENCE_CALLS.name,
    "viral.fasta",
    "report.html",
    PREDICT_RUN.name,
)
# Why a chunk of the input can be cut twice
_DOUBLED_RECORD = "a sequence id given twice in the input?"
# The extensions a default prefix drops: FASTA ones (those of the samplesheet), then .gz
_FASTA_NAME = re.compile(r"(?i)(?:\.(?:fasta|fa|fna|fas))?(?:\.gz)?\Z")


def default_prefix(input_path: str | os.PathLike[str]) -> str:
    """The input's file name without its FASTA and gzip extensions (``genomes.fasta.gz``
    -> ``genomes``), checked as every prefix is."""
    name = Path(input_path).name
    prefix = _FASTA_NAME.sub("", name, count=1)
    try:
        return check_name(prefix, f"the prefix taken from the input's file name {name!r},")
    except InputError as error:
        raise InputError(f"{error}: give --prefix") from None


def _earlier_input(record: Path) -> dict[str, Any] | None:
    """The input an earlier run record names, None when there is none to read."""
    try:
        run = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(run, dict) or run.get("format") != PREDICT_RUN.format:
        return None
    if not isinstance(run.get("input"), str) or not isinstance(run.get("input_sha256"), str):
        return None
    return run


def check_replaceable(
    output_dir: Path, prefix: str, input_path: Path, input_sha256: str, overwrite: bool
) -> None:
    """Refuse to replace the outputs of another input under ``prefix`` in ``output_dir``:
    those whose run record names another input's digest, or that have no run record."""
    found = [name for name in OUTPUTS if (output_dir / f"{prefix}.{name}").exists()]
    if not found or overwrite:
        return
    record = output_dir / f"{prefix}.{PREDICT_RUN.name}"
    earlier = _earlier_input(record)
    if earlier is not None and earlier["input_sha256"] == input_sha256:
        return
    if earlier is not None:
        other = f"{earlier['input']} (sha256 {earlier['input_sha256'][:12]})"
    else:
        state = "unreadable" if record.exists() else "missing"
        other = f"an input they do not record ({record.name} {state}: an earlier version's?)"
    raise InputError(
        f"{output_dir / prefix}.* ({', '.join(found)}) hold the predictions of {other}, not "
        f"of {input_path} (sha256 {input_sha256[:12]}): give another --prefix or "
        "--output-dir, or --overwrite to replace them"
    )


def predict_fasta(
    input_path: Path,
    classifier_dir: Path,
    output_dir: Path,
    prefix: str | None = None,
    device: str = "auto",
    precision: str | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    hf_home: Path | None = None,
    min_viral_fraction: float = 0.5,
    batch_chunks: int = 4096,
    stats: EmbedStats | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    overwrite: bool = False,
    attention: str = "auto",
    dna_revision: str | None = None,
    protein_revision: str | None = None,
) -> CallSummary:
    """Classify every sequence of ``input_path`` with the classifier in ``classifier_dir``.

    Options, classifier, models and the outputs it would replace are checked before
    anything is embedded; ``prefix`` None takes the input's file name (``default_prefix``);
    ``stats`` adds up the embedding batches of both models (device time included);
    ``attention``: the SDPA backend of both models' forward passes; ``dna_revision`` and
    ``protein_revision``: the Hugging Face revision of each model (None: its pin).
    """
    if prefix is not None:
        check_name(prefix, "prefix")
    check_fraction(min_viral_fraction)
    check_coverage(min_coverage)
    with open_text(input_path):  # a missing, empty or unreadable input, before its digest
        pass
    prefix = default_prefix(input_path) if prefix is None else prefix
    if output_dir.exists() and not output_dir.is_dir():  # known now, not after hours of embedding
        raise InputError(f"cannot write to {output_dir}: it is a file, not a folder")
    input_sha256 = file_digest(input_path)
    check_replaceable(output_dir, prefix, input_path, input_sha256, overwrite)
    classifier = describe_classifier(classifier_dir)
    precision = precision or classifier.precision
    revisions = {Modality.dna: dna_revision, Modality.protein: protein_revision}
    specs = {
        m: with_revision(get_embedder(classifier.embedders[m.value], m), revisions[m])
        for m in (Modality.dna, Modality.protein)
    }  # both checked before either model is loaded
    dna, protein = (
        SequenceEmbedder(
            specs[m],
            precision,
            device,
            token_budget,
            hf_home=hf_home,
            attention=attention,
        )
        for m in (Modality.dna, Modality.protein)
    )
    for modality, embedder in ((Modality.dna, dna), (Modality.protein, protein)):
        expected = classifier.dimensions[modality.value]
        if embedder.dimension != expected:
            raise InputError(
                f"{classifier_dir}: the classifier expects {expected}-d {modality.value} features, "
                f"but {embedder.spec.name} gives {embedder.dimension}-d"
            )
    classifier = load_classifier(classifier_dir)
    classifier.check_models(
        {"dna": dna.source.weights_sha256, "protein": protein.source.weights_sha256},
        f"the models of {dna.spec.name} and {protein.spec.name}",
    )
    parameters = {
        "precision": precision,
        "device": device,
        "token-budget": str(token_budget),
        "attention": attention,
    }
    models = models_of(
        {
            **{f"dna_{key}": value for key, value in dna.source.provenance.items()},
            **{f"protein_{key}": value for key, value in protein.source.provenance.items()},
            "dna_embedder": dna.spec.name,
            "protein_embedder": protein.spec.name,
        },
        MERGED_ROLES,
    )
    source = str(input_path)
    with scratch_database() as connection:
        store = CallStore(connection)
        records = chunk_records(read_dna(input_path), classifier.chunk_size)
        chunks = frames_scored = 0
        while batch := list(islice(records, batch_chunks)):
            kept = stop_free_frames(batch)
            listed = (
                Chunk(chunk_id, len(sequence), tuple(frame_label(frame.id) for frame in frames))
                for (chunk_id, sequence), frames in zip(batch, kept, strict=True)
            )
            store.add_chunks(((chunk, source) for chunk in listed), _DOUBLED_RECORD)
            chunks += len(batch)
            frames = [frame for chunk_frames in kept for frame in chunk_frames]
            if not frames:
                continue
            merged = np.hstack(
                [
                    dna.embed([f.nucleotide for f in frames], stats),
                    protein.embed([f.protein for f in frames], stats),
                ]
            )
            store.add_frames([frame.id for frame in frames], classifier.scores(merged), source)
            frames_scored += len(frames)
            log.info("classified %d chunks so far (%d frames)", chunks, frames_scored)
        identity = classifier_id(classifier_dir)
        provenance = prediction_provenance(
            min_viral_fraction,
            min_coverage,
            (Path(classifier_dir).name, classifier),
            identity,
            parameters,
            models,
        )
        with AtomicOutputs() as outputs:
            summary = write_calls(
                store,
                output_dir,
                prefix,
                classifier.chunk_size,
                input_path,
                min_viral_fraction,
                outputs=outputs,
                min_coverage=min_coverage,
            )
            page = render_prediction_report(
                [summary],
                min_viral_fraction,
                (Path(classifier_dir).name, classifier),
                min_coverage=min_coverage,
                provenance=provenance,
            )
            outputs.open(output_dir / f"{prefix}.report.html").write(page)
            run = {
                "format": PREDICT_RUN.format,
                "input": str(Path(input_path).resolve()),
                "input_sha256": input_sha256,
                "classifier": str(Path(classifier_dir).resolve()),
                "classifier_id": identity,
                "parameters": dict(provenance.parameters),
                "models": {
                    model.role.lower(): {k: v for k, v in asdict(model).items() if k != "role"}
                    for model in models
                },
                "tool_version": __version__,
                "date": provenance.date,
            }
            outputs.open(output_dir / f"{prefix}.{PREDICT_RUN.name}").write(
                json.dumps(run, indent=2, sort_keys=True) + "\n"
            )
    warn_if_demo(classifier_dir, classifier)
    return summary
