"""A plain, obviously-correct implementation of SPEC §4, written from its text.

The tests compare the package against it, and the preprocessing benchmark
times it: it is meant to be easy to check against the specification, not fast.
"""

from __future__ import annotations

import math

from Bio import SeqIO

BASES = "TCAG"
AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {
    first + second + third: AMINO_ACIDS[16 * i + 4 * j + k]
    for i, first in enumerate(BASES)
    for j, second in enumerate(BASES)
    for k, third in enumerate(BASES)
}
COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}


def chunk_bounds(n: int, c: int) -> list[tuple[int, int]]:
    """Chunk k = ceil(n/c), R = k*c - n, q = floor(R/k), u = R - q*(k-1), steps as stated."""
    k = math.ceil(n / c)
    if k == 0:
        return []
    R = k * c - n
    q = R // k
    u = R - q * (k - 1)
    steps = []
    for _ in range(min(u, k)):
        steps.append(q + 1)
    if k - 1 - u > 0:
        for _ in range(k - 1 - u):
            steps.append(q)
    steps.append(0)
    steps = steps[:k]
    bounds = [(0, min(c, n))]
    for i in range(2, k + 1):
        s = sum(steps[: i - 1])
        start = (i - 1) * c - s
        bounds.append((start, min(start + c, n)))
    return bounds


def chunk(record_id: str, sequence: str, c: int) -> list[tuple[str, str]]:
    return [
        (f"{record_id}_chunk_{i}", sequence[start:end])
        for i, (start, end) in enumerate(chunk_bounds(len(sequence), c), start=1)
    ]


def translate(sequence: str) -> str:
    protein = ""
    i = 0
    while i < len(sequence) - 2:
        protein += CODON_TABLE.get(sequence[i : i + 3], "")
        i += 3
    return protein


def reverse_complement(sequence: str) -> str:
    return "".join(COMPLEMENT.get(base, base) for base in reversed(sequence))


def six_frames(chunk_id: str, sequence: str) -> list[tuple[str, str, str]]:
    """(frame id, nucleotide slice, protein) of every frame, F1-F3 then R1-R3."""
    sequence = sequence.upper()
    frames = []
    for strand_name, strand in (("F", sequence), ("R", reverse_complement(sequence))):
        for k in (1, 2, 3):
            protein = translate(strand[k - 1 :])
            frames.append(
                (f"{chunk_id}{strand_name}{k}", strand[k - 1 : k + 3 * len(protein)], protein)
            )
    return frames


def stop_free_frames(chunk_id: str, sequence: str) -> list[tuple[str, str, str]]:
    return [frame for frame in six_frames(chunk_id, sequence) if frame[2] and "*" not in frame[2]]


def training_frames(genbank_path: str, c: int) -> tuple[list[tuple[str, str, str, str]], dict]:
    """(frame id, nucleotide, protein, genome) kept by the training rule, and the counts."""
    kept = []
    counts = {"records": 0, "chunks": 0, "chunks_ambiguous": 0}
    for record in SeqIO.parse(genbank_path, "genbank"):
        counts["records"] += 1
        translations = []
        for feature in record.features:
            if feature.type == "CDS" and "translation" in feature.qualifiers:
                translations.extend(feature.qualifiers["translation"])
        for chunk_id, sequence in chunk(record.id, str(record.seq).upper(), c):
            counts["chunks"] += 1
            if any(base in sequence for base in "NRYMKSWHBVD"):
                counts["chunks_ambiguous"] += 1
                continue
            for frame_id, nucleotide, protein in stop_free_frames(chunk_id, sequence):
                if any(protein in translation for translation in translations):
                    kept.append((frame_id, nucleotide, protein, record.id))
    return kept, counts


def read_fasta(path: str) -> list[tuple[str, str]]:
    records = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                records.append([line[1:].split()[0], ""])
            elif line:
                records[-1][1] += line
    return [(record_id, sequence) for record_id, sequence in records]


def chunk_fasta(input_path: str, output_path: str, c: int) -> None:
    with open(output_path, "w") as out:
        for record_id, sequence in read_fasta(input_path):
            for chunk_id, piece in chunk(record_id, sequence, c):
                out.write(f">{chunk_id}\n{piece}\n")


def select_frames_fasta(input_path: str, nucleotide_path: str, protein_path: str) -> None:
    with open(nucleotide_path, "w") as nucleotides, open(protein_path, "w") as proteins:
        for chunk_id, sequence in read_fasta(input_path):
            for frame_id, nucleotide, protein in stop_free_frames(chunk_id, sequence):
                nucleotides.write(f">{frame_id}\n{nucleotide}\n")
                proteins.write(f">{frame_id}\n{protein}\n")
