"""Reading and writing sequence files, with the checks every step needs.

Inputs may be plain or gzip-compressed (detected from the content, not the name;
other compressions are named and refused), with or without a UTF-8 byte-order
mark. Every reader fails with one :class:`InputError` line on a missing, empty,
truncated or mis-typed file, so that no step has to repeat these checks.
Pipes are refused: steps read some inputs twice (e.g. to record their digest).
"""

from __future__ import annotations

import gzip
import logging
import os
import string
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from Bio import BiopythonParserWarning, SeqIO
from Bio.SeqIO.FastaIO import SimpleFastaParser
from Bio.SeqRecord import SeqRecord

from virnucpro.errors import InputError
from virnucpro.files.unique_ids import UniqueIds

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
# Compressions we do not read, by their leading bytes, so the message can name them.
_OTHER_COMPRESSIONS = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
}
# IUPAC nucleotide codes plus X (masked) and gaps; anything else is not DNA.
_NUCLEOTIDE_SYMBOLS = b"ACGTURYSWKMBDHVNX-"
_PROTEIN_ONLY_SYMBOLS = frozenset("EFIJLOPQZ*")
_PROTEIN_SYMBOLS = string.ascii_uppercase.encode() + b"*"
_NUCLEOTIDE_LETTERS = frozenset("ACGTUN")
_RNA_TO_DNA = str.maketrans("Uu", "Tt")
# A protein file made only of nucleotide letters is refused from this many letters on:
# a real protein (A C G T N are about a quarter of residues) passes with odds below 1e-11.
_SWAPPED_PROTEIN_LETTERS = 20
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)
# Biopython warns, and goes on, when a GenBank file ends inside a record.
_TRUNCATION_WARNINGS = ("Premature end of file", "Expected sequence length")


@contextmanager
def open_text(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Open a plain or gzip text file after checking that it exists and is not empty."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: no such file")
    if file.is_dir():
        raise InputError(f"{file}: is a directory, expected a file")
    if not file.is_file():
        raise InputError(
            f"{file}: not a regular file (a pipe or device?): reading from pipes is not "
            "supported, write the data to a file first"
        )
    with file.open("rb") as raw:
        magic = raw.read(6)
    if not magic:
        raise InputError(f"{file}: file is empty")
    for prefix, name in _OTHER_COMPRESSIONS.items():
        if magic.startswith(prefix):
            raise InputError(
                f"{file}: {name}-compressed input is not supported; decompress it "
                "(gzip-compressed and plain files are read)"
            )
    opener = gzip.open if magic.startswith(_GZIP_MAGIC) else open
    with opener(file, "rt", encoding="utf-8-sig") as handle:
        yield handle


def _check_first_line(handle: TextIO, path: Path, marker: str, kind: str) -> None:
    """Check that the first non-blank line starts with ``marker``, then rewind ``handle``."""
    for line in handle:
        if line.strip():
            if not line.startswith(marker):
                raise InputError(
                    f"{path}: not a {kind} file (first line should start with '{marker}', "
                    f"found '{line.strip()[:40]}')"
                )
            handle.seek(0)
            return
    raise InputError(f"{path}: file is empty")


def _foreign_symbols(record_id: str, sequence: str, path: Path, allowed: bytes) -> str:
    """The characters of ``sequence`` outside ``allowed`` (case-insensitive), sorted."""
    try:
        foreign = sequence.upper().encode("ascii").translate(None, allowed)
    except UnicodeEncodeError:
        raise InputError(f"{path}: record '{record_id}' has non-ASCII characters") from None
    return "".join(sorted(set(foreign.decode())))


def check_nucleotide(record_id: str, sequence: str, path: Path) -> None:
    """Refuse sequences that are not DNA, naming the record and what was found."""
    foreign = _foreign_symbols(record_id, sequence, path, _NUCLEOTIDE_SYMBOLS)
    if _PROTEIN_ONLY_SYMBOLS.intersection(foreign):
        raise InputError(
            f"{path}: record '{record_id}' looks like a protein sequence "
            f"(has {foreign}); give nucleotide FASTA"
        )
    if foreign:
        raise InputError(f"{path}: record '{record_id}' has invalid characters {foreign!r}")


def check_protein(record_id: str, sequence: str, path: Path) -> None:
    """Refuse protein records with characters that are not residue letters or stops."""
    foreign = _foreign_symbols(record_id, sequence, path, _PROTEIN_SYMBOLS)
    if foreign:
        raise InputError(f"{path}: record '{record_id}' has invalid characters {foreign!r}")


