"""The whole prediction in one process: FASTA in, tables out, each model loaded once.

For a single machine without Nextflow: chunk -> frames -> embed DNA and protein
-> merge -> classify -> tables and report, streaming the frames in batches so
memory stays bounded. The classifier's checkpoint says which embedders and
chunk size to use. The tables and the report are one commit: they appear
together, all new, or not at all.
"""

from __future__ import annotations

import logging
from itertools import islice
from pathlib import Path

import numpy as np

from virnucpro.classify.classifier import describe_classifier, load_classifier
from virnucpro.classify.prediction_report import Sample, render_prediction_report
from virnucpro.classify.prediction_tables import (
    Chunk,
    SequenceCall,
    check_fraction,
    round_as_written,
    write_predictions,
)
from virnucpro.embed.embed_files import SequenceEmbedder
from virnucpro.embed.embedders.registry import Modality, get_embedder
from virnucpro.embed.sequence_embedding import DEFAULT_TOKEN_BUDGET, EmbedStats
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.names import check_name
from virnucpro.files.sequence_files import read_dna
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import frame_label, stop_free_frames

log = logging.getLogger(__name__)


def predict_fasta(
    input_path: Path,
    classifier_dir: Path,
    output_dir: Path,
    prefix: str = "predictions",
    device: str = "auto",
    precision: str | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    hf_home: Path | None = None,
    min_viral_fraction: float = 0.5,
    batch_chunks: int = 4096,
    stats: EmbedStats | None = None,
) -> list[SequenceCall]:
    """Classify every sequence of ``input_path`` with the classifier in ``classifier_dir``.

    Options, classifier and models are checked before anything is embedded;
    ``stats`` adds up the embedding batches of both models (device time included).
    """
    check_name(prefix, "prefix")
    check_fraction(min_viral_fraction)
    if output_dir.exists() and not output_dir.is_dir():  # known now, not after hours of embedding
        raise InputError(f"cannot write to {output_dir}: it is a file, not a folder")
    classifier = describe_classifier(classifier_dir)
    precision = precision or classifier.precision
    dna, protein = (
        SequenceEmbedder(
            get_embedder(classifier.embedders[m.value], m),
            precision,
            device,
            token_budget,
            hf_home=hf_home,
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
    records = chunk_records(read_dna(input_path), classifier.chunk_size)
    chunks: list[Chunk] = []
    frame_ids: list[str] = []
    scores: list[np.ndarray] = []
    while batch := list(islice(records, batch_chunks)):
        kept = stop_free_frames(batch)
        chunks.extend(
            Chunk(chunk_id, len(sequence), tuple(frame_label(frame.id) for frame in frames))
            for (chunk_id, sequence), frames in zip(batch, kept, strict=True)
        )
        frames = [frame for chunk_frames in kept for frame in chunk_frames]
        if not frames:
            continue
        merged = np.hstack(
            [
                dna.embed([f.nucleotide for f in frames], stats),
                protein.embed([f.protein for f in frames], stats),
            ]
        )
        frame_ids.extend(frame.id for frame in frames)
        scores.append(classifier.scores(merged))
        log.info("classified %d chunks so far (%d frames)", len(chunks), len(frame_ids))
    all_scores = np.concatenate(scores) if scores else np.empty((0, 2), dtype=np.float32)
    with AtomicOutputs() as outputs:
        chunk_calls, calls = write_predictions(
            output_dir,
            prefix,
            chunks,
            frame_ids,
            all_scores,
            classifier.chunk_size,
            input_path,
            min_viral_fraction,
            outputs=outputs,
        )
        round_as_written(chunk_calls, calls)
        sample = Sample(prefix, chunk_calls, calls)
        page = render_prediction_report(
            [sample], min_viral_fraction, (Path(classifier_dir).name, classifier)
        )
        outputs.open(output_dir / f"{prefix}.report.html").write(page)
    return calls
