"""The training rule (SPEC §4) on the real GenBank files in ../shared/data."""

from __future__ import annotations

import csv
import gzip
import shutil

import pytest
import reference
from conftest import ASSETS, read_fasta

from virnucpro.errors import InputError
from virnucpro.training_set import Label, build_training_set

GENBANK_FILES = [
    ("viral/hundred_microviruses.gbk", Label.viral),
    ("viral/SAOMS1.gbk", Label.viral),
    ("viral/EU851978.gbk", Label.viral),
    ("viral/HM138502.gbk", Label.viral),
    ("viral/KF527485.gbk", Label.viral),
    ("host/Streptococcus_pyogenes_M1_GAS.gb", Label.host),
    ("host/NC_000932.gb", Label.host),
    ("host/arab1.gb", Label.host),
    ("host/extra_keywords.gb", Label.host),
    ("host/NC_005816.gb", Label.host),
]


def _build(tmp_path, genbank, label, chunk_size=300):
    counts = build_training_set(
        genbank,
        label,
        chunk_size,
        tmp_path / "nt.fasta",
        tmp_path / "aa.fasta",
        tmp_path / "sources.tsv",
        tmp_path / "counts.tsv",
    )
    with open(tmp_path / "sources.tsv") as handle:
        sources = list(csv.DictReader(handle, delimiter="\t"))
    return counts, sources


@pytest.mark.parametrize(("name", "label"), GENBANK_FILES, ids=[name for name, _ in GENBANK_FILES])
def test_matches_reference_on_real_genomes(tmp_path, shared_data, name, label):
    counts, sources = _build(tmp_path, shared_data / name, label)
    expected, expected_counts = reference.training_frames(shared_data / name, 300)
    nucleotides, proteins = read_fasta(tmp_path / "nt.fasta"), read_fasta(tmp_path / "aa.fasta")
    assert [(frame_id, nt) for frame_id, nt in nucleotides] == [(f[0], f[1]) for f in expected]
    assert [(frame_id, aa) for frame_id, aa in proteins] == [(f[0], f[2]) for f in expected]
    assert [(row["frame_id"], row["genome"]) for row in sources] == [(f[0], f[3]) for f in expected]
    assert {row["label"] for row in sources} <= {str(label.target)}
    assert {row["source"] for row in sources} <= {(shared_data / name).name}
    assert (counts.records, counts.chunks, counts.chunks_ambiguous) == tuple(
        expected_counts.values()
    )
    assert counts.frames_kept == len(expected) > 0
    # these files carry /translation on every CDS they use: nothing translated or skipped
    assert (counts.cds_translated, counts.cds_skipped_pseudo) == (0, 0)
    assert (counts.cds_skipped_untranslatable, counts.warning) == (0, "")
    print(
        f"{name}: {counts.records} records, {counts.cds_translations} CDS translations, "
        f"{counts.chunks} chunks, {counts.chunks_ambiguous} skipped (ambiguous), {counts.frames_kept} frames kept"
    )


def test_counts_table_and_gzip_input(tmp_path):
    source = tmp_path / "pPCP1.gb.gz"
    with open(ASSETS / "NC_005816.gb", "rb") as plain, gzip.open(source, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    counts, sources = _build(tmp_path, source, Label.host)
    table = (tmp_path / "counts.tsv").read_text().splitlines()
    assert table[0].split("\t") == [
        "source",
        "label",
        "records",
        "cds_translations",
        "chunks",
        "chunks_ambiguous",
        "frames_kept",
        "cds_translated",
        "cds_skipped_pseudo",
        "cds_skipped_untranslatable",
        "warning",
    ]
    # 9609 bp at chunk size 300: ceil(9609 / 300) = 33 chunks; 10 annotated CDS.
    row = table[1].split("\t")
    assert row[:6] == ["pPCP1.gb.gz", "host", "1", "10", "33", "0"]
    assert int(row[6]) == counts.frames_kept == len(sources) > 0
    # every CDS carries /translation: none translated or skipped, no warning
    assert row[7:] == ["0", "0", "0", ""]
    assert {row["label"] for row in sources} == {"0"}


def test_ambiguous_chunks_are_skipped_and_counted(tmp_path):
    record = "ATGAAACCCGGGTTTAAA"
    genbank = tmp_path / "toy.gb"
    genbank.write_text(
        "LOCUS       toy                       36 bp    DNA     linear   VRL 01-JAN-2000\n"
        "FEATURES             Location/Qualifiers\n"
        "     CDS             1..18\n"
        '                     /translation="MKPGFK"\n'
        "ORIGIN\n"
        f"        1 {record.lower()} {'atgaaacnnggg'.lower()}tttaaa\n"
        "//\n"
    )
    counts, sources = _build(tmp_path, genbank, Label.viral, chunk_size=18)
    # Chunk 1 (ATGAAACCCGGGTTTAAA) keeps F1 MKPGFK; chunk 2 has N, so it is skipped.
    assert (counts.chunks, counts.chunks_ambiguous, counts.frames_kept) == (2, 1, 1)
    assert read_fasta(tmp_path / "aa.fasta") == [("toy_chunk_1F1", "MKPGFK")]
    assert sources == [
        {"frame_id": "toy_chunk_1F1", "genome": "toy", "label": "1", "source": "toy.gb"}
    ]


def test_fasta_given_as_genbank_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a GenBank file"):
        _build(tmp_path, ASSETS / "mixed_example.fasta", Label.host)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("LOCUS x\n", "no complete GenBank record"),
        ("LOCUS       x\n", "not a valid GenBank file: Premature end of line"),
        ((ASSETS / "EU851978.gbk").read_text() * 2, "duplicate record id 'EU851978.1'"),
    ],
    ids=["no-record", "truncated", "duplicate-records"],
)
def test_bad_genbank_is_refused(tmp_path, content, message):
    genbank = tmp_path / "bad.gb"
    genbank.write_text(content)
    with pytest.raises(InputError, match=message):
        _build(tmp_path, genbank, Label.viral)
    assert [path.name for path in tmp_path.iterdir()] == ["bad.gb"]
