"""CDS without /translation: their location translated with /transl_table (issue 12 item 2).

Checked on the real GenBank files in ../shared/data: where a CDS carries both,
translating its location gives its annotated /translation; the files that carry
locations only (``noTR``) now give training frames; pseudo CDS are skipped and
counted; and a genome that still gives no frame is skipped with a warning.
"""

from __future__ import annotations

import copy
import csv
import logging

import pytest
from Bio.Data.CodonTable import unambiguous_dna_by_id
from conftest import read_fasta, run_script

from virnucpro.files.sequence_files import read_genbank
from virnucpro.preprocess.training_set import (
    Label,
    SourceCounts,
    UntranslatableCDS,
    build_training_set,
    cds_proteins,
    translate_cds,
)

# A CDS whose protein is not the plain translation of its location says so.
DOCUMENTED_EXCEPTIONS = ("exception", "ribosomal_slippage", "transl_except")

# Files that carry /translation on their CDS: every phage (and the archaeal
# virus), other viruses, the genetic-code-4 Mycoplasma, both chloroplasts, the
# plant mitochondrion and bacteria annotated by NCBI or predicted by pyrodigal.
# Expected per file: (CDS with /translation, equal, documented exception,
# alternative start read literally by the annotating tool).
BOTH = {
    "viral/Escherichia_phage_VT2-Sakai_NC_000902.gbk": (83, 83, 0, 0),
    "viral/Stenotrophomonas_phage_phiSMA6_HG315669.gbk": (10, 10, 0, 0),
    "viral/Sulfolobus_rudivirus_SIRV3_NC_030884_truncated.gbk": (16, 11, 0, 5),
    "viral/enterobacteria_phages_6.gbk": (358, 358, 0, 0),
    "viral/escherichia_phages_4.gbk": (401, 401, 0, 0),
    "viral/pharokka_phages_3.gbk": (221, 221, 0, 0),
    "viral/SAOMS1.gbk": (246, 226, 0, 20),
    "viral/hundred_microviruses.gbk": (1081, 1017, 0, 64),
    "viral/mumps_virus_KM597072.gbk": (9, 7, 2, 0),
    "viral/influenzaA_H2N2_H3N2_H7N9_24segments.gbk": (36, 36, 0, 0),
    "viral/monkeypox_virus_NC_063383.gbk": (178, 178, 0, 0),
    "viral/feline_panleukopenia_virus_3partial.gbk": (3, 3, 0, 0),
    "viral/poliovirus_NC_002058.gbk": (1, 1, 0, 0),
    "host/Mycoplasma_gallisepticum_Rlow_NC_004829.gbk.gz": (718, 718, 0, 0),
    "host/NC_000932.gb": (85, 84, 1, 0),
    "host/Jatropha_curcas_chloroplast_NC_012224.gbk": (84, 83, 1, 0),
    "host/Arabidopsis_thaliana_mitochondrion_NC_001284.gbk": (117, 117, 0, 0),
    "host/Chlamydia_trachomatis_A5291_GCF_000318545.1.gbff.gz": (913, 913, 0, 0),
    "host/Acidilobus_saccharovorans_CP001742.1_pyrodigal.gbk.gz": (1502, 1502, 0, 0),
}

NO_TRANSLATION = {
    # file: CDS translated from their location
    "viral/SARS-CoV-2_MN908947_noTR.gbk": 12,
    "viral/ebola_zaire_NC_002549_noTR.gbk": 9,
}

MYCOPLASMA = "host/Mycoplasma_gallisepticum_Rlow_NC_004829.gbk.gz"


def _annotated_cds(path):
    for record in read_genbank(path):
        for feature in record.features:
            if feature.type == "CDS" and "translation" in feature.qualifiers:
                yield record, feature, feature.qualifiers["translation"][0].removesuffix("*")


def _alternative_start_read_literally(feature, record, protein, annotated) -> bool:
    """Tool-predicted CDS (pharokka, prodigal) translate a TTG/GTG start as L/V, not M."""
    table = int(feature.qualifiers.get("transl_table", ["11"])[0])
    first_codon = str(feature.extract(record.seq)[:3]).upper()
    return (
        protein[1:] == annotated[1:]
        and protein[:1] == "M"
        and first_codon in unambiguous_dna_by_id[table].start_codons
        and annotated[:1] == str(unambiguous_dna_by_id[table].forward_table[first_codon])
    )


@pytest.mark.parametrize("name", BOTH, ids=list(BOTH))
def test_translated_location_equals_the_annotated_translation(shared_data, name):
    equal = documented = literal_start = 0
    unexplained = []
    for record, feature, annotated in _annotated_cds(shared_data / name):
        try:
            protein = translate_cds(feature, record.seq)
        except UntranslatableCDS as error:
            protein = f"untranslatable: {error}"
        if protein == annotated:
            equal += 1
        elif any(key in feature.qualifiers for key in DOCUMENTED_EXCEPTIONS):
            documented += 1
        elif _alternative_start_read_literally(feature, record, protein, annotated):
            literal_start += 1
        else:
            unexplained.append((record.id, str(feature.location), protein[:30], annotated[:30]))
    total = equal + documented + literal_start + len(unexplained)
    print(
        f"{name}: {total} CDS with /translation, {equal} equal, {documented} documented "
        f"exceptions, {literal_start} alternative starts read literally by the annotator"
    )
    assert not unexplained
    assert (total, equal, documented, literal_start) == BOTH[name]


