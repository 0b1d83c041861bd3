"""Content digests that tie an output to exactly what it was made from.

A step records the digest of what it read (sequences, frames, model weights)
and the next step recomputes it from what it is given: another file with the
same name or the same ids is told apart by its content, not trusted.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

# A Hugging Face cache blob of a large (LFS) file is named after its content's SHA-256.
_LFS_BLOB = re.compile(r"[0-9a-f]{64}")
_BLOCK = 1 << 20
_MODULUS = 1 << 256
# Besides its weights, the files of a model folder that decide what it computes:
# configuration, vocabularies, code. A README or licence added to a copy does not change
# the digest; neither do weight indexes (the weights they list are hashed).
_SETTINGS_FILES = frozenset({".json", ".txt", ".model", ".py"})


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sequence_digest(sequence: str) -> str:
    """SHA-256 of a sequence's letters, uppercased: the bases a chunk's frames come from."""
    return hashlib.sha256(sequence.upper().encode("ascii")).hexdigest()


class RecordsDigest:
    """What an embedder read, letter for letter: the sum modulo 2**256 of the SHA-256 of
    each ``id<TAB>SEQUENCE`` line. Independent of order (a feature file keeps its rows'
    ids), so a later step can add it up while streaming the sequences in another order."""

    def __init__(self) -> None:
        self._sum = 0

    def add(self, record_id: str, sequence: str) -> None:
        line = f"{record_id}\t{sequence.upper()}\n".encode()
        self._sum = (self._sum + int.from_bytes(hashlib.sha256(line).digest(), "big")) % _MODULUS

    def hexdigest(self) -> str:
        return f"{self._sum:064x}"


def records_digest(records: Iterable[tuple[str, str]]) -> str:
    """The ``RecordsDigest`` of ``records``."""
    digest = RecordsDigest()
    for record_id, sequence in records:
        digest.add(record_id, sequence)
    return digest.hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    """SHA-256 of the ids, one per line in order: which frames a table or file holds."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def folder_digest(folder: str | os.PathLike[str], weights: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of the ``weights`` a loader reads from a model
    folder and of the folder's configuration, vocabulary and code files (a pickle kept
    beside the safetensors the loader prefers is not the model).

    A file that links into a Hugging Face cache blob named by its SHA-256 is
    known by that name, so a cached 11 GB checkpoint is not read again; any
    other file is hashed. A copy of a cached model thus has the same digest as
    the cache. Hidden files and folders (``.cache``) are left out.
    """
    root = Path(folder)
    settings = [
        path
        for path in root.rglob("*")
        if path.suffix in _SETTINGS_FILES and not path.name.endswith(".index.json")
    ]
    digest = hashlib.sha256()
    for path in sorted({*settings, *map(Path, weights)}):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        target = path.resolve().name if path.is_symlink() else ""
        content = target if _LFS_BLOB.fullmatch(target) else file_digest(path)
        digest.update(f"{relative.as_posix()}\t{content}\n".encode())
    return digest.hexdigest()
