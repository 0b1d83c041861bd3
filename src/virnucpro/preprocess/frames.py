"""Six-frame translation and the choice of stop-free frames, vectorised.

Chunks of equal length are stacked into one 2-D array, so one NumPy expression
translates every codon of every chunk in a batch instead of a Python loop per
codon. The rules are the original tool's: uppercase, complement only A/C/G/T,
codons with any other character contribute nothing, the nucleotide slice of a
frame with L residues is ``strand[k-1 : k+3L]`` (3L + 1 bases).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import NamedTuple

import numpy as np
from Bio.Data.CodonTable import standard_dna_table
from tqdm import tqdm

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import FRAMES_REPORT
from virnucpro.files.digests import sequence_digest
from virnucpro.files.sequence_files import read_dna, write_fasta
from virnucpro.preprocess.chunking import MAX_CHUNK_SIZE

log = logging.getLogger(__name__)

NO_FRAME = "no_frame"
#: Frame labels in id order: forward offsets 1-3, then reverse-complement offsets 1-3
FRAME_LABELS = ("F1", "F2", "F3", "R1", "R2", "R3")
_BATCH_CHUNKS = 4096
_STOP = ord("*")
_COMPLEMENT = bytes.maketrans(b"ACGT", b"TGCA")


def _base_digits() -> np.ndarray:
    """Byte → base-5 digit: A C G T are 0-3, every other byte is 4 (not a base)."""
    digits = np.full(256, 4, dtype=np.uint8)
    for digit, base in enumerate(b"ACGT"):
        digits[base] = digit
    return digits


def _codon_residues() -> np.ndarray:
    """Base-5 codon number → residue byte; codons with a non-ACGT base map to 0 (dropped)."""
    residues = np.zeros(125, dtype=np.uint8)
    table = {
        **standard_dna_table.forward_table,
        **dict.fromkeys(standard_dna_table.stop_codons, "*"),
    }
    for codon, residue in table.items():
        first, second, third = (b"ACGT".index(base) for base in codon.encode())
        residues[25 * first + 5 * second + third] = ord(residue)
    return residues


_BASE_DIGITS = _base_digits()
_CODON_RESIDUES = _codon_residues()


class Frame(NamedTuple):
    """A stop-free reading frame of a chunk: its id, nucleotide slice and protein."""

    id: str
    nucleotide: str
    protein: str


def _residues(strands: np.ndarray) -> np.ndarray:
    """Residue byte of the codon starting at each position of each row (0 if not a codon)."""
    digits = _BASE_DIGITS[strands]
    codons = 25 * digits[:, :-2] + 5 * digits[:, 1:-1] + digits[:, 2:]
    return _CODON_RESIDUES[codons]


def stop_free_frames(chunks: Sequence[tuple[str, str]]) -> list[list[Frame]]:
    """The stop-free, non-empty frames of each chunk, in the order F1 F2 F3 R1 R2 R3."""
    frames: list[list[Frame]] = [[] for _ in chunks]
    rows_by_length: dict[int, list[int]] = defaultdict(list)
    for index, (_, sequence) in enumerate(chunks):
        rows_by_length[len(sequence)].append(index)
    for length, indices in rows_by_length.items():
        if length < 3:
            continue
        forward = "".join(chunks[index][1] for index in indices).upper().encode("ascii")
        shape = (len(indices), length)
        strands = {
            "F": np.frombuffer(forward, dtype=np.uint8).reshape(shape),
            "R": np.frombuffer(forward.translate(_COMPLEMENT), dtype=np.uint8).reshape(shape)[
                :, ::-1
            ],
        }
        for strand_name, strand in strands.items():
            residues = _residues(strand)
            for offset in range(3):
                frame_residues = residues[:, offset::3]
                stop_free = ~(frame_residues == _STOP).any(axis=1) & frame_residues.any(axis=1)
                for row in np.flatnonzero(stop_free):
                    protein = frame_residues[row].tobytes().replace(b"\0", b"").decode()
                    nucleotide = (
                        strand[row, offset : offset + 1 + 3 * len(protein)].tobytes().decode()
                    )
                    index = indices[row]
                    frame_id = f"{chunks[index][0]}{strand_name}{offset + 1}"
                    frames[index].append(Frame(frame_id, nucleotide, protein))
    return frames


def _check_chunk_lengths(path: str | os.PathLike[str], chunks: Sequence[tuple[str, str]]) -> None:
    """Chunks are at most MAX_CHUNK_SIZE bases: a longer record is not a chunk (a genome
    given instead of its chunks), and its six frames would be held at once."""
    for chunk_id, sequence in chunks:
        if len(sequence) > MAX_CHUNK_SIZE:
            raise InputError(
                f"{path}: record '{chunk_id}' has {len(sequence):,} bases, more than the largest "
                f"chunk size ({MAX_CHUNK_SIZE:,}): give the chunks of chunk_sequences.py"
            )


def translations(nucleotides: Sequence[str]) -> list[str]:
    """What each frame's nucleotide slice translates to by the frame rules (from its first
    base; codons with a base other than A/C/G/T give nothing), vectorised by length.

    A frame's protein starts with this translation, and equals it when the slice holds
    A/C/G/T only (a dropped codon shortens the slice, not the protein).
    """
    result = [""] * len(nucleotides)
    rows_by_length: dict[int, list[int]] = defaultdict(list)
    for index, sequence in enumerate(nucleotides):
        rows_by_length[len(sequence)].append(index)
    for length, indices in rows_by_length.items():
        if length < 3:
            continue
        joined = "".join(nucleotides[index] for index in indices).upper().encode("ascii")
        strands = np.frombuffer(joined, dtype=np.uint8).reshape(len(indices), length)
        residues = _residues(strands)[:, 0::3]
        for row, index in enumerate(indices):
            result[index] = residues[row].tobytes().replace(b"\0", b"").decode()
    return result


def frame_label(frame_id: str) -> str:
    """The two-character frame suffix of a frame id, e.g. ``R2``."""
    return frame_id[-2:]


@dataclass
class FrameSummary:
    """What the frame-selection step read and wrote."""

    chunks: int = 0
    chunks_without_frame: int = 0
    frames: int = 0


def select_frames(
    input_path: str | os.PathLike[str],
    nucleotide_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    report_path: str | os.PathLike[str],
) -> FrameSummary:
    """Write the stop-free frames of every chunk, and one report row per chunk."""
    summary = FrameSummary()
    chunks = read_dna(input_path)
    with AtomicOutputs() as outputs, tqdm(desc="chunks", unit=" chunks", disable=None) as bar:
        nucleotides = outputs.open(nucleotide_path)
        proteins = outputs.open(protein_path)
        report = outputs.open(report_path)
        report.write(FRAMES_REPORT.header)
        while batch := list(islice(chunks, _BATCH_CHUNKS)):
            _check_chunk_lengths(input_path, batch)
            for (chunk_id, sequence), kept in zip(batch, stop_free_frames(batch), strict=True):
                for frame in kept:
                    write_fasta(nucleotides, frame.id, frame.nucleotide)
                    write_fasta(proteins, frame.id, frame.protein)
                labels = ",".join(frame_label(frame.id) for frame in kept) or NO_FRAME
                report.write(
                    f"{chunk_id}\t{len(sequence)}\t{labels}\t{sequence_digest(sequence)}\n"
                )
                summary.frames += len(kept)
                summary.chunks_without_frame += not kept
            summary.chunks += len(batch)
            bar.update(len(batch))
    log.info(
        "read %d chunks from %s; wrote %d stop-free frames to %s and %s; "
        "%d chunks have no stop-free frame (listed as %s in %s)",
        summary.chunks,
        input_path,
        summary.frames,
        nucleotide_path,
        protein_path,
        summary.chunks_without_frame,
        NO_FRAME,
        report_path,
    )
    return summary
