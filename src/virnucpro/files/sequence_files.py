"""Reading and writing sequence files, with the checks every step needs.

Inputs may be plain or gzip-compressed (detected from the content, not the name;
other compressions are named and refused), with or without a UTF-8 byte-order
mark. Every reader fails with one :class:`InputError` line on a missing, empty,
truncated or mis-typed file, so that no step has to repeat these checks.
Pipes are refused: steps read some inputs twice (e.g. to record their digest).

Any file is read in bounded memory: lines in pieces, records in blocks; a step
that holds records whole refuses one over ``MAX_HELD_BASES``, and ``stream_dna``
(the chunk step's reader) reads a long record twice instead of holding it. Every
id follows ``names.SEQUENCE_ID`` and ``names.MAX_ID_LENGTH``.
"""

from __future__ import annotations

import gzip
import logging
import os
import string
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from Bio import BiopythonParserWarning, SeqIO
from Bio.SeqRecord import SeqRecord

from virnucpro.errors import InputError
from virnucpro.files.names import MAX_ID_LENGTH, SEQUENCE_ID, check_sequence_id, shown_id
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
# IUPAC nucleotide codes plus X (masked) and gaps, in either case; anything else is not DNA.
_NUCLEOTIDE_SYMBOLS = b"ACGTURYSWKMBDHVNX-acgturyswkmbdhvnx"
_PROTEIN_ONLY_SYMBOLS = frozenset("EFIJLOPQZ*")
_PROTEIN_SYMBOLS = string.ascii_letters.encode() + b"*"
_NUCLEOTIDE_LETTERS = frozenset("ACGTUN")
_RNA_TO_DNA = str.maketrans("Uu", "Tt")
# A protein file made only of nucleotide letters is refused from this many letters on:
# a real protein (A C G T N are about a quarter of residues) passes with odds below 1e-11.
_SWAPPED_PROTEIN_LETTERS = 20
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)
#: Longest record the steps that hold whole records read, in bases (its text, checks
#: and translations take a few times that in memory); chunk_sequences.py streams.
MAX_HELD_BASES = 1 << 28
# Biopython holds a GenBank record whole: its text (1.3 characters a base and the
# features) may be at most this long.
_MAX_GENBANK_CHARACTERS = 2 * MAX_HELD_BASES
# Records longer than this are streamed by stream_dna (read twice, never held).
_HELD_WHEN_STREAMING = 1 << 22
# Longest piece of a line read at once, and the sequence text passed on at a time:
# lines and records of any length are read in bounded memory.
_PIECE = 1 << 20
_BLOCK = 1 << 20
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
    for line in iter(lambda: handle.readline(_PIECE), ""):
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
    """The characters of ``sequence`` outside ``allowed``, uppercase, sorted."""
    try:
        foreign = sequence.encode("ascii").translate(None, allowed)
    except UnicodeEncodeError:
        raise InputError(f"{path}: record '{record_id}' has non-ASCII characters") from None
    return "".join(sorted(set(foreign.decode().upper()))) if foreign else ""


def check_nucleotide(record_id: str, sequence: str, path: Path) -> None:
    """Refuse sequences that are not DNA, naming the record and what was found."""
    _refuse_non_dna(
        record_id, _foreign_symbols(record_id, sequence, path, _NUCLEOTIDE_SYMBOLS), path
    )


def _refuse_non_dna(record_id: str, foreign: str, path: Path) -> None:
    """Refuse a record holding the ``foreign`` (sorted) symbols, if any, as protein or invalid."""
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


class LongSequence:
    """A record too long to hold: its length, and its bases read again block by block."""

    def __init__(self, length: int, blocks: Callable[[], Iterator[str]]) -> None:
        self.length = length
        self._blocks = blocks

    def __len__(self) -> int:
        return self.length

    def blocks(self) -> Iterator[str]:
        """The sequence, in blocks of about a MiB, in order (once)."""
        return self._blocks()