def test_mycoplasma_needs_its_genetic_code(shared_data):
    """Code 4 reads TGA as Trp: with code 11 most Mycoplasma genes stop early."""
    cds = list(_annotated_cds(shared_data / MYCOPLASMA))
    assert {feature.qualifiers["transl_table"][0] for _, feature, _ in cds} == {"4"}
    wrong = 0
    for record, feature, annotated in cds:
        as_code_11 = copy.copy(feature)
        as_code_11.qualifiers = {**feature.qualifiers, "transl_table": ["11"]}
        try:
            wrong += translate_cds(as_code_11, record.seq) != annotated
        except UntranslatableCDS:
            wrong += 1
    print(f"{MYCOPLASMA}: {wrong} of {len(cds)} CDS translate differently with code 11")
    assert wrong > len(cds) // 2


def test_partial_cds_and_codon_start(tmp_path):
    """A partial 5' end is not read as a start (no M); /codon_start skips bases; strand-aware."""
    sequence = "A" + "GTGAAATTT" + "TAA" + "GTGCCCGGG" + "AAATTTCAC"
    genbank = tmp_path / "partial.gb"
    genbank.write_text(
        f"LOCUS       partial                  {len(sequence)} bp    DNA     linear   VRL 01-JAN-2000\n"
        "FEATURES             Location/Qualifiers\n"
        "     CDS             <1..13\n"
        "                     /codon_start=2\n"
        "                     /transl_table=11\n"
        "     CDS             14..>22\n"
        "                     /transl_table=11\n"
        "     CDS             2..13\n"
        "                     /transl_table=11\n"
        "     CDS             complement(23..>31)\n"
        "                     /transl_table=11\n"
        "     CDS             complement(<23..31)\n"
        "                     /transl_table=11\n"
        "     CDS             complement(<23..31)\n"
        "     CDS             2..13\n"
        "                     /transl_table=99\n"
        "     CDS             3..14\n"
        "ORIGIN\n"
        f"        1 {sequence.lower()}\n"
        "//\n"
    )
    record = next(read_genbank(genbank))
    cds = [feature for feature in record.features if feature.type == "CDS"]
    assert translate_cds(cds[0], record.seq) == "VKF"  # 5'-partial: GTG read as V
    assert translate_cds(cds[1], record.seq) == "MPG"  # 3'-partial, complete start GTG: M
    assert translate_cds(cds[2], record.seq) == "MKF"  # complete: cds=True, final stop dropped
    assert translate_cds(cds[3], record.seq) == "VKF"  # minus strand, 5' end (>31) partial
    assert translate_cds(cds[4], record.seq) == "MKF"  # minus strand, 3' end (<23) partial
    assert translate_cds(cds[5], record.seq) == "VKF"  # standard code: GTG is no start
    with pytest.raises(UntranslatableCDS, match="bad /transl_table"):
        translate_cds(cds[6], record.seq)
    with pytest.raises(UntranslatableCDS, match="stop codon inside the protein"):
        translate_cds(cds[7], record.seq)  # TGA AAT TTT AAG: a stop first


@pytest.mark.parametrize("name", NO_TRANSLATION, ids=list(NO_TRANSLATION))
def test_files_without_translation_give_frames(tmp_path, shared_data, name, caplog):
    caplog.set_level(logging.INFO)
    counts = build_training_set(
        shared_data / name,
        Label.viral,
        300,
        tmp_path / "nt.fasta",
        tmp_path / "aa.fasta",
        tmp_path / "sources.tsv",
        tmp_path / "counts.tsv",
    )
    assert counts.cds_translations == 0
    assert counts.cds_translated == NO_TRANSLATION[name]
    assert counts.cds_skipped_pseudo == counts.cds_skipped_untranslatable == 0
    assert counts.frames_kept == len(read_fasta(tmp_path / "aa.fasta")) > 0
    assert counts.warning == ""
    with open(tmp_path / "counts.tsv") as handle:
        (row,) = csv.DictReader(handle, delimiter="\t")
    assert row["cds_translated"] == str(NO_TRANSLATION[name])
    assert row["frames_kept"] == str(counts.frames_kept)
    assert f"{NO_TRANSLATION[name]} CDS translated from their location" in caplog.text
    print(
        f"{name}: {counts.cds_translated} CDS translated, {counts.chunks} chunks, "
        f"{counts.frames_kept} frames kept"
    )


