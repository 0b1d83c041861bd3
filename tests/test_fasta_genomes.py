"""FASTA genomes in the training set: predicted genes take the annotated CDS's path.

The genomes are real ones bundled in assets/test_full, written here as FASTA from
their GenBank files, so that predictions can be held against the annotation:
Escherichia phage VT2-Sakai (NC_000902, 60,942 bp, 83 annotated CDS), Yersinia
pestis plasmid pPCP1 (NC_005816, 9,609 bp), Haemophilus influenzae Rd KW20
(1.83 Mb), Mycoplasma gallisepticum (genetic code 4) and SARS-CoV-2.
"""

from __future__ import annotations

import csv
import functools
import gzip
import logging
from pathlib import Path

import pyrodigal
import pyrodigal_gv
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqFeature import AfterPosition, BeforePosition
from Bio.SeqRecord import SeqRecord
from conftest import ROOT, read_fasta, run_script, write_fasta

from virnucpro.errors import InputError
from virnucpro.files.contracts import COUNTS
from virnucpro.files.sequence_files import read_genbank
from virnucpro.preprocess.gene_prediction import (
    HOST_META,
    HOST_SINGLE,
    MIN_TRAINING_BASES,
    VIRAL_META,
    gene_finder,
    is_fasta_genome,
    predicted_record,
)
from virnucpro.preprocess.training_set import Label, build_training_set, translate_cds

FULL = ROOT / "assets" / "test_full"
PHAGE = "Escherichia_phage_VT2-Sakai_NC_000902.gbk.gz"
PLASMID = "NC_005816.gb.gz"
BACTERIUM = "Haemophilus_influenzae_Rd_KW20.gb.gz"
MYCOPLASMA = "Mycoplasma_gallisepticum_Rlow_NC_004829.gbk.gz"
SARS_COV_2 = "SARS-CoV-2_MN908947_noTR.gbk.gz"


@functools.cache
def _genbank(name: str) -> list[SeqRecord]:
    """The records of a bundled GenBank file (each read once per session)."""
    return list(read_genbank(FULL / name))


def _sequences(name: str) -> list[tuple[str, str]]:
    return [(record.id, str(record.seq)) for record in _genbank(name)]


def _fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    """``records`` written as FASTA at ``path`` (gzip-compressed when it ends in .gz)."""
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write("".join(f">{name}\n{sequence}\n" for name, sequence in records))
        return path
    return write_fasta(path, records)


def _build(tmp_path: Path, genome: Path, label: Label, out: str = "out"):
    """build_training_set on ``genome``: its counts, counts row, frames and sources."""
    folder = tmp_path / out
    folder.mkdir()
    counts = build_training_set(
        genome, label, 300, folder / "nt.fasta", folder / "aa.fasta", folder / "sources.tsv",
        folder / "counts.tsv",
    )  # fmt: skip
    with open(folder / "counts.tsv") as handle:
        (row,) = csv.DictReader(handle, delimiter="\t")
    with open(folder / "sources.tsv") as handle:
        sources = list(csv.DictReader(handle, delimiter="\t"))
    frames = list(
        zip(read_fasta(folder / "nt.fasta"), read_fasta(folder / "aa.fasta"), strict=True)
    )
    return counts, row, frames, sources


@pytest.mark.parametrize(
    ("name", "file_name", "label", "finder"),
    [
        (PHAGE, "VT2-Sakai.fasta", Label.viral, VIRAL_META),
        (PLASMID, "pPCP1.fna.gz", Label.host, HOST_META),
    ],
    ids=["viral-phage", "host-plasmid-gz"],
)
def test_fasta_host_and_viral_rows_give_frames(tmp_path, name, file_name, label, finder):
    genome = _fasta(tmp_path / file_name, _sequences(name))
    counts, row, frames, sources = _build(tmp_path, genome, label)
    assert counts.frames_kept == len(frames) == len(sources) > 0
    assert {row["label"] for row in sources} == {str(label.target)}
    assert {row["source"] for row in sources} == {file_name}
    # where the CDS come from, and every predicted gene translated (none annotated)
    assert (row["cds_source"], row["cds_translations"]) == (finder, "0")
    assert int(row["cds_predicted"]) == int(row["cds_translated"]) == counts.cds_predicted > 0
    assert row["cds_skipped_untranslatable"] == row["cds_skipped_pseudo"] == "0"
    assert row["warning"] == ""
    assert list(row) == list(COUNTS.columns)


