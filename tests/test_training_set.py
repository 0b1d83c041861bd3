"""The training rule (SPEC §4) on the real GenBank files in ../shared/data."""

from __future__ import annotations

import csv
import gzip
import shutil

import pytest
import reference
from conftest import ASSETS, read_fasta, run_script

from virnucpro.errors import InputError
from virnucpro.files import sequence_files
from virnucpro.files.contracts import PROJECTION_READ_LENGTH
from virnucpro.files.sequence_files import read_genbank
from virnucpro.preprocess.chunking import minimum_length
from virnucpro.preprocess.read_projection import PROJECTION_MIN_LENGTH, count_projection_reads
from virnucpro.preprocess.sketches import read_sketches, sketch
from virnucpro.preprocess.training_set import Label, build_training_set

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
    # the projection counts: every record as 500 bp reads, frames of reads of 250 bp or more
    sequences = [str(record.seq).upper() for record in read_genbank(shared_data / name)]
    reads = [read for seq in sequences for read in reference.chunk("r", seq, 500)]
    assert counts.reads_500bp == len(reads)
    assert counts.read_frames_500bp == sum(
        len(reference.stop_free_frames(read_id, read))
        for read_id, read in reads
        if len(read) >= 250
    )
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
        "cds_source",
        "cds_predicted",
        "reads_500bp",
        "read_frames_500bp",
        "warning",
    ]
    # 9609 bp at chunk size 300: ceil(9609 / 300) = 33 chunks; 10 annotated CDS.
    row = table[1].split("\t")
    assert row[:6] == ["pPCP1.gb.gz", "host", "1", "10", "33", "0"]
    assert int(row[6]) == counts.frames_kept == len(sources) > 0
    # every CDS carries /translation: none translated or skipped, no warning
    assert row[7:10] == ["0", "0", "0"]
    # a GenBank file: its annotated CDS, no gene predicted
    assert row[10:12] == ["annotated", "0"]
    # as 500 bp reads: ceil(9609 / 500) = 20 reads, all at least 250 bp
    assert row[12] == "20" and int(row[13]) == counts.read_frames_500bp > 0
    assert row[14] == ""
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
    # a FASTA file is read as a genome by its name (.fa .fasta .fna .fas, test_fasta_genomes);
    # named as GenBank, it is refused by the GenBank reader
    genbank = tmp_path / "mixed_example.gb"
    shutil.copyfile(ASSETS / "mixed_example.fasta", genbank)
    with pytest.raises(InputError, match="not a GenBank file"):
        _build(tmp_path, genbank, Label.host)
    assert [path.name for path in tmp_path.iterdir()] == ["mixed_example.gb"]


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


def test_projection_counts_follow_predict_mode_at_500_bp():
    # predict mode scores chunks of at least half the chunk size
    assert PROJECTION_READ_LENGTH == 500
    assert minimum_length(PROJECTION_READ_LENGTH) == PROJECTION_MIN_LENGTH == 250
    # 1200 bp: 3 reads of 500, 500 and 500 bases (overlapping) -> all scored
    sequence = ("ATG" + "GCT" * 165 + "TAA") * 2 + "A" * 198  # 1200 bp
    reads, read_frames = count_projection_reads("x", sequence)
    assert reads == 3
    frames = sum(
        len(reference.stop_free_frames(rid, read))
        for rid, read in reference.chunk("x", sequence, 500)
    )
    assert read_frames == frames > 0
    # a 249 bp record: one read, too short to be scored; ambiguous bases still counted
    assert count_projection_reads("y", "ATGNNN" + "GCT" * 81) == (1, 0)
    reads, read_frames = count_projection_reads("z", "N" + "GCT" * 100)
    assert reads == 1 and read_frames > 0


def test_sketches_of_every_record(tmp_path):
    # microviruses_12: 12 records, one sketch each, also of records without frames
    build_training_set(
        ASSETS / "microviruses_12.gbk", Label.viral, 300, tmp_path / "nt.fasta",
        tmp_path / "aa.fasta", tmp_path / "sources.tsv", sketches_path=tmp_path / "s.safetensors",
    )  # fmt: skip
    found = read_sketches(tmp_path / "s.safetensors")
    records = list(read_genbank(ASSETS / "microviruses_12.gbk"))
    assert sorted(found) == sorted(record.id for record in records)
    for record in records:
        assert found[record.id].tolist() == sketch(str(record.seq)).tolist()
        assert len(found[record.id]) > 20


