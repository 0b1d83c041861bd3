"""``build_training_set.py`` (``virnucpro build-training-set``): labelled coding frames from
GenBank genomes (annotated CDS) or FASTA genomes (predicted genes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads
from virnucpro.preprocess.settings import Label

app = new_app(
    "Build labelled training frames from an annotated GenBank file or a FASTA genome "
    "(genes predicted with Pyrodigal / Pyrodigal-gv)."
)


@app.command(name="build-training-set")
def build_training_set_command(
    genbank: Annotated[
        Path,
        typer.Option(
            help="Genome file, plain or gzip-compressed: GenBank (its annotated CDS are used), "
            "or FASTA when named .fa, .fasta, .fna or .fas (optionally .gz; its genes are "
            "predicted, as described above)."
        ),
    ],
    label: Annotated[Label, typer.Option(help="Class of every genome in the file.")],
    nucleotide: Annotated[
        Path, typer.Option(help="FASTA to write: nucleotide slices of the kept frames.")
    ],
    protein: Annotated[Path, typer.Option(help="FASTA to write: proteins of the kept frames.")],
    sources: Annotated[
        Path,
        typer.Option(help="TSV to write: frame_id, genome, label (1 viral, 0 host), source file."),
    ],
    chunk_size: Annotated[int, typer.Option(help="Chunk length in bases.")] = 300,
    counts: Annotated[
        Path | None,
        typer.Option(
            help="TSV to write: records, CDS translations, chunks, chunks skipped, frames kept, "
            "CDS translated from their location, CDS skipped (pseudo, untranslatable), where "
            "the CDS come from (annotated, pyrodigal:single, pyrodigal:meta or "
            "pyrodigal-gv:meta) and how many genes were predicted, the records' 500 bp reads "
            "and the stop-free frames predict mode would embed from them, and why no frame "
            "was kept."
        ),
    ] = None,
    sketches: Annotated[
        Path | None,
        typer.Option(
            help="Safetensors file to write: the k-mer sketch of every record, with which "
            "split_dataset.py --group-by cluster keeps similar genomes in one split."
        ),
    ] = None,
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Chunk each record and keep the stop-free frames found in its CDS translations.

    Chunks with an ambiguous base (N R Y M K S W H B V D) are skipped and
    counted. A frame is kept only if its protein is part of one of the
    record's annotated CDS /translation qualifiers; a CDS without one is
    translated from its location with its /transl_table (pseudo CDS are skipped
    and counted).

    A FASTA genome (RNA read as DNA) has no annotation: its genes are predicted
    and used as CDS without /translation. Host: Pyrodigal (Prodigal) trained on
    the genome (all records together, genetic code 11) when it has at least
    20,000 bases, else in metagenomic mode. Viral: Pyrodigal-gv (Prodigal-gv's
    metagenomic models, which cover giant viruses and phages with other genetic
    codes; each gene keeps its model's code). Genes running off a contig edge
    are partial CDS, translated codon by codon. The counts table says which
    finder and mode was used and how many genes it found.

    Each kept frame's genome (record id) is recorded so that the
    split can keep genomes apart, and --sketches writes each record's FracMinHash
    sketch (canonical 21-mers, one in 100) with which it keeps similar genomes
    together. A file that gives no frame is not an error: its outputs hold no
    frame (the sources table its header only), a warning says why, and the
    counts table's warning column too.
    """
    limit_cpu_threads(threads)
    from virnucpro.preprocess.training_set import build_training_set

    build_training_set(genbank, label, chunk_size, nucleotide, protein, sources, counts, sketches)


def main() -> None:
    """Entry point of ``bin/build_training_set.py``."""
    run_app(app)