SequenceCheck = Callable[[str, str, Path], None]
Records = Iterator[tuple[str, str]]


def read_fasta(
    path: str | os.PathLike[str], check: SequenceCheck = check_nucleotide
) -> Iterator[tuple[str, str]]:
    """Stream ``(id, sequence)`` pairs of a FASTA file; descriptions are dropped.

    Ids must be unique and each sequence must pass ``check`` (DNA by default);
    case is kept as it is.
    """
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate sequence id")
    with open_text(file) as handle:
        try:
            _check_first_line(handle, file, ">", "FASTA")
            for title, sequence in SimpleFastaParser(handle):
                record_id = title.split(None, 1)[0] if title.strip() else ""
                if not record_id:
                    raise InputError(f"{file}: a record has an empty header line")
                ids.add(record_id)
                check(record_id, sequence, file)
                yield record_id, sequence
        except _READ_ERRORS as error:
            raise InputError(f"{file}: cannot read: {error}") from None
    ids.close()


def read_dna(path: str | os.PathLike[str]) -> Records:
    """Nucleotide records with RNA read as DNA: each U becomes T (counted in the log).

    Codons with U would otherwise be dropped, leaving RNA frames without stops.
    A file holding records but not a single base is refused.
    """
    file = Path(path)
    records = bases = converted = converted_records = 0
    for record_id, sequence in read_fasta(file):
        records += 1
        bases += len(sequence)
        uracils = sequence.count("U") + sequence.count("u")
        if uracils:
            converted += uracils
            converted_records += 1
            sequence = sequence.translate(_RNA_TO_DNA)
        yield record_id, sequence
    if records and not bases:
        raise InputError(f"{file}: no sequence: all {records} records are empty")
    if converted:
        log.info(
            "%s: RNA read as DNA: %d U bases in %d records converted to T",
            file, converted, converted_records,
        )  # fmt: skip


def read_proteins(path: str | os.PathLike[str]) -> Records:
    """Protein records; a file made of nucleotide letters only is refused as swapped.

    A, C, G, T and N are amino-acid letters too, so a nucleotide FASTA would
    otherwise pass as proteins and be embedded into garbage.
    """
    file = Path(path)
    nucleotide_letters_only = True
    letters = 0
    for record_id, sequence in read_fasta(file, check_protein):
        letters += len(sequence)
        if nucleotide_letters_only and not _NUCLEOTIDE_LETTERS.issuperset(sequence.upper()):
            nucleotide_letters_only = False
        yield record_id, sequence
    if nucleotide_letters_only and letters >= _SWAPPED_PROTEIN_LETTERS:
        raise InputError(
            f"{file}: every record is made of nucleotide letters (A C G T U N) only: a "
            "nucleotide FASTA where proteins are expected? (the frame files may be swapped)"
        )


def read_genbank(path: str | os.PathLike[str]) -> Iterator[SeqRecord]:
    """Stream the records of a GenBank file, with unique ids and defined sequences."""
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate record id")
    with open_text(file) as handle:
        try:
            _check_first_line(handle, file, "LOCUS", "GenBank")
            records = 0
            for record in _complete_records(SeqIO.parse(handle, "genbank"), file):
                ids.add(record.id)
                if not record.seq.defined:
                    raise InputError(f"{file}: record '{record.id}' has no sequence")
                records += 1
                yield record
            if not records:
                raise InputError(f"{file}: no complete GenBank record (a record ends with '//')")
        except _READ_ERRORS as error:
            raise InputError(f"{file}: cannot read: {error}") from None
        except ValueError as error:
            raise InputError(f"{file}: not a valid GenBank file: {error}") from None
    ids.close()


def _complete_records(records: Iterator[SeqRecord], file: Path) -> Iterator[SeqRecord]:
    """Biopython's records, with its truncation warnings made errors and the others logged.

    A file cut inside a record (no closing ``//``, or fewer bases than LOCUS states)
    would otherwise give a shorter genome with a warning only.
    """
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BiopythonParserWarning)
            record = next(records, None)
        for warning in caught:
            message = str(warning.message)
            if any(message.startswith(text) for text in _TRUNCATION_WARNINGS):
                raise InputError(f"{file}: truncated GenBank file? {message.rstrip('.')}")
            log.warning("%s: %s", file, message)
        if record is None:
            return
        yield record


def write_fasta(handle: TextIO, record_id: str, sequence: str) -> None:
    """Write one record as ``>id`` and the sequence on a single line."""
    handle.write(f">{record_id}\n{sequence}\n")