def test_sketches_option_of_the_command(tmp_path):
    result = run_script(
        "build_training_set.py", "--genbank", ASSETS / "NC_005816.gb", "--label", "host",
        "--nucleotide", tmp_path / "nt", "--protein", tmp_path / "aa", "--sources", tmp_path / "s",
        "--sketches", tmp_path / "sk",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(read_sketches(tmp_path / "sk")) == ["NC_005816.1"]
    assert "as 500-bp reads: 20 reads" in result.stderr


def _toy_genbank(path, features: str, sequence: str = "atgaaacccgggtttaaa" * 2):
    """A one-record GenBank file with ``features`` (feature-table lines) on ``sequence``."""
    lines = [sequence[i : i + 60] for i in range(0, len(sequence), 60)]
    origin = "".join(
        f"{60 * n + 1:>9} {' '.join(line[i : i + 10] for i in range(0, 60, 10))}\n"
        for n, line in enumerate(lines)
    )
    path.write_text(
        f"LOCUS       toy                       {len(sequence)} bp    DNA     linear   VRL "
        "01-JAN-2000\nFEATURES             Location/Qualifiers\n"
        f"{features}ORIGIN\n{origin}//\n"
    )
    return path


def test_cds_features_are_checked_against_their_record(tmp_path):
    # 36 bp: a good CDS, two reaching past the end (with and without /translation),
    # one with a part on another record (without /translation)
    genbank = _toy_genbank(
        tmp_path / "toy.gb",
        "     CDS             1..18\n"
        '                     /translation="MKPGFK"\n'
        "     CDS             19..60\n"
        "     CDS             19..>48\n"
        '                     /translation="MKPGFK"\n'
        "     CDS             join(1..18,OTHER01.1:1..30)\n",
    )
    result = run_script(
        "build_training_set.py", "--genbank", genbank, "--label", "viral", "--chunk-size", "18",
        "--nucleotide", tmp_path / "nt", "--protein", tmp_path / "aa", "--sources", tmp_path / "s",
        "--counts", tmp_path / "counts.tsv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "counts.tsv") as handle:
        (row,) = csv.DictReader(handle, delimiter="\t")
    assert (row["cds_translations"], row["cds_translated"]) == ("1", "0")
    assert row["cds_skipped_untranslatable"] == "3"
    log = result.stderr
    assert "CDS [18:60](+) skipped: location outside the record (ends at 60 of 36 bases)" in log
    assert "CDS [18:>48](+) skipped: location outside the record (ends at 48 of 36 bases)" in log
    assert "skipped: location cannot be extracted" in log
    # the good CDS still keeps its frames, in both chunks
    assert read_fasta(tmp_path / "aa") == [(f"toy_chunk_{i}F1", "MKPGFK") for i in (1, 2)]


def test_a_cds_with_a_translation_and_a_part_on_another_record_is_used(tmp_path):
    genbank = _toy_genbank(
        tmp_path / "toy.gb",
        "     CDS             join(1..18,OTHER01.1:1..30)\n"
        '                     /translation="MKPGFKMKPGFKAAAA"\n',
    )
    counts, _ = _build(tmp_path, genbank, Label.viral, chunk_size=18)
    assert (counts.cds_translations, counts.cds_skipped_untranslatable) == (1, 0)
    assert counts.frames_kept == 2


def test_a_genbank_record_too_long_to_hold_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sequence_files, "_MAX_GENBANK_CHARACTERS", 6000)
    # two records of under 6000 characters each pass: the count starts at each LOCUS
    two = (ASSETS / "EU851978.gbk").read_text()
    assert 5000 < len(two) < 6000
    (tmp_path / "two.gb").write_text(two + two.replace("EU851978", "EU851979"))
    assert len(list(read_genbank(tmp_path / "two.gb"))) == 2
    with pytest.raises(InputError) as error:
        list(read_genbank(ASSETS / "NC_005816.gb"))
    assert str(error.value) == (
        f"{ASSETS / 'NC_005816.gb'}: GenBank record 'NC_005816' is longer than 6,000 characters, "
        "the most a GenBank record may have (about 268,435,456 bases)"
    )
