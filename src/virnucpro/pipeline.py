"""The whole prediction in one process: FASTA in, tables out, each model loaded once.

For a single machine without Nextflow: chunk -> frames -> embed DNA and protein
-> merge -> classify -> tables, streaming the frames in batches so memory stays
bounded. The classifier's checkpoint says which embedders and chunk size to use.
"""

from __future__ import annotations

import logging
from itertools import islice
from pathlib import Path

import numpy as np

from virnucpro.chunking import chunk_records
from virnucpro.classifier import load_classifier
from virnucpro.embedders.registry import Modality, get_embedder
from virnucpro.embedding import DEFAULT_TOKEN_BUDGET
from virnucpro.extraction import SequenceEmbedder
from virnucpro.frames import select_frames
from virnucpro.prediction import SequenceCall, write_predictions
from virnucpro.seqfiles import read_fasta

log = logging.getLogger(__name__)


def predict_fasta(
    input_path: Path,
    model_dir: Path,
    output_dir: Path,
    prefix: str = "predictions",
    device: str = "auto",
    precision: str | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    hf_home: Path | None = None,
    min_viral_fraction: float = 0.5,
    batch_chunks: int = 4096,
) -> list[SequenceCall]:
    """Classify every sequence of ``input_path`` with the classifier in ``model_dir``."""
    classifier = load_classifier(model_dir)
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
    chunks = chunk_records(read_fasta(input_path), classifier.chunk_size)
    chunk_ids: list[str] = []
    frame_ids: list[str] = []
    scores: list[np.ndarray] = []
    while batch := list(islice(chunks, batch_chunks)):
        chunk_ids.extend(chunk_id for chunk_id, _ in batch)
        frames = [frame for kept in select_frames(batch) for frame in kept]
        if not frames:
            continue
        merged = np.hstack(
            [dna.embed([f.nucleotide for f in frames]), protein.embed([f.protein for f in frames])]
        )
        if merged.shape[1] != classifier.model.hidden.in_features:
            raise ValueError(
                f"{merged.shape[1]}-d features for a {classifier.model.hidden.in_features}-d classifier"
            )
        frame_ids.extend(frame.id for frame in frames)
        scores.append(classifier.scores(merged))
        log.info("classified %d chunks so far (%d frames)", len(chunk_ids), len(frame_ids))
    all_scores = np.concatenate(scores) if scores else np.empty((0, 2), dtype=np.float32)
    return write_predictions(
        output_dir, prefix, frame_ids, all_scores, chunk_ids, input_path, min_viral_fraction
    )
