"""Model-free baseline embedders: residue and k-mer composition.

They need no weights and run anywhere in seconds, so the comparison always has a
floor to beat and the pipeline can be exercised end to end on a laptop CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
NUCLEOTIDES = "ACGT"


def _symbol_codes(alphabet: str) -> np.ndarray:
    """Byte -> index in ``alphabet`` (case-insensitive); any other byte -> len(alphabet)."""
    codes = np.full(256, len(alphabet), dtype=np.int64)
    for index, symbol in enumerate(alphabet):
        codes[ord(symbol)] = codes[ord(symbol.lower())] = index
    return codes


class KmerComposition:
    """Frequencies of every k-mer over an alphabet, for k = 1..max_k, concatenated.

    k-mers with a symbol outside the alphabet are not counted; a sequence
    without any countable k-mer gives zeros for that k.
    """

    def __init__(self, alphabet: str, ks: Sequence[int]) -> None:
        self._alphabet = alphabet
        self._ks = tuple(ks)
        self._codes = _symbol_codes(alphabet)
        self.dimension = sum(len(alphabet) ** k for k in self._ks)

    def _frequencies(self, codes: np.ndarray, k: int) -> np.ndarray:
        size = len(self._alphabet)
        if len(codes) < k:
            return np.zeros(size**k)
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)
        windows = windows[(windows < size).all(axis=1)]
        counts = np.bincount(windows @ size ** np.arange(k - 1, -1, -1), minlength=size**k)
        return counts / max(len(windows), 1)

    def embed(self, sequences: Sequence[str]) -> np.ndarray:
        """One float32 row per sequence."""
        rows = np.zeros((len(sequences), self.dimension), dtype=np.float32)
        for row, sequence in enumerate(sequences):
            codes = self._codes[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
            rows[row] = np.concatenate([self._frequencies(codes, k) for k in self._ks])
        return rows


def amino_acid_composition() -> KmerComposition:
    """Amino-acid and dipeptide frequencies of a protein: 20 + 400 = 420 values."""
    return KmerComposition(AMINO_ACIDS, (1, 2))


def nucleotide_composition() -> KmerComposition:
    """1- to 4-mer frequencies of a DNA slice: 4 + 16 + 64 + 256 = 340 values."""
    return KmerComposition(NUCLEOTIDES, (1, 2, 3, 4))