def _fasta_parts(
    handle: TextIO, file: Path, ids: UniqueIds | None, record_id: str | None = None
) -> Iterator[tuple[str, str, bool, int, int]]:
    """``(id, text, last, start, read)`` for each part of each record of a FASTA file.

    ``text`` is part of the record's sequence as SimpleFastaParser gives it (each
    line right-stripped, spaces removed); ``last``: the record ends with it;
    ``start``: the record's sequence begins at this character of the file; ``read``:
    characters read so far. Lines are read in pieces of at most ``_PIECE`` and a
    record is passed on every ``_BLOCK`` characters, so no line or record is held
    whole. Each id is checked (``check_sequence_id``, unique in ``ids``) as its record
    begins. ``record_id``: the handle is inside that record's sequence (read again).
    """
    readline = handle.readline
    read = start = passed = 0  # passed: characters read when text was last passed on
    lines: list[str] = []
    line_start = True  # the next piece begins a line
    in_header = False  # the pieces being read are the rest of a long header line
    blank = ""  # whitespace ending a piece cut inside a line, kept if the line goes on
    while piece := readline(_PIECE):
        read += len(piece)
        ends_line = piece[-1] == "\n"
        if not line_start:  # the rest of a line cut into pieces
            line_start = ends_line
            if in_header:
                in_header, start = not ends_line, read
                continue
        elif piece[0] == ">":
            if record_id is not None:
                yield record_id, "".join(lines).replace(" ", ""), True, start, read
                lines = []
            words = piece[1:].split(None, 1)
            if not words:
                raise InputError(f"{file}: a record has an empty header line")
            record_id = words[0]
            if len(record_id) > MAX_ID_LENGTH or not SEQUENCE_ID.fullmatch(record_id):
                check_sequence_id(record_id, str(file))
            if ids is not None:
                ids.add(record_id)
            in_header, line_start, start = not ends_line, ends_line, read
            passed = read
            continue
        elif not ends_line:
            line_start = False
        if record_id is None:
            continue  # blank lines before the first record
        if blank:
            piece, blank = blank + piece, ""
        if ends_line:
            lines.append(piece.rstrip())
        else:  # spaces go anyway; other whitespace is kept if the line goes on (refused)
            text = piece.rstrip()
            blank = "".join(set(piece[len(text) :]) - {" "})
            lines.append(text)
        if read - passed >= _BLOCK:
            yield record_id, "".join(lines).replace(" ", ""), False, start, read
            lines, passed = [], read
    if record_id is not None:
        yield record_id, "".join(lines).replace(" ", ""), True, start, read


def _held_records(
    file: Path, handle: TextIO, check: SequenceCheck, ids: UniqueIds
) -> Iterator[tuple[str, str]]:
    """Whole records, each checked with ``check``; one longer than MAX_HELD_BASES is refused."""
    pending: list[str] = []
    held = 0
    for record_id, text, last, _, _ in _fasta_parts(handle, file, ids):
        if last and not pending:
            sequence = text
        else:
            pending.append(text)
            held += len(text)
            if held > MAX_HELD_BASES:
                raise _too_long_to_hold(file, record_id)
            if not last:
                continue
            sequence, pending, held = "".join(pending), [], 0
        check(record_id, sequence, file)
        yield record_id, sequence


def _too_long_to_hold(file: Path, record_id: str) -> InputError:
    return InputError(
        f"{file}: record {shown_id(record_id)} is longer than {MAX_HELD_BASES:,} bases, the "
        "most this step holds in memory (chunk_sequences.py reads records of any length)"
    )


def read_fasta(path: str | os.PathLike[str], check: SequenceCheck = check_nucleotide) -> Records:
    """Stream ``(id, sequence)`` pairs of a FASTA file; descriptions are dropped.

    Ids must be unique and follow ``SEQUENCE_ID``; each sequence must pass
    ``check`` (DNA by default) and be at most ``MAX_HELD_BASES`` long (it is held
    whole); case is kept as it is.
    """
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate sequence id")
    with open_text(file) as handle:
        try:
            _check_first_line(handle, file, ">", "FASTA")
            yield from _held_records(file, handle, check, ids)
        except _READ_ERRORS as error:
            raise InputError(f"{file}: cannot read: {error}") from None
    ids.close()


def read_dna(path: str | os.PathLike[str]) -> Records:
    """Nucleotide records with RNA read as DNA: each U becomes T (counted in the log).

    Codons with U would otherwise be dropped, leaving RNA frames without stops.
    A file holding records but not a single base is refused.
    """
    file = Path(path)
    rna = _RnaCount(file)
    for record_id, sequence in read_fasta(file):
        yield record_id, rna.as_dna(sequence)
    rna.close()


def stream_dna(path: str | os.PathLike[str]) -> Iterator[tuple[str, str | LongSequence]]:
    """``read_dna``'s records, those longer than ``_HELD_WHEN_STREAMING`` as ``LongSequence``.

    A long record is read twice: once to check it and measure its length (which
    the chunk bounds depend on), then block by block when its consumer asks; so
    records of any length pass in bounded memory, with read_dna's checks.
    """
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate sequence id")
    rna = _RnaCount(file)
    with open_text(file) as handle, ExitStack() as second:
        reread = _Reread(file, second)
        try:
            _check_first_line(handle, file, ">", "FASTA")
            pending: list[str] = []
            held = 0
            long: _LongRecord | None = None
            for record_id, text, last, start, _ in _fasta_parts(handle, file, ids):
                if long is None:
                    if last and not pending:  # the whole record in one part: most records
                        check_nucleotide(record_id, text, file)
                        yield record_id, rna.as_dna(text)
                        continue
                    pending.append(text)
                    held += len(text)
                    if held <= _HELD_WHEN_STREAMING:
                        if last:
                            sequence, pending, held = "".join(pending), [], 0
                            check_nucleotide(record_id, sequence, file)
                            yield record_id, rna.as_dna(sequence)
                        continue
                    long = _LongRecord(file, record_id)
                    for part in pending:
                        long.add(part)
                    pending, held = [], 0
                else:
                    long.add(text)
                if last:
                    long.check()
                    rna.add(long.length, long.uracils)
                    yield (
                        record_id,
                        LongSequence(long.length, reread.blocks(record_id, start, long.length)),
                    )
                    long = None
        except _READ_ERRORS as error:
            raise InputError(f"{file}: cannot read: {error}") from None
    ids.close()
    rna.close()


