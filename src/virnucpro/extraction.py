"""The embed steps: a FASTA of frames in, a feature file out (SPEC §4-§6).

Finished outputs are recognised from their metadata (same embedder, precision,
chunk size and input digest) and skipped, so a resumed run redoes nothing; a
feature file of another embedder is never overwritten, so a run with a new
model cannot clobber the baseline's features.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

from virnucpro import __version__
from virnucpro.embedders.composition import amino_acid_composition, nucleotide_composition
from virnucpro.embedders.loader import load_encoder
from virnucpro.embedders.registry import Architecture, EmbedderSpec, Modality
from virnucpro.embedding import embed_sequences, resolve_device, torch_dtype
from virnucpro.errors import InputError
from virnucpro.features import Features, read_metadata, write_features
from virnucpro.model_cache import model_directory
from virnucpro.seqfiles import check_nucleotide, check_protein, read_fasta

log = logging.getLogger(__name__)


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes: ties a feature file to the exact input it came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _finished(output: Path, expected: dict[str, str]) -> bool:
    """True if ``output`` holds features made from the same input with the same settings."""
    if not output.exists():
        return False
    try:
        found = read_metadata(output)
    except InputError:
        return False
    if found["embedder"] != expected["embedder"]:
        raise InputError(
            f"{output} holds features of embedder '{found['embedder']}': refusing to overwrite "
            f"them with '{expected['embedder']}' (write to another file)"
        )
    return all(found.get(key) == value for key, value in expected.items())


def extract_features(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    spec: EmbedderSpec,
    precision: str,
    device: str,
    chunk_size: int,
    token_budget: int,
    model_dir: Path | None = None,
    hf_home: Path | None = None,
    trust_remote_code: bool = False,
) -> bool:
    """Embed every record of ``input_path`` with ``spec``; False if the output was already done."""
    output = Path(output_path)
    dtype, torch_device = torch_dtype(precision), resolve_device(device)
    check = check_nucleotide if spec.modality is Modality.dna else check_protein
    records = list(read_fasta(input_path, check))
    expected = {
        "embedder": spec.name,
        "precision": precision,
        "chunk_size": str(chunk_size),
        "input_sha256": file_digest(input_path),
        "loader": "remote" if trust_remote_code else "native",
    }
    if _finished(output, expected):
        log.info("%s is complete for %s: skipped", output, input_path)
        return False
    sequences = [sequence.upper() for _, sequence in records]
    started = time.perf_counter()
    if spec.architecture is Architecture.composition:
        featurizer = (
            amino_acid_composition()
            if spec.modality is Modality.protein
            else nucleotide_composition()
        )
        matrix = featurizer.embed(sequences)
        model_id = revision = "none"
    else:
        folder = model_dir or model_directory(spec, hf_home)
        encoder = load_encoder(spec, folder, torch_device, dtype, trust_remote_code)
        log.info(
            "loaded %s from %s on %s (%s) in %.1f s",
            spec.name,
            folder,
            torch_device,
            precision,
            time.perf_counter() - started,
        )
        matrix = embed_sequences(encoder, sequences, torch_device, token_budget)
        if model_dir is not None:
            model_id, revision = str(model_dir), "local"
        elif spec.model_id is not None:
            model_id, revision = spec.model_id, spec.revision or "main"
        else:
            model_id, revision = f"bundled:{spec.bundled}", "bundled"
    metadata = {
        **expected,
        "modality": spec.modality.value,
        "model_id": model_id,
        "revision": revision,
        "dimension": str(matrix.shape[1]),
        "tool_version": __version__,
    }
    write_features(output, Features([record_id for record_id, _ in records], matrix, metadata))
    log.info(
        "embedded %d %s sequences with %s (%d-d) in %.1f s into %s",
        len(records), spec.modality.value, spec.name, matrix.shape[1], time.perf_counter() - started, output,
    )  # fmt: skip
    return True
