"""The tiny random test models, written together (``make_tiny_models.py``)."""

from __future__ import annotations

from pathlib import Path

from virnucpro.embedders.dnabert_s import write_tiny_dnabert_s
from virnucpro.embedders.esm import write_tiny_esm


def write_tiny_models(output_dir: Path, seed: int = 0) -> None:
    """``tiny_dnabert_s``, ``tiny_esm2`` and ``tiny_fastesm2`` (the same weights as tiny_esm2)."""
    write_tiny_dnabert_s(output_dir / "tiny_dnabert_s", seed)
    write_tiny_esm(output_dir / "tiny_esm2", "esm", seed)
    write_tiny_esm(output_dir / "tiny_fastesm2", "fastesm", seed)