def test_predicted_genes_on_a_phage_are_close_to_its_annotation(tmp_path):
    # Phage VT2-Sakai has 83 annotated CDS; Pyrodigal-gv (3.7.1 / 0.3.2) predicts 85,
    # 49 of them at exactly an annotated CDS's location, 76 ending at an annotated stop.
    # Prodigal on a well-annotated phage is expected within about 10% of the
    # annotation, so 75 to 91 genes (83 +- 10%) is asked for.
    genome = _fasta(tmp_path / "VT2-Sakai.fa", _sequences(PHAGE))
    counts, row, _, _ = _build(tmp_path, genome, Label.viral)
    annotated = sum(feature.type == "CDS" for feature in _genbank(PHAGE)[0].features)
    assert annotated == 83
    assert 75 <= counts.cds_predicted <= 91
    assert row["cds_predicted"] == str(counts.cds_predicted)


def test_host_mode_follows_the_genome_length(tmp_path, caplog):
    """Trained on the genome from MIN_TRAINING_BASES bases (all records together), else meta."""
    caplog.set_level(logging.INFO)
    bacterium = str(_genbank(BACTERIUM)[0].seq)
    assert MIN_TRAINING_BASES == pyrodigal.MIN_SINGLE_GENOME == 20000  # no training on less
    short = _fasta(tmp_path / "short.fa", [("contig_1", bacterium[: MIN_TRAINING_BASES - 1])])
    counts, row, frames, _ = _build(tmp_path, short, Label.host, "short")
    assert (row["cds_source"], counts.cds_source) == (HOST_META, HOST_META) and frames
    assert "short.fa: genes predicted with pyrodigal:meta" in caplog.text
    # two contigs of one genome that reach the length together: trained on both
    half = MIN_TRAINING_BASES // 2
    contigs = [("contig_1", bacterium[:half]), ("contig_2", bacterium[half : 2 * half])]
    counts, row, frames, _ = _build(
        tmp_path, _fasta(tmp_path / "two.fa", contigs), Label.host, "two"
    )
    assert row["cds_source"] == HOST_SINGLE and frames
    assert int(row["cds_predicted"]) == int(row["cds_translated"]) > 0
    # under 100 kb Prodigal advises more sequence: said in the log, not an error
    assert "Prodigal training: sequence should be at least 100000 characters" in caplog.text


def test_a_bacterium_as_fasta_is_trained_on_and_close_to_its_annotation(tmp_path):
    # H. influenzae Rd KW20: 1810 annotated CDS; Prodigal trained on the genome finds
    # 1748 (-3.4%), 1701 at an annotated location. A bacterial genome is expected
    # within about 5% of its annotation: 1720 to 1900.
    genome = _fasta(tmp_path / "Hi.fna.gz", _sequences(BACTERIUM))
    counts, row, frames, _ = _build(tmp_path, genome, Label.host)
    assert row["cds_source"] == HOST_SINGLE
    assert 1720 <= counts.cds_predicted <= 1900
    # nearly the frames of the annotation (3619 frames from the GenBank file)
    assert 3400 <= len(frames) <= 3800


def test_viral_genes_keep_their_own_genetic_code(tmp_path):
    # Mycoplasma reads TGA as W (code 4), as some phages do; Pyrodigal-gv's models
    # include code 4: on 10 kb of M. gallisepticum it finds 8 genes, all code 4, five
    # of them through a TGA, which code 11 would read as a stop inside the protein.
    piece = str(_genbank(MYCOPLASMA)[0].seq)[:10000]
    counts, row, _, _ = _build(tmp_path, _fasta(tmp_path / "m.fa", [("m", piece)]), Label.viral)
    assert row["cds_source"] == VIRAL_META
    assert counts.cds_predicted == counts.cds_translated == 8
    assert counts.cds_skipped_untranslatable == 0
    record = predicted_record(gene_finder(True, [])[0], "m", piece.upper())
    assert {feature.qualifiers["transl_table"][0] for feature in record.features} == {"4"}
    assert sum("W" in translate_cds(feature, record.seq) for feature in record.features) >= 5


