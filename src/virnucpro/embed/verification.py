"""``virnucpro verify-embedder``: our native loader against the model repository's own code.

The native loaders (``embedders/esm.py``, ``embedders/dnabert_s.py``) are checked
against the reference implementations on random weights in the tests; this check
lets a user confirm them on the REAL weights in their model cache (for instance
whether FastESM2_650's weights expect ESM's token-dropout scaling). The same
stop-free frames of a FASTA are embedded twice per precision, once with our code and
once through transformers' Auto classes (the model repository's reference code), and
the two sets of vectors are compared row by row: largest absolute difference and
smallest cosine similarity.

At fp32 both must agree to rounding (cosine >= ``FP32_MIN_COSINE`` and a small
absolute tolerance); at the run's lower precision (bf16/fp16) kernels differ, so
only the cosine is held to a looser bound. Code shipped in the model folder
(``modeling_*.py``, an ``auto_map``) runs only with ``trust_remote_code``
(``--trust-remote-code``), offline, and never from another repository
(``embedders.remote``); the folder is checked against the registry entry first
(``check_model_folder``).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from virnucpro import __version__
from virnucpro.embed.embedders.loader import check_model_folder, load_encoder
from virnucpro.embed.embedders.registry import Architecture, EmbedderSpec, Modality
from virnucpro.embed.embedders.remote import check_remote_code
from virnucpro.embed.model_cache import model_directory
from virnucpro.embed.sequence_embedding import embed_sequences, resolve_device, torch_dtype
from virnucpro.embed.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_FRAMES,
    DEFAULT_MAX_ABS,
    DEFAULT_MIN_COSINE,
    DEFAULT_TOKEN_BUDGET,
    FP32_MIN_COSINE,
)
from virnucpro.errors import InputError, OutOfMemory
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import VERIFICATION
from virnucpro.files.sequence_files import read_dna
from virnucpro.preprocess.chunking import chunk_records
from virnucpro.preprocess.frames import stop_free_frames

log = logging.getLogger(__name__)

_CHUNK_BATCH = 1024


def default_input() -> Path:
    """The bundled ``assets/test/mixed_example.fasta`` of this checkout."""
    return Path(__file__).resolve().parents[3] / "assets" / "test" / "mixed_example.fasta"


@dataclass(frozen=True)
class Comparison:
    """Native against remote vectors of the same frames at one precision."""

    precision: str
    frames: int
    max_abs_diff: float
    min_cosine: float
    min_cosine_tolerance: float
    max_abs_tolerance: float | None  # only applied at fp32

    @property
    def passed(self) -> bool:
        # Written so that NaN figures fail.
        cosine_ok = self.min_cosine >= self.min_cosine_tolerance
        abs_ok = self.max_abs_tolerance is None or self.max_abs_diff <= self.max_abs_tolerance
        return bool(cosine_ok and abs_ok)

    def tolerance(self) -> str:
        text = f"cos>={self.min_cosine_tolerance:g}"
        if self.max_abs_tolerance is not None:
            text += f" abs<={self.max_abs_tolerance:g}"
        return text

    def failures(self) -> list[str]:
        """Why this precision failed, one phrase per broken bound."""
        reasons = []
        if not self.min_cosine >= self.min_cosine_tolerance:
            reasons.append(f"min cosine {self.min_cosine:.7f} < {self.min_cosine_tolerance:g}")
        if self.max_abs_tolerance is not None and not self.max_abs_diff <= self.max_abs_tolerance:
            reasons.append(f"max abs diff {self.max_abs_diff:.3e} > {self.max_abs_tolerance:g}")
        return reasons


@dataclass
class Verification:
    """Every comparison of one embedder, with what was compared."""

    embedder: str
    folder: Path
    input: Path
    chunk_size: int
    device: str
    token_budget: int
    dimension: int
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(comparison.passed for comparison in self.comparisons)

    def summary(self) -> str:
        """``verify-embedder NAME: PASS`` or ``... FAIL (reasons)``."""
        if self.passed:
            return f"verify-embedder {self.embedder}: PASS"
        reasons = "; ".join(
            f"{comparison.precision}: {', '.join(comparison.failures())}"
            for comparison in self.comparisons
            if not comparison.passed
        )
        return f"verify-embedder {self.embedder}: FAIL ({reasons})"

    def table(self) -> str:
        """The figures as aligned columns, one row per precision."""
        rows = [["precision", "frames", "max_abs_diff", "min_cosine", "tolerance", "result"]]
        for comparison in self.comparisons:
            rows.append(
                [
                    comparison.precision,
                    str(comparison.frames),
                    f"{comparison.max_abs_diff:.3e}",
                    f"{comparison.min_cosine:.7f}",
                    comparison.tolerance(),
                    "PASS" if comparison.passed else "FAIL",
                ]
            )
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def to_json(self) -> dict[str, Any]:
        def number(value: float | None) -> float | None:
            return None if value is None or math.isnan(value) else value

        return {
            "format": VERIFICATION.format,
            "embedder": self.embedder,
            "folder": str(self.folder),
            "input": str(self.input),
            "chunk_size": self.chunk_size,
            "device": self.device,
            "token_budget": self.token_budget,
            "dimension": self.dimension,
            "comparisons": [
                {
                    "precision": comparison.precision,
                    "frames": comparison.frames,
                    "max_abs_diff": number(comparison.max_abs_diff),
                    "min_cosine": number(comparison.min_cosine),
                    "min_cosine_tolerance": comparison.min_cosine_tolerance,
                    "max_abs_tolerance": comparison.max_abs_tolerance,
                    "passed": comparison.passed,
                }
                for comparison in self.comparisons
            ],
            "passed": self.passed,
            "summary": self.summary(),
            "tool_version": __version__,
        }


def compare_vectors(native: np.ndarray, remote: np.ndarray) -> tuple[float, float]:
    """Largest absolute difference and smallest row cosine similarity (in float64)."""
    native, remote = native.astype(np.float64), remote.astype(np.float64)
    max_abs = float(np.abs(native - remote).max())
    norms = np.linalg.norm(native, axis=1) * np.linalg.norm(remote, axis=1)
    dots = (native * remote).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosines = np.where(norms > 0, dots / norms, 0.0)
    # Two zero vectors are the same vector.
    both_zero = ~native.any(axis=1) & ~remote.any(axis=1)
    cosines = np.where(both_zero, 1.0, cosines)
    min_cosine = float(np.nan) if np.isnan(cosines).any() else float(cosines.min())
    return max_abs, min_cosine


def first_frames(input_path: Path, chunk_size: int, count: int, modality: Modality) -> list[str]:
    """The first ``count`` stop-free frames of ``input_path`` in input order: nucleotide
    slices for a DNA embedder, proteins for a protein embedder."""
    if count < 1:
        raise InputError(f"--frames must be at least 1, got {count}")
    chunks: Iterator[tuple[str, str]] = chunk_records(read_dna(input_path), chunk_size)
    sequences: list[str] = []
    while len(sequences) < count and (batch := list(islice(chunks, _CHUNK_BATCH))):
        for kept in stop_free_frames(batch):
            for frame in kept:
                sequences.append(frame.nucleotide if modality is Modality.dna else frame.protein)
    if not sequences:
        raise InputError(
            f"{input_path}: no stop-free frame in chunks of {chunk_size} bases: nothing to embed"
        )
    if len(sequences) < count:
        log.warning("%s gives only %d frames (asked for %d)", input_path, len(sequences), count)
    return sequences[:count]


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _embed(
    spec: EmbedderSpec,
    folder: Path,
    device: torch.device,
    precision: str,
    remote: bool,
    trust_remote_code: bool,
    sequences: list[str],
    token_budget: int,
) -> np.ndarray:
    """Load one model (``remote``: through the Auto classes, the folder's code allowed
    with ``trust_remote_code``), embed ``sequences`` and free the model before returning."""
    label = "the model repository's code" if remote else "native code"
    log.info("%s (%s): loading with %s from %s", spec.name, precision, label, folder)
    encoder = load_encoder(
        spec,
        folder,
        device,
        torch_dtype(precision),
        trust_remote_code=remote and trust_remote_code,
        auto_classes=remote,
    )
    try:
        return embed_sequences(encoder, sequences, device, token_budget)
    finally:
        del encoder
        _free(device)


def _embed_remote(spec: EmbedderSpec, *args: Any) -> np.ndarray:
    """``_embed`` with remote code; whatever the hub code raises becomes one InputError."""
    try:
        return _embed(spec, *args)
    except (InputError, OutOfMemory, torch.cuda.OutOfMemoryError):
        raise
    except Exception as error:
        log.debug("remote code of %s failed", spec.name, exc_info=True)
        lines = str(error).strip().splitlines()
        first_line = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        raise InputError(
            f"embedder '{spec.name}': the model repository's code (trust_remote_code) failed "
            f"to load or run: {first_line}"
        ) from None


def measure_agreement(
    spec: EmbedderSpec,
    frames: int = DEFAULT_FRAMES,
    input_path: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    device: str = "auto",
    precision: str | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    hf_home: Path | None = None,
    model_dir: Path | None = None,
    max_abs: float = DEFAULT_MAX_ABS,
    min_cosine: float = DEFAULT_MIN_COSINE,
    trust_remote_code: bool = False,
) -> Verification:
    """Embed the same frames natively and with remote code at fp32 and at ``precision``;
    the folder's own code runs only with ``trust_remote_code``."""
    if spec.architecture is Architecture.composition:
        raise InputError(
            f"embedder '{spec.name}' has no model (architecture composition): "
            "there is no model repository code to verify it against"
        )
    precision = precision or spec.default_precision
    torch_dtype(precision)  # refuse an unknown precision before loading anything
    if not max_abs >= 0:
        raise InputError(f"--max-abs must be a non-negative number, got {max_abs}")
    if not 0 < min_cosine <= 1:
        raise InputError(f"--min-cosine must be in (0, 1], got {min_cosine}")
    target = resolve_device(device)
    input_path = input_path or default_input()
    if not input_path.is_file():
        raise InputError(f"{input_path}: no such FASTA file (pass one with --input)")
    folder = model_dir if model_dir is not None else model_directory(spec, hf_home)
    # Before anything is read, allocated or imported: the folder is spec's model, and its
    # code (if any) may run.
    check_model_folder(spec, folder)
    check_remote_code(folder, trust_remote_code)
    sequences = first_frames(input_path, chunk_size, frames, spec.modality)
    log.info("%s: comparing native and remote vectors of %d frames", spec.name, len(sequences))
    verification = Verification(
        spec.name, folder, input_path, chunk_size, target.type, token_budget, 0
    )
    for run_precision in dict.fromkeys(["fp32", precision]):
        args = (folder, target, run_precision)
        # The hub code is the likelier failure: try it before spending time on ours.
        remote = _embed_remote(spec, *args, True, trust_remote_code, sequences, token_budget)
        native = _embed(spec, *args, False, False, sequences, token_budget)
        if native.shape != remote.shape:
            raise InputError(
                f"verify-embedder {spec.name}: FAIL (native vectors are {native.shape[1]}-d, "
                f"the model repository's code gives {remote.shape[1]}-d)"
            )
        verification.dimension = native.shape[1]
        difference, cosine = compare_vectors(native, remote)
        fp32 = run_precision == "fp32"
        verification.comparisons.append(
            Comparison(
                run_precision,
                len(sequences),
                difference,
                cosine,
                FP32_MIN_COSINE if fp32 else min_cosine,
                max_abs if fp32 else None,
            )
        )
    return verification


def verify_embedder(
    spec: EmbedderSpec,
    output: Path | None = None,
    stream: TextIO | None = None,
    **options: Any,
) -> Verification:
    """``verify_embedder``, the table and result line on ``stream``, the figures as JSON
    in ``output``; a failure raises :class:`InputError` with the result line."""
    stream = stream or sys.stdout
    verification = measure_agreement(spec, **options)
    print(verification.table(), file=stream)
    print(verification.summary(), file=stream, flush=True)
    if output is not None:
        with AtomicOutputs() as outputs:
            outputs.open(output).write(json.dumps(verification.to_json(), indent=2) + "\n")
    if not verification.passed:
        raise InputError(verification.summary())
    return verification
