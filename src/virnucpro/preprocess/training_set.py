"""Labelled training frames from annotated genomes, or FASTA genomes with predicted genes.

A chunk's stop-free frame is kept only if its protein occurs inside one of the
record's annotated CDS translations, so the training set holds real coding
frames. Each frame keeps its source record (genome) so that the split can keep
every genome inside one of train / validation / test.

A CDS without ``/translation`` (Nextstrain's references, mature peptides,
pseudogenes) has its location translated with its ``/transl_table``; pseudo CDS,
CDS that do not translate to a protein and CDS reaching past their record's
sequence are skipped. Every CDS is counted as annotated, translated or skipped,
so that none is dropped without a trace.

A genome given as FASTA (``gene_prediction.FASTA_SUFFIXES``) has its genes
predicted (Pyrodigal for host genomes, Pyrodigal-gv for viral ones); each gene
becomes a CDS feature without ``/translation`` and takes the same path from there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from Bio.Data.CodonTable import TranslationError, unambiguous_dna_by_id
from Bio.Seq import Seq
from Bio.SeqFeature import ExactPosition, SeqFeature
from Bio.SeqRecord import SeqRecord
from tqdm import tqdm

from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import COUNTS, PROJECTION_READ_LENGTH, SOURCES
from virnucpro.files.sequence_files import read_dna, read_genbank, write_fasta
from virnucpro.preprocess.chunking import check_chunk_size, chunk_records
from virnucpro.preprocess.frames import stop_free_frames
from virnucpro.preprocess.gene_prediction import (
    ANNOTATED,
    gene_finder,
    is_fasta_genome,
    predicted_record,
)
from virnucpro.preprocess.read_projection import count_projection_reads
from virnucpro.preprocess.settings import Label
from virnucpro.preprocess.sketches import sketch, write_sketches

log = logging.getLogger(__name__)

# A chunk with any of these IUPAC ambiguity codes is not used for training.
AMBIGUOUS_BASES = frozenset("NRYMKSWHBVD")


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
    # CDS without /translation: translated from their location, or skipped
    cds_translated: int = 0
    cds_skipped_pseudo: int = 0
    cds_skipped_untranslatable: int = 0
    # Where the CDS come from (gene_prediction.SOURCES: "annotated", or the gene finder
    # and its mode for a FASTA genome) and how many genes it predicted
    cds_source: str = ANNOTATED
    cds_predicted: int = 0
    # The records as predict mode's 500 bp reads, and the stop-free frames it would
    # embed from them (virnucpro.preprocess.read_projection)
    reads_500bp: int = 0
    read_frames_500bp: int = 0
    # Why no frame was kept ("" when some were)
    warning: str = ""


class UntranslatableCDS(ValueError):
    """A CDS location that gives no protein (internal stop, unknown table, remote part)."""


def _is_partial(position: object) -> bool:
    """A fuzzy end (``<`` or ``>``, or a range) marks a partial CDS."""
    return not isinstance(position, ExactPosition)


def translate_cds(feature: SeqFeature, sequence: Seq) -> str:
    """The protein of a CDS location, as GenBank's ``/translation`` would give it.

    Uses the feature's ``/transl_table`` (1, the standard code, when absent) and
    ``/codon_start``. A complete CDS (exact ends, codon_start 1) is translated with
    Biopython's ``cds=True`` checks (first codon a start, read as M; one final stop,
    dropped); one that fails them, and a partial CDS (``<``/``>`` ends), is
    translated codon by codon, its first codon read as M only when the 5' end is
    complete and that codon is a start of the table, one final stop dropped.
    Raises ``UntranslatableCDS`` for a stop inside the protein, an unknown table
    or a location that cannot be extracted.
    """
    qualifiers = feature.qualifiers
    try:
        table = int(qualifiers.get("transl_table", ["1"])[0])
        codon_start = int(qualifiers.get("codon_start", ["1"])[0])
        start_codons = unambiguous_dna_by_id[table].start_codons
    except (KeyError, ValueError) as error:
        raise UntranslatableCDS(f"bad /transl_table or /codon_start: {error}") from None
    if codon_start not in (1, 2, 3):
        raise UntranslatableCDS(f"/codon_start must be 1, 2 or 3, got {codon_start}")
    location = feature.location
    if location is None:
        raise UntranslatableCDS("no location")
    try:
        nucleotides = feature.extract(sequence).upper()
    except ValueError as error:  # a part in another record (join(AB000001.1:1..10, ...))
        raise UntranslatableCDS(f"location cannot be extracted: {error}") from None
    parts = location.parts  # in biological order, 5' part first
    minus = location.strand == -1
    partial_5 = _is_partial(parts[0].end if minus else parts[0].start)
    partial_3 = _is_partial(parts[-1].start if minus else parts[-1].end)
    nucleotides = nucleotides[codon_start - 1 :]
    if not (partial_5 or partial_3 or codon_start != 1):
        try:
            return str(nucleotides.translate(table=table, cds=True))
        except TranslationError:
            pass  # e.g. no start codon (a mature peptide) or no final stop: read it plainly
    codons = nucleotides[: len(nucleotides) // 3 * 3]
    protein = str(codons.translate(table=table))
    protein = protein.removesuffix("*")
    if "*" in protein:
        raise UntranslatableCDS(f"stop codon inside the protein (table {table})")
    if protein and not partial_5 and codon_start == 1 and str(codons[:3]) in start_codons:
        protein = "M" + protein[1:]
    return protein


def _outside_record(feature: SeqFeature, length: int) -> str:
    """Why a CDS does not fit its record's ``length`` bases ("" if it does).

    A part past the end means that sequence and annotation disagree (a cut
    sequence, a wrong record), so the CDS is not used even with a /translation.
    Parts on another record (``AB000001.1:1..10``) are that record's to check.
    """
    parts = feature.location.parts if feature.location is not None else []
    ends = [int(part.end) for part in parts if part.ref is None and part.ref_db is None]
    if ends and max(ends) > length:
        return f"location outside the record (ends at {max(ends)} of {length} bases)"
    return ""


def cds_proteins(record: SeqRecord, counts: SourceCounts) -> list[str]:
    """The proteins of a record's CDS features, counted in ``counts``.

    A CDS whose location runs past the record's sequence is skipped (counted as
    untranslatable); otherwise its ``/translation`` is used as given (as before,
    pseudo or not, also with parts on other records); without one, a CDS marked
    ``/pseudo`` or ``/pseudogene`` is skipped (not a protein) and any other has its
    location translated (``translate_cds``), which skips parts on other records.
    """
    proteins = []
    for feature in record.features:
        if feature.type != "CDS":
            continue
        outside = _outside_record(feature, len(record.seq))
        if outside:
            counts.cds_skipped_untranslatable += 1
            log.warning("%s: CDS %s skipped: %s", record.id, feature.location, outside)
            continue
        annotated = feature.qualifiers.get("translation", [])
        if annotated:
            proteins += annotated
            counts.cds_translations += len(annotated)
        elif "pseudo" in feature.qualifiers or "pseudogene" in feature.qualifiers:
            counts.cds_skipped_pseudo += 1
        else:
            try:
                protein = translate_cds(feature, record.seq)
            except UntranslatableCDS as error:
                counts.cds_skipped_untranslatable += 1
                log.warning("%s: CDS %s skipped: %s", record.id, feature.location, error)
                continue
            if protein:
                proteins.append(protein)
                counts.cds_translated += 1
            else:
                counts.cds_skipped_untranslatable += 1
                log.warning("%s: CDS %s skipped: shorter than a codon", record.id, feature.location)
    return proteins


def _no_frame_reason(counts: SourceCounts) -> str:
    """Why a genome file gave no training frame."""
    if counts.cds_source != ANNOTATED and not counts.cds_predicted:
        return f"no gene predicted ({counts.cds_source})"
    if not counts.cds_translations + counts.cds_translated:
        skipped = counts.cds_skipped_pseudo + counts.cds_skipped_untranslatable
        return f"no CDS protein ({skipped} CDS skipped)" if skipped else "no CDS feature"
    if counts.chunks == counts.chunks_ambiguous:
        return "every chunk has an ambiguous base"
    return "no stop-free frame of a chunk occurs in a CDS protein"


def genome_records(
    path: str | os.PathLike[str], label: Label, counts: SourceCounts
) -> Iterator[SeqRecord]:
    """The records of a genome file with their CDS features, ``counts`` told where they come from.

    A GenBank file's records as they are (annotated CDS). A FASTA file's records
    (read as ``read_dna`` reads them: RNA as DNA, checked) with their predicted
    genes as CDS features (``gene_prediction``); a host genome is held whole, as
    Prodigal trains on all its records, a viral one is read record by record.
    """
    if not is_fasta_genome(path):
        yield from read_genbank(path)
        return
    records: Iterator[tuple[str, str]] | list[tuple[str, str]]
    if label is Label.viral:
        finder, counts.cds_source = gene_finder(True, [])
        records = ((record_id, sequence.upper()) for record_id, sequence in read_dna(path))
    else:
        records = [(record_id, sequence.upper()) for record_id, sequence in read_dna(path)]
        finder, counts.cds_source = gene_finder(False, [sequence for _, sequence in records])
    log.info("%s: genes predicted with %s", Path(path).name, counts.cds_source)
    for record_id, sequence in records:
        record = predicted_record(finder, record_id, sequence)
        counts.cds_predicted += len(record.features)
        yield record


def build_training_set(
    genbank_path: str | os.PathLike[str],
    label: Label,
    chunk_size: int,
    nucleotide_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    sources_path: str | os.PathLike[str],
    counts_path: str | os.PathLike[str] | None = None,
    sketches_path: str | os.PathLike[str] | None = None,
) -> SourceCounts:
    """Write the CDS-matching frames of one genome file and where each came from,
    and, if asked, the sketch of every record (so the split can group similar genomes).

    ``genbank_path``: a GenBank file (annotated CDS) or a FASTA genome (genes
    predicted, ``genome_records``)."""
    check_chunk_size(chunk_size)
    source = Path(genbank_path).name
    counts = SourceCounts(source=source, label=label.value)
    sketches: dict[str, np.ndarray] = {}
    with AtomicOutputs() as outputs:
        nucleotides = outputs.open(nucleotide_path)
        proteins = outputs.open(protein_path)
        sources = outputs.open(sources_path)
        sources.write(SOURCES.header)
        records = genome_records(genbank_path, label, counts)
        for record in tqdm(records, desc=source, unit=" records", disable=None):
            # "|" never occurs in a protein, so a match cannot span two translations.
            coding = "|".join(cds_proteins(record, counts))
            sequence = str(record.seq).upper()
            if sketches_path is not None:
                sketches[record.id] = sketch(sequence)
            reads, read_frames = count_projection_reads(record.id, sequence)
            counts.reads_500bp += reads
            counts.read_frames_500bp += read_frames
            chunks = list(chunk_records([(record.id, sequence)], chunk_size))
            usable = [chunk for chunk in chunks if AMBIGUOUS_BASES.isdisjoint(chunk[1])]
            counts.records += 1
            counts.chunks += len(chunks)
            counts.chunks_ambiguous += len(chunks) - len(usable)
            for frames in stop_free_frames(usable):
                for frame in frames:
                    if frame.protein in coding:
                        write_fasta(nucleotides, frame.id, frame.nucleotide)
                        write_fasta(proteins, frame.id, frame.protein)
                        sources.write(f"{frame.id}\t{record.id}\t{label.target}\t{source}\n")
                        counts.frames_kept += 1
        if not counts.frames_kept:
            counts.warning = _no_frame_reason(counts)
        if counts_path is not None:
            write_counts(outputs.open(counts_path), [counts])
        if sketches_path is not None:
            write_sketches(outputs, sketches_path, sketches)
    log.info(
        "%s (%s): %d records, CDS %s (%d predicted), %d CDS translations, "
        "%d CDS translated from their location, %d pseudo CDS skipped, "
        "%d untranslatable CDS skipped, %d chunks, %d skipped for ambiguous bases, "
        "%d frames kept; as %d-bp reads: %d reads, %d frames",
        source,
        label.value,
        counts.records,
        counts.cds_source,
        counts.cds_predicted,
        counts.cds_translations,
        counts.cds_translated,
        counts.cds_skipped_pseudo,
        counts.cds_skipped_untranslatable,
        counts.chunks,
        counts.chunks_ambiguous,
        counts.frames_kept,
        PROJECTION_READ_LENGTH,
        counts.reads_500bp,
        counts.read_frames_500bp,
    )
    if counts.warning:
        log.warning(
            "%s: no training frame (%s): genome skipped, outputs hold no frame",
            source,
            counts.warning,
        )
    return counts


def write_counts(handle: TextIO, rows: list[SourceCounts]) -> None:
    """Write per-input counts as a TSV table with a header."""
    handle.write(COUNTS.header)
    for row in rows:
        values = asdict(row)
        handle.write("\t".join(str(values[column]) for column in COUNTS.columns) + "\n")
