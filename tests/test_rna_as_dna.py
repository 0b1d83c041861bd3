"""RNA read as DNA: every U, upper or lower case, becomes T before chunking and frames."""

from __future__ import annotations

import logging

from conftest import write_fasta

from virnucpro.files.sequence_files import read_dna


def test_lowercase_u_is_read_as_t_and_case_is_kept(tmp_path, caplog):
    fasta = write_fasta(
        tmp_path / "rna.fasta", [("lower", "acgu"), ("upper", "ACGU"), ("mixed", "uUaA")]
    )
    with caplog.at_level(logging.INFO, logger="virnucpro.files.sequence_files"):
        records = list(read_dna(fasta))
    # Case is kept as read (soft-masked bases stay lowercase): u -> t, U -> T.
    assert records == [("lower", "acgt"), ("upper", "ACGT"), ("mixed", "tTaA")]
    assert [sequence.upper() for _, sequence in records] == ["ACGT", "ACGT", "TTAA"]
    assert "RNA read as DNA: 4 U bases in 3 records converted to T" in caplog.text
