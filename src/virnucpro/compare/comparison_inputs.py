"""Reading the evaluations and benchmarks a comparison is made of, and refusing unlike ones.

A comparison is only made between like and like: every evaluation on the same
test frames with the same DNA embedder, chunk size, precision and sequence-call
rule, and every benchmark on the same device, precision, token budget and input,
in the precision the features were made in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from virnucpro.errors import InputError
from virnucpro.files.contracts import BENCHMARK, EVALUATION, Tagged

# What the comparison reads of each document: a file without one of them is refused.
_NEEDED = {
    EVALUATION.format: (
        "embedder", "dna_embedder", "dimension", "precision", "chunk_size", "test_ids_sha256",
        "test_frames_unseen", "protein_weights_sha256", "dna_weights_sha256",
        "dna_frames_sha256", "protein_frames_sha256", "metrics", "roc", "levels", "confusion",
        "test_frames", "test_viral_frames",
    ),
    BENCHMARK.format: (
        "embedder", "device", "device_name", "precision", "token_budget", "input_sha256",
        "weights_sha256", "repeats", "sequences_per_second", "sequences_per_second_low",
        "sequences_per_second_high", "tokens_per_second", "peak_memory_gib", "load_seconds",
    ),
}  # fmt: skip


def _not_a_number(text: str) -> float:
    raise ValueError(f"{text} is not a number a result may hold")


def read_documents(paths: Sequence[Path], contract: Tagged) -> list[dict[str, Any]]:
    """JSON documents carrying the contract's format tag and the keys the comparison reads;
    any other file, or one holding NaN or Infinity, is refused."""
    documents = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
            document = json.loads(text, parse_constant=_not_a_number)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise InputError(f"{path}: cannot read {contract.what} ({error})") from None
        if not isinstance(document, dict) or document.get("format") != contract.format:
            raise InputError(
                f"{path}: not {contract.what} file of this version ({contract.format})"
            )
        missing = [key for key in _NEEDED[contract.format] if key not in document]
        if missing:
            raise InputError(f"{path}: {contract.what} without {', '.join(missing)}")
        documents.append(document)
    return documents


def _same(
    documents: list[dict[str, Any]], paths: Sequence[Path], keys: Sequence[str], what: str
) -> None:
    for key in keys:
        values = {str(document[key]) for document in documents}
        if len(values) > 1:
            found = ", ".join(
                f"{Path(p).name}: {_shown(d[key])}" for p, d in zip(paths, documents, strict=True)
            )
            raise InputError(f"{what} differ in {key} ({found}): the comparison needs them equal")


def _shown(value: Any) -> str:
    """A value in a message: digests shortened, lists of them counted."""
    if isinstance(value, list):
        return (
            f"[{', '.join(_shown(item) for item in value[:2])}{', ...' if len(value) > 2 else ''}]"
        )
    text = str(value)
    return text[:12] if len(text) == 64 else text


def read_comparable(
    evaluation_paths: Sequence[Path], benchmark_paths: Sequence[Path]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The evaluations and benchmarks, once they are shown to be comparable."""
    if not evaluation_paths:
        raise InputError("no evaluation files given")
    evaluations = read_documents(evaluation_paths, EVALUATION)
    benchmarks = read_documents(benchmark_paths, BENCHMARK)
    _same(
        evaluations,
        evaluation_paths,
        (
            "test_ids_sha256",
            "dna_embedder",
            "dna_weights_sha256",
            "dna_frames_sha256",
            "protein_frames_sha256",
            "chunk_size",
            "precision",
        ),
        "evaluations",
    )
    if benchmarks:
        _same(
            benchmarks,
            benchmark_paths,
            ("device", "device_name", "precision", "token_budget", "input_sha256", "repeats"),
            "benchmarks",
        )
        if benchmarks[0]["precision"] != evaluations[0]["precision"]:
            raise InputError(
                f"benchmarks ran in {benchmarks[0]['precision']} but the features were made in "
                f"{evaluations[0]['precision']}: speed and accuracy must come from the same precision"
            )
    fractions = {str(evaluation["levels"]["min_viral_fraction"]) for evaluation in evaluations}
    if len(fractions) > 1:
        raise InputError(
            f"evaluations differ in the minimum viral fraction of their sequence calls "
            f"({', '.join(sorted(fractions))}): the comparison needs them equal"
        )
    names = [evaluation["embedder"] for evaluation in evaluations]
    if len(set(names)) != len(names):
        raise InputError(f"an embedder is evaluated twice: {', '.join(names)}")
    for path, evaluation in zip(evaluation_paths, evaluations, strict=True):
        if evaluation.get("test_frames_unseen") is not True:
            raise InputError(
                f"{path}: its classifier does not record the frames it was trained on, so its "
                "test frames may have been seen in training: compare classifiers trained by "
                "train_classifier.py"
            )
    _check_same_models(evaluation_paths, evaluations, benchmark_paths, benchmarks)
    return evaluations, benchmarks


def _check_same_models(
    evaluation_paths: Sequence[Path],
    evaluations: list[dict[str, Any]],
    benchmark_paths: Sequence[Path],
    benchmarks: list[dict[str, Any]],
) -> None:
    """A benchmark must have timed the very model whose features were evaluated."""
    evaluated = {
        evaluation["embedder"]: (path, evaluation["protein_weights_sha256"])
        for path, evaluation in zip(evaluation_paths, evaluations, strict=True)
    }
    for path, benchmark in zip(benchmark_paths, benchmarks, strict=True):
        if benchmark["embedder"] not in evaluated:
            continue
        evaluation_path, weights = evaluated[benchmark["embedder"]]
        if benchmark["weights_sha256"] != weights:
            raise InputError(
                f"{path} timed {benchmark['embedder']} with weights {benchmark['weights_sha256'][:12]}"
                f" but {evaluation_path} evaluated features of weights {weights[:12]}: "
                "benchmark the model the features were made with"
            )
