"""CDS of a FASTA genome, predicted, as the CDS features an annotated genome has.

A genome given as FASTA has no CDS annotation; its genes are found with Pyrodigal
(Prodigal) for host genomes and Pyrodigal-gv (Prodigal-gv: giant viruses, phages
with other genetic codes) for viral genomes, and each predicted gene becomes a
CDS feature of its record: its location, with ``<`` / ``>`` ends where the gene
runs off a contig edge (Prodigal's partial genes), and its ``/transl_table``.
The training set then reads these features exactly as it reads annotated CDS
without ``/translation`` (``training_set.cds_proteins``).

How the genes were found (the counts table's ``cds_source``): a host genome of at least
``MIN_TRAINING_BASES`` bases (all records together, Prodigal's contigs of one
genome) trains Prodigal on itself (single-genome mode, genetic code 11,
Prodigal's default); a shorter one, and every viral genome, is read with the
metagenomic models (each gene then has the code of the model that found it).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from Bio.Seq import Seq
from Bio.SeqFeature import AfterPosition, BeforePosition, ExactPosition, SeqFeature, SimpleLocation
from Bio.SeqRecord import SeqRecord

if TYPE_CHECKING:
    import pyrodigal

log = logging.getLogger(__name__)

#: File names read as FASTA genomes (optionally ``.gz``); any other is read as GenBank.
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
#: Shortest genome (bases, all records) Prodigal can train on (pyrodigal.MIN_SINGLE_GENOME):
#: shorter ones use meta mode.
MIN_TRAINING_BASES = 20000
#: Genetic code of single-genome mode (Prodigal's default; meta models bring their own).
SINGLE_MODE_TABLE = 11
#: The counts table's ``cds_source``: annotated CDS, or the gene finder and its mode.
ANNOTATED = "annotated"
HOST_SINGLE = "pyrodigal:single"
HOST_META = "pyrodigal:meta"
VIRAL_META = "pyrodigal-gv:meta"


def is_fasta_genome(path: str | Path) -> bool:
    """Whether ``path`` is named as a FASTA file (``.fa .fasta .fna .fas``, optionally ``.gz``)."""
    name = Path(path).name.lower().removesuffix(".gz")
    return name.endswith(FASTA_SUFFIXES)


def gene_finder(viral: bool, sequences: Sequence[str]) -> tuple[pyrodigal.GeneFinder, str]:
    """The gene finder for a genome made of ``sequences`` (uppercase DNA) and its ``cds_source`` name.

    Viral: Pyrodigal-gv's metagenomic models. Host: Prodigal trained on the genome
    when it has at least ``MIN_TRAINING_BASES`` bases, else its metagenomic models.
    Imported here: Pyrodigal-gv takes a second or more to load its models, which a
    GenBank genome (and ``--help``) does not need.
    """
    import pyrodigal
    import pyrodigal_gv

    if viral:
        return pyrodigal_gv.ViralGeneFinder(meta=True), VIRAL_META
    if sum(map(len, sequences)) < MIN_TRAINING_BASES:
        return pyrodigal.GeneFinder(meta=True), HOST_META
    finder = pyrodigal.GeneFinder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finder.train(*sequences, translation_table=SINGLE_MODE_TABLE)
    for warning in caught:  # under 100 kb: Prodigal's advice, not an error
        log.warning("Prodigal training: %s", warning.message)
    return finder, HOST_SINGLE


def predicted_cds(finder: pyrodigal.GeneFinder, sequence: str) -> list[SeqFeature]:
    """The genes ``finder`` finds on ``sequence`` as CDS features, in Prodigal's order.

    Prodigal's coordinates are 1-based and inclusive on the forward strand; a gene
    running off the sequence's start (``partial_begin``) gets a ``<`` start, one
    running off its end a ``>`` end, as a partial annotated CDS has. Prodigal cuts
    partial genes to whole codons, so ``/codon_start`` is always 1.
    """
    features = []
    for gene in finder.find_genes(sequence):
        start = (
            BeforePosition(gene.begin - 1) if gene.partial_begin else ExactPosition(gene.begin - 1)
        )
        end = AfterPosition(gene.end) if gene.partial_end else ExactPosition(gene.end)
        features.append(
            SeqFeature(
                SimpleLocation(start, end, strand=gene.strand),
                type="CDS",
                qualifiers={"transl_table": [str(gene.translation_table)]},
            )
        )
    return features


def predicted_record(finder: pyrodigal.GeneFinder, record_id: str, sequence: str) -> SeqRecord:
    """A record of ``sequence`` (uppercase DNA) whose features are its predicted CDS."""
    return SeqRecord(Seq(sequence), id=record_id, features=predicted_cds(finder, sequence))
