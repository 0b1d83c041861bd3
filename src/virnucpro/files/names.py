"""Names that become parts of file names (sample ids, prefixes), and sequence ids.

File-name parts are interpolated into output paths and into the shell scripts of
the pipeline's modules, so only a safe set is allowed: letters, digits, ``.``,
``_`` and ``-``, starting with a letter or digit (no ``/``, ``..``, spaces,
quotes or ``$(...)``; no hidden files, nothing that reads as an option).

Sequence ids are copied into every chunk id, table row, FASTA header and feature
file, so they too have one rule (``SEQUENCE_ID``), checked by every reader of
sequence files.
"""

from __future__ import annotations

import re

from virnucpro.errors import InputError

#: The same rule as the samplesheet schema's (assets/schema_input.json).
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: A sequence id: printable ASCII without space and quotes (``"`` and ``'``), not
#: starting with ``#``. Tables are tab-separated and read back with CSV quoting, so
#: an id starting with a quote would swallow the columns after it; R and other
#: readers also take ``'`` as a quote and a leading ``#`` as a comment line. FASTA
#: ids cannot hold whitespace anyway; JSON and safetensors carry any of these.
_ID_CHARACTER = r"[!#-&(-~]"
SEQUENCE_ID = re.compile(rf"(?!#){_ID_CHARACTER}+")
#: Longest sequence id, in characters: an id is repeated in every chunk id and
#: table row of its sequence (a 1 MB id made a 1 GB chunk file).
MAX_ID_LENGTH = 1000
# The suffixes the steps append to an id (chunk, then frame), which may take a
# derived id past MAX_ID_LENGTH.
_DERIVED_SUFFIX = re.compile(r"(?:_chunk_\d+)?(?:[FR][123])?\Z")
_SHOWN_ID_LENGTH = 40


def check_name(value: str, what: str) -> str:
    """``value`` if it is a safe file-name part; else one error naming ``what``."""
    if not SAFE_NAME.fullmatch(value):
        raise InputError(
            f"{what} {value!r} may hold only letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def shown_id(record_id: str) -> str:
    """``record_id`` quoted for a one-line message: escaped, and cut if long."""
    if len(record_id) > _SHOWN_ID_LENGTH:
        record_id = record_id[:_SHOWN_ID_LENGTH] + "..."
    return repr(record_id)


def check_sequence_id(record_id: str, where: str) -> None:
    """Refuse an id that breaks ``SEQUENCE_ID`` or ``MAX_ID_LENGTH``, naming the record.

    Ids the steps derived (``{id}_chunk_{i}``, a frame label after it) may exceed
    the length by their suffix.
    """
    if len(record_id) > MAX_ID_LENGTH:
        stem = record_id[: _DERIVED_SUFFIX.search(record_id).start()]
        if len(stem) > MAX_ID_LENGTH:
            raise InputError(
                f"{where}: record {shown_id(record_id)} has an id longer than "
                f"{MAX_ID_LENGTH:,} characters, the most an id may have"
            )
    if SEQUENCE_ID.fullmatch(record_id):
        return
    # the first character refused anywhere, else the leading '#'
    bad = next((char for char in record_id if not re.fullmatch(_ID_CHARACTER, char)), record_id[:1])
    raise InputError(
        f"{where}: record {shown_id(record_id)} has {bad!r} in its id: ids may hold printable "
        "ASCII characters except space and quotes, and may not start with '#'"
    )
