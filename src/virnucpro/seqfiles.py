"""Reading and writing sequence files, with the checks every step needs.

Inputs may be plain or gzip-compressed (detected from the content, not the name).
Every reader fails with one :class:`InputError` line on a missing, empty or
mis-typed file, so that no step has to repeat these checks.
"""

from __future__ import annotations

import gzip
import os
import string
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from Bio import SeqIO
from Bio.SeqIO.FastaIO import SimpleFastaParser
from Bio.SeqRecord import SeqRecord

from virnucpro.errors import InputError
from virnucpro.unique_ids import UniqueIds

_GZIP_MAGIC = b"\x1f\x8b"
# IUPAC nucleotide codes plus X (masked) and gaps; anything else is not DNA.
_NUCLEOTIDE_SYMBOLS = b"ACGTURYSWKMBDHVNX-"
_PROTEIN_ONLY_SYMBOLS = frozenset("EFIJLOPQZ*")
_PROTEIN_SYMBOLS = string.ascii_uppercase.encode() + b"*"
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


@contextmanager
def open_text(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Open a plain or gzip text file after checking that it exists and is not empty."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: no such file")
    if file.is_dir():
        raise InputError(f"{file}: is a directory, expected a file")
    with file.open("rb") as raw:
        magic = raw.read(2)
    if not magic:
        raise InputError(f"{file}: file is empty")
    opener = gzip.open if magic == _GZIP_MAGIC else open
    with opener(file, "rt", encoding="utf-8") as handle:
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


def read_genbank(path: str | os.PathLike[str]) -> Iterator[SeqRecord]:
    """Stream the records of a GenBank file, with unique ids and defined sequences."""
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate record id")
    with open_text(file) as handle:
        try:
            _check_first_line(handle, file, "LOCUS", "GenBank")
            records = 0
            for record in SeqIO.parse(handle, "genbank"):
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


def write_fasta(handle: TextIO, record_id: str, sequence: str) -> None:
    """Write one record as ``>id`` and the sequence on a single line (SPEC §10)."""
    handle.write(f">{record_id}\n{sequence}\n")
