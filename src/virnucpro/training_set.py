"""Labelled training frames from annotated genomes (SPEC §4, training rule).

A chunk's stop-free frame is kept only if its protein occurs inside one of the
record's annotated CDS translations, so the training set holds real coding
frames. Each frame keeps its source record (genome) so that the split can keep
every genome inside one of train / validation / test.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from virnucpro.atomic import AtomicOutputs
from virnucpro.chunking import check_chunk_size, chunk_records
from virnucpro.frames import select_frames
from virnucpro.seqfiles import read_genbank, write_fasta

log = logging.getLogger(__name__)

# A chunk with any of these IUPAC ambiguity codes is not used for training.
AMBIGUOUS_BASES = frozenset("NRYMKSWHBVD")
SOURCES_HEADER = ("frame_id", "genome", "label", "source")


class Label(str, Enum):
    """Class of an input genome; viral is the positive class (1)."""

    viral = "viral"
    host = "host"

    @property
    def target(self) -> int:
        """The classifier's class number: 1 for virus, 0 for everything else."""
        return int(self is Label.viral)


@dataclass
class SourceCounts:
    """Per-input counts, so that nothing leaves the training set unreported."""

    source: str
    label: str
    records: int = 0
    cds_translations: int = 0
    chunks: int = 0
    chunks_ambiguous: int = 0
    frames_kept: int = 0


def build_training_set(
    genbank_path: str | os.PathLike[str],
    label: Label,
    chunk_size: int,
    nucleotide_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    sources_path: str | os.PathLike[str],
    counts_path: str | os.PathLike[str] | None = None,
) -> SourceCounts:
    """Write the CDS-matching frames of one GenBank file and where each came from."""
    check_chunk_size(chunk_size)
    source = Path(genbank_path).name
    counts = SourceCounts(source=source, label=label.value)
    with AtomicOutputs() as outputs:
        nucleotides = outputs.open(nucleotide_path)
        proteins = outputs.open(protein_path)
        sources = outputs.open(sources_path)
        sources.write("\t".join(SOURCES_HEADER) + "\n")
        for record in tqdm(read_genbank(genbank_path), desc=source, unit=" records", disable=None):
            translations = [
                translation
                for feature in record.features
                if feature.type == "CDS"
                for translation in feature.qualifiers.get("translation", [])
            ]
            # "|" never occurs in a protein, so a match cannot span two translations.
            coding = "|".join(translations)
            chunks = list(chunk_records([(record.id, str(record.seq).upper())], chunk_size))
            usable = [chunk for chunk in chunks if AMBIGUOUS_BASES.isdisjoint(chunk[1])]
            counts.records += 1
            counts.cds_translations += len(translations)
            counts.chunks += len(chunks)
            counts.chunks_ambiguous += len(chunks) - len(usable)
            for frames in select_frames(usable):
                for frame in frames:
                    if frame.protein in coding:
                        write_fasta(nucleotides, frame.id, frame.nucleotide)
                        write_fasta(proteins, frame.id, frame.protein)
                        sources.write(f"{frame.id}\t{record.id}\t{label.target}\t{source}\n")
                        counts.frames_kept += 1
        if counts_path is not None:
            write_counts(outputs.open(counts_path), [counts])
    log.info(
        "%s (%s): %d records, %d CDS translations, %d chunks, %d skipped for ambiguous bases, "
        "%d frames kept",
        source,
        label.value,
        counts.records,
        counts.cds_translations,
        counts.chunks,
        counts.chunks_ambiguous,
        counts.frames_kept,
    )
    return counts


def write_counts(handle: TextIO, rows: list[SourceCounts]) -> None:
    """Write per-input counts as a TSV table with a header."""
    handle.write("\t".join(field.name for field in fields(SourceCounts)) + "\n")
    for row in rows:
        handle.write("\t".join(str(value) for value in asdict(row).values()) + "\n")