@pytest.mark.parametrize(
    ("name", "pseudo", "annotated"),
    [
        ("host/Chlamydia_trachomatis_A5291_GCF_000318545.1.gbff.gz", 25, 913),
        (MYCOPLASMA, 46, 718),
    ],
)
def test_pseudo_cds_are_counted_as_skipped(shared_data, name, pseudo, annotated):
    counts = SourceCounts(source=name, label="host")
    proteins = [
        p for record in read_genbank(shared_data / name) for p in cds_proteins(record, counts)
    ]
    assert (counts.cds_translations, counts.cds_translated) == (annotated, 0)
    assert (counts.cds_skipped_pseudo, counts.cds_skipped_untranslatable) == (pseudo, 0)
    assert len(proteins) == annotated


def _toy_genbank(path, features: str, sequence: str = "ATGAAACCCGGGTTTAAA" * 3):
    path.write_text(
        f"LOCUS       toy                       {len(sequence)} bp    DNA     linear   VRL 01-JAN-2000\n"
        "FEATURES             Location/Qualifiers\n"
        f"{features}"
        "ORIGIN\n"
        f"        1 {sequence.lower()}\n"
        "//\n"
    )
    return path


def test_translated_and_pseudo_cds_on_a_toy_genome(tmp_path):
    genbank = _toy_genbank(
        tmp_path / "toy.gb",
        "     CDS             1..18\n"  # ATGAAACCCGGGTTTAAA: no final stop, read plainly
        "     CDS             19..36\n"
        "                     /pseudo\n"
        "     CDS             37..54\n"
        '                     /pseudogene="unprocessed"\n',
    )
    counts = build_training_set(
        genbank, Label.viral, 18, tmp_path / "nt.fa", tmp_path / "aa.fa", tmp_path / "s.tsv"
    )
    assert (counts.cds_translations, counts.cds_translated) == (0, 1)
    assert (counts.cds_skipped_pseudo, counts.cds_skipped_untranslatable) == (2, 0)
    # Each 18-bp chunk is ATGAAACCCGGGTTTAAA, whose F1 is the translated MKPGFK
    assert read_fasta(tmp_path / "aa.fa") == [(f"toy_chunk_{i}F1", "MKPGFK") for i in (1, 2, 3)]


def test_genome_without_usable_cds_is_skipped_with_a_warning(tmp_path):
    genbank = _toy_genbank(
        tmp_path / "none.gb",
        "     gene            1..18\n"
        "     CDS             1..18\n"
        "                     /pseudo\n"
        "     CDS             2..16\n",  # TGA AAC CCG GGT TTA: a stop first
    )
    result = run_script(
        "build_training_set.py",
        "--genbank", genbank, "--label", "host", "--chunk-size", "300",
        "--nucleotide", tmp_path / "nt.fa", "--protein", tmp_path / "aa.fa",
        "--sources", tmp_path / "s.tsv", "--counts", tmp_path / "counts.tsv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no training frame (no CDS protein (2 CDS skipped))" in result.stderr
    assert "genome skipped, outputs hold no frame" in result.stderr
    assert "CDS [1:16](+) skipped: stop codon inside the protein" in result.stderr
    assert (tmp_path / "s.tsv").read_text() == "frame_id\tgenome\tlabel\tsource\n"
    assert (tmp_path / "nt.fa").read_text() == (tmp_path / "aa.fa").read_text() == ""
    with open(tmp_path / "counts.tsv") as handle:
        (row,) = csv.DictReader(handle, delimiter="\t")
    assert row["frames_kept"] == "0"
    assert (row["cds_skipped_pseudo"], row["cds_skipped_untranslatable"]) == ("1", "1")
    assert row["warning"] == "no CDS protein (2 CDS skipped)"


def test_no_frame_reasons(tmp_path):
    no_cds = _toy_genbank(tmp_path / "no_cds.gb", "     gene            1..18\n")
    counts = build_training_set(
        no_cds, Label.host, 300, tmp_path / "nt.fa", tmp_path / "aa.fa", tmp_path / "s.tsv"
    )
    assert (counts.frames_kept, counts.warning) == (0, "no CDS feature")
    ambiguous = _toy_genbank(
        tmp_path / "n.gb", "     CDS             1..18\n", "ATGAAANNNGGGTTTAAA"
    )
    counts = build_training_set(
        ambiguous, Label.host, 300, tmp_path / "nt.fa", tmp_path / "aa.fa", tmp_path / "s.tsv"
    )
    assert counts.warning == "every chunk has an ambiguous base"
    # a CDS protein (MKPGF) that no stop-free frame of the 48-bp chunk is part of
    other = _toy_genbank(
        tmp_path / "other.gb", "     CDS             1..18\n", "ATGAAACCCGGGTTTTAA" + "C" * 30
    )
    counts = build_training_set(
        other, Label.host, 300, tmp_path / "nt.fa", tmp_path / "aa.fa", tmp_path / "s.tsv"
    )
    assert counts.warning == "no stop-free frame of a chunk occurs in a CDS protein"
