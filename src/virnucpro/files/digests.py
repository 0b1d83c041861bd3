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

# A Hugging Face cache blob is named after its content: sha256 (LFS files) or git sha1.
_BLOB = re.compile(r"[0-9a-f]{64}|[0-9a-f]{40}")
_BLOCK = 1 << 20


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


def records_digest(records: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of ``id<TAB>SEQUENCE`` lines in id order: what an embedder read, letter for
    letter; independent of row order, which a feature file keeps with its ids."""
    digest = hashlib.sha256()
    for record_id, sequence in sorted(records):
        digest.update(f"{record_id}\t{sequence.upper()}\n".encode())
    return digest.hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    """SHA-256 of the ids, one per line in order: which frames a table or file holds."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def folder_digest(folder: str | os.PathLike[str]) -> str:
    """SHA-256 over the names and contents of a model folder's files.

    A file that links into a Hugging Face cache blob is known by the blob's name,
    which is its content hash, so a cached 11 GB checkpoint is not read again;
    any other file is hashed. Hidden files and folders (``.cache``) are left out.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        target = path.resolve().name if path.is_symlink() else ""
        content = target if _BLOB.fullmatch(target) else file_digest(path)
        digest.update(f"{relative.as_posix()}\t{content}\n".encode())
    return digest.hexdigest()