class _LongRecord:
    """What the first reading of a long record learns: its length, U bases, foreign symbols."""

    def __init__(self, file: Path, record_id: str) -> None:
        self._file = file
        self._record_id = record_id
        self._foreign: set[str] = set()
        self.length = self.uracils = 0

    def add(self, text: str) -> None:
        self.length += len(text)
        self.uracils += text.count("U") + text.count("u")
        self._foreign.update(
            _foreign_symbols(self._record_id, text, self._file, _NUCLEOTIDE_SYMBOLS)
        )

    def check(self) -> None:
        """check_nucleotide's verdict on the whole record."""
        _refuse_non_dna(self._record_id, "".join(sorted(self._foreign)), self._file)


class _Reread:
    """A second handle on a FASTA file that reads long records again, moving forward only."""

    def __init__(self, file: Path, stack: ExitStack) -> None:
        self._file = file
        self._stack = stack
        self._handle: TextIO | None = None
        self._read = 0

    def blocks(self, record_id: str, start: int, length: int) -> Callable[[], Iterator[str]]:
        """The record's sequence as DNA, from character ``start`` of the file."""

        def read_again() -> Iterator[str]:
            if self._handle is None:
                self._handle = self._stack.enter_context(open_text(self._file))
            skip = start - self._read
            while skip > 0:
                skipped = len(self._handle.read(min(skip, _BLOCK)))
                if not skipped:
                    break
                skip -= skipped
            found = 0
            try:
                for _, text, last, _, read in _fasta_parts(
                    self._handle, self._file, None, record_id
                ):
                    found += len(text)
                    self._read = start + read  # also right if the consumer stops early
                    yield text.translate(_RNA_TO_DNA)
                    if last:
                        break
            except _READ_ERRORS as error:
                raise InputError(f"{self._file}: cannot read: {error}") from None
            if found != length:
                raise InputError(f"{self._file}: changed while it was read")

        return read_again


def rna_as_dna(sequence: str) -> str:
    """``sequence`` with each U read as T, case kept: the bases ``read_dna`` gives."""
    return sequence.translate(_RNA_TO_DNA)


class _RnaCount:
    """U bases read as T, counted for the log; and the check that a file holds a base."""

    def __init__(self, file: Path) -> None:
        self._file = file
        self.records = self.bases = self.converted = self.converted_records = 0

    def as_dna(self, sequence: str) -> str:
        """``sequence`` with U read as T, counted."""
        rna = "U" in sequence or "u" in sequence  # no count of most records' U
        uracils = sequence.count("U") + sequence.count("u") if rna else 0
        self.add(len(sequence), uracils)
        return rna_as_dna(sequence) if rna else sequence

    def add(self, length: int, uracils: int) -> None:
        self.records += 1
        self.bases += length
        if uracils:
            self.converted += uracils
            self.converted_records += 1

    def close(self) -> None:
        """Refuse a file without a base; log the conversion (the file has been read)."""
        if self.records and not self.bases:
            raise InputError(f"{self._file}: no sequence: all {self.records} records are empty")
        if self.converted:
            log.info(
                "%s: RNA read as DNA: %d U bases in %d records converted to T",
                self._file, self.converted, self.converted_records,
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
    """Stream the records of a GenBank file, with unique ids and defined sequences.

    Ids follow ``SEQUENCE_ID``; Biopython holds a record whole, so one of more than
    ``_MAX_GENBANK_CHARACTERS`` is refused (a small .gz can expand to gigabytes).
    """
    file = Path(path)
    ids = UniqueIds(f"{file}: duplicate record id")
    with open_text(file) as handle:
        try:
            _check_first_line(handle, file, "LOCUS", "GenBank")
            records = 0
            parsed = SeqIO.parse(_BoundedRecords(handle, file), "genbank")
            for record in _complete_records(parsed, file):
                check_sequence_id(record.id, str(file))
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


class _BoundedRecords:
    """The lines of a GenBank file for Biopython, refusing a record longer than
    ``_MAX_GENBANK_CHARACTERS`` (counted from its LOCUS line) before it is held."""

    def __init__(self, handle: TextIO, file: Path) -> None:
        self._handle = handle
        self._file = file
        self._record = 0
        self._locus = ""

    def read(self, size: int) -> str:
        """Only ``read(0)``, with which Biopython checks that the handle is text."""
        if size:
            raise NotImplementedError("GenBank files are read line by line")
        return ""

    def readline(self) -> str:
        line = self._handle.readline(_MAX_GENBANK_CHARACTERS - self._record + 1)
        self._record += len(line)
        if self._record > _MAX_GENBANK_CHARACTERS:
            raise InputError(
                f"{self._file}: GenBank record {shown_id(self._locus)} is longer than "
                f"{_MAX_GENBANK_CHARACTERS:,} characters, the most a GenBank record may have "
                f"(about {MAX_HELD_BASES:,} bases)"
            )
        if line.startswith("LOCUS"):
            self._locus = "".join(line.split()[1:2])
            self._record = len(line)
        return line


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