def test_viral_rows_use_the_viral_models_host_rows_the_stock_ones(tmp_path):
    # SARS-CoV-2 (29,903 bp): of Prodigal-gv's models, one of its gut-phage models fits
    # best and finds 8 genes; stock Prodigal's metagenomic models (bacteria) find 9.
    (sars,) = _sequences(SARS_COV_2)
    viral = pyrodigal_gv.ViralGeneFinder(meta=True).find_genes(sars[1])
    viral_models = {model.description for model in pyrodigal_gv.METAGENOMIC_BINS_VIRAL}
    assert viral.metagenomic_bin.description in viral_models
    stock = pyrodigal.GeneFinder(meta=True).find_genes(sars[1])
    assert (len(viral), len(stock)) == (8, 9)
    genome = _fasta(tmp_path / "sars.fa", [sars])
    counts, row, _, _ = _build(tmp_path, genome, Label.viral, "viral")
    assert (row["cds_source"], counts.cds_predicted) == (VIRAL_META, 8)
    # as a host genome of more than 20 kb it is trained on (single mode), not meta
    counts, row, _, _ = _build(tmp_path, genome, Label.host, "host")
    assert row["cds_source"] == HOST_SINGLE and counts.cds_predicted > 0


def test_a_gene_that_matches_an_annotated_cds_gives_its_protein():
    (phage,) = _genbank(PHAGE)
    annotated = {
        (int(f.location.start), int(f.location.end), f.location.strand): f.qualifiers[
            "translation"
        ][0]
        for f in phage.features
        if f.type == "CDS"
    }
    finder, _ = gene_finder(True, [])
    record = predicted_record(finder, phage.id, str(phage.seq).upper())
    same = [
        (feature, annotated[key])
        for feature in record.features
        if (
            key := (int(feature.location.start), int(feature.location.end), feature.location.strand)
        )
        in annotated
    ]
    assert len(same) >= 40  # 49 with Pyrodigal-gv 0.3.2
    assert all(translate_cds(feature, record.seq) == protein for feature, protein in same)


def test_the_same_genome_as_genbank_and_as_fasta_gives_the_same_frames(tmp_path):
    """A FASTA genome's frames are those of a GenBank file annotated with the same genes."""
    (phage,) = _genbank(PHAGE)
    fasta = _fasta(tmp_path / "VT2.fasta", [(phage.id, str(phage.seq))])
    record = predicted_record(gene_finder(True, [])[0], phage.id, str(phage.seq).upper())
    record.name, record.annotations["molecule_type"] = "NC_000902", "DNA"
    genbank = tmp_path / "VT2.gbk"
    SeqIO.write(record, genbank, "genbank")
    _, fasta_row, fasta_frames, fasta_sources = _build(tmp_path, fasta, Label.viral, "f")
    _, genbank_row, genbank_frames, genbank_sources = _build(tmp_path, genbank, Label.viral, "g")
    assert fasta_frames == genbank_frames and len(fasta_frames) > 50
    drop = ("source",)
    assert [[r[k] for k in r if k not in drop] for r in fasta_sources] == [
        [r[k] for k in r if k not in drop] for r in genbank_sources
    ]
    assert (genbank_row["cds_source"], genbank_row["cds_predicted"]) == ("annotated", "0")
    assert (
        fasta_row["cds_translated"] == genbank_row["cds_translated"] == fasta_row["cds_predicted"]
    )
    # and most frames are those of the real annotation
    _, _, annotated_frames, _ = _build(tmp_path, FULL / PHAGE, Label.viral, "a")
    shared = set(fasta_frames) & set(annotated_frames)
    assert len(shared) >= 0.8 * len(annotated_frames)


def test_genes_at_contig_edges_are_partial_cds(tmp_path):
    # 4 kb of VT2-Sakai from base 23031, an in-frame GTG inside VT2-Sap44 (22680..24617):
    # the gene runs off the contig's start. As a partial CDS its first codon is read
    # as V, not as a start (M), and its protein is the annotated protein's C-terminal
    # part; reversed, the same gene runs off the end on the minus strand.
    (phage,) = _genbank(PHAGE)
    sap44 = next(
        f.qualifiers["translation"][0]
        for f in phage.features
        if f.type == "CDS" and f.qualifiers.get("locus_tag") == ["VT2-Sap44"]
    )
    piece = str(phage.seq)[23030:27030]
    finder, _ = gene_finder(True, [])
    for contig, strand in ((piece, 1), (str(Seq(piece).reverse_complement()), -1)):
        record = predicted_record(finder, "edge", contig)
        (edge,) = [
            f
            for f in record.features
            if f.location.strand == strand
            and (f.location.start == 0 if strand == 1 else f.location.end == 4000)
        ]
        five_prime = edge.location.start if strand == 1 else edge.location.end
        assert isinstance(five_prime, BeforePosition if strand == 1 else AfterPosition)
        protein = translate_cds(edge, record.seq)
        assert protein.startswith("VTPGG") and sap44.endswith(protein) and len(protein) == 528
    # through the training set: the edge gene's frames are kept, the first one from V
    counts, _, frames, _ = _build(
        tmp_path, _fasta(tmp_path / "edge.fa", [("edge", piece)]), Label.viral
    )
    assert counts.cds_skipped_untranslatable == 0
    proteins = dict(aa for _, aa in frames)
    assert proteins["edge_chunk_1F1"].startswith("VTPGG")
    assert proteins["edge_chunk_1F1"] in protein


@pytest.mark.parametrize(
    "records",
    [[("stops", "TTAA" * 250)], [("short", "ACGTTAGC" * 6), ("stops", "TTAA" * 250)]],
    ids=["stops-in-every-frame", "short-contig-and-stops"],
)
def test_a_genome_without_predicted_genes_is_a_counted_skip(tmp_path, caplog, records):
    """As a GenBank file without CDS: no frame, the reason in the warning column and the log."""
    genome = _fasta(tmp_path / "none.fa", records)
    counts, row, frames, sources = _build(tmp_path, genome, Label.viral)
    assert (frames, sources) == ([], [])
    assert (row["cds_predicted"], row["frames_kept"]) == ("0", "0")
    assert row["warning"] == counts.warning == "no gene predicted (pyrodigal-gv:meta)"
    assert int(row["records"]) == len(records)
    assert "none.fa: no training frame (no gene predicted (pyrodigal-gv:meta))" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        (">a\n\n>b\n", "no sequence: all 2 records are empty"),
        (">p1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n", "record 'p1' looks like a protein sequence"),
        ("LOCUS       x  10 bp\n", "not a FASTA file"),
        (">a\nACGT\n>a\nACGT\n", "duplicate sequence id 'a'"),
    ],
    ids=["empty", "empty-records", "protein", "genbank-named-fasta", "duplicate-ids"],
)
def test_bad_fasta_genomes_are_refused(tmp_path, content, message):
    genome = tmp_path / "bad.fasta"
    genome.write_text(content)
    with pytest.raises(InputError, match=message):
        build_training_set(
            genome,
            Label.host,
            300,
            tmp_path / "nt",
            tmp_path / "aa",
            tmp_path / "s",
            tmp_path / "c",
        )
    assert [path.name for path in tmp_path.iterdir()] == ["bad.fasta"]


def test_an_rna_genome_is_read_as_dna(tmp_path):
    sequences = _sequences(PLASMID)
    dna = _fasta(tmp_path / "dna.fa", sequences)
    rna = _fasta(
        tmp_path / "rna.fa", [(name, seq.replace("T", "U").lower()) for name, seq in sequences]
    )
    _, dna_row, dna_frames, _ = _build(tmp_path, dna, Label.host, "dna")
    _, rna_row, rna_frames, _ = _build(tmp_path, rna, Label.host, "rna")
    assert rna_frames == dna_frames and dna_frames
    assert rna_row["cds_predicted"] == dna_row["cds_predicted"] != "0"


@pytest.mark.parametrize(
    ("name", "fasta"),
    [
        ("g.fa", True), ("g.fasta", True), ("g.fna", True), ("g.fas", True), ("G.FNA.GZ", True),
        ("g.fasta.gz", True), ("g.gb", False), ("g.gbk.gz", False), ("g.gbff", False),
        ("fasta", False), ("g.fa.bz2", False),
    ],
)  # fmt: skip
def test_fasta_genomes_are_known_by_their_name(name, fasta):
    assert is_fasta_genome(Path("dir.gb") / name) is fasta


def test_the_command_says_how_fasta_genes_are_found(tmp_path):
    result = run_script("build_training_set.py", "--help")
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for words in (".fa, .fasta, .fna or .fas", "Pyrodigal (Prodigal) trained on the genome",
                  "20,000 bases", "Pyrodigal-gv", "pyrodigal-gv:meta"):  # fmt: skip
        assert words in help_text, words
    assert f"{MIN_TRAINING_BASES:,} bases" in help_text
    genome = _fasta(tmp_path / "pPCP1.fa", _sequences(PLASMID))
    result = run_script(
        "build_training_set.py", "--genbank", genome, "--label", "host", "--nucleotide",
        tmp_path / "nt", "--protein", tmp_path / "aa", "--sources", tmp_path / "s", "--counts",
        tmp_path / "c.tsv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pPCP1.fa: genes predicted with pyrodigal:meta" in result.stderr
    assert "CDS pyrodigal:meta (9 predicted)" in result.stderr
