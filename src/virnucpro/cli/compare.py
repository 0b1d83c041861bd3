"""``benchmark_embedder.py`` and ``compare_embedders.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import VersionOption, new_app, run_app
from virnucpro.embed.sequence_embedding import DEFAULT_TOKEN_BUDGET

benchmark_app = new_app("Measure an embedder's speed and memory on a FASTA of frames.")
compare_app = new_app(
    "Compare protein embedders: one table of accuracy and speed, and an HTML report."
)


@benchmark_app.command(name="benchmark-embedder")
def benchmark_embedder_command(
    embedder: Annotated[str, typer.Option(help="Registered embedder.")],
    input: Annotated[
        Path,
        typer.Option(
            help="Frames to embed: protein FASTA for protein embedders, nucleotide for DNA."
        ),
    ],
    output: Annotated[Path, typer.Option(help="JSON file of the figures.")],
    precision: Annotated[
        str, typer.Option(help="fp32, bf16 or fp16; use the same for every embedder compared.")
    ] = "bf16",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    token_budget: Annotated[
        int, typer.Option(help="Most tokens per batch; use the same for every embedder.")
    ] = DEFAULT_TOKEN_BUDGET,
    warmup: Annotated[int, typer.Option(help="Sequences embedded once before timing.")] = 64,
    model_dir: Annotated[
        Path | None, typer.Option(help="Load the weights from this folder instead of the cache.")
    ] = None,
    hf_home: Annotated[Path | None, typer.Option(help="Model cache [default: $HF_HOME].")] = None,
    version: VersionOption = False,
) -> None:
    """Sequences/s, tokens/s and peak memory after a warm-up, with model load time apart (SPEC §7).

    On a GPU the timed pass is synchronised at both ends and memory is the
    peak allocated by PyTorch; on a CPU it is the process's peak resident memory.
    """
    from virnucpro.embed.benchmark import benchmark_embedder
    from virnucpro.embed.embedders.registry import get_embedder

    benchmark_embedder(
        get_embedder(embedder),
        input,
        output,
        precision,
        device,
        token_budget,
        warmup,
        model_dir,
        hf_home,
    )


@compare_app.command(name="compare-embedders")
def compare_embedders_command(
    evaluation: Annotated[
        list[Path], typer.Option(help="evaluation.json of one embedder; repeat for each.")
    ],
    output_dir: Annotated[
        Path, typer.Option(help="Folder for comparison.tsv, comparison.md and report.html.")
    ],
    benchmark: Annotated[
        list[Path] | None, typer.Option(help="Benchmark JSON of one embedder; repeat for each.")
    ] = None,
    baseline: Annotated[
        str, typer.Option(help="Embedder the speedup and ΔF1 are measured against.")
    ] = "esm2_3b",
    predictions: Annotated[
        list[Path] | None,
        typer.Option(
            help="test_predictions.tsv of one embedder, in the order of --evaluation; repeat for "
            "each. Gives the paired ΔF1, ΔAUROC, ΔMCC intervals and McNemar's test."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Resamples of the paired bootstrap (with --predictions).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 42,
    counts: Annotated[
        list[Path] | None,
        typer.Option(
            help="counts.tsv of build_training_set.py; repeat for each input. Gives the frames "
            "per 500 bp read of the projected hours."
        ),
    ] = None,
    max_f1_loss: Annotated[
        float,
        typer.Option(
            help="Largest F1 loss against the baseline that the speed is worth: the verdict's rule."
        ),
    ] = 0.01,
    version: VersionOption = False,
) -> None:
    """One row per embedder: dimension, metrics with 95% intervals, speed, memory, speedup and ΔF1.

    Refuses evaluations on different test sets, DNA embedders, chunk sizes or
    precisions, and benchmarks from different devices, precisions, budgets or
    inputs: a comparison is only made between like and like. With the test
    predictions of every embedder, the deltas against the baseline are paired:
    95% paired-bootstrap intervals (same frames resampled for both) and
    McNemar's exact test on the calls; predictions on other frames or labels, or
    not matching their evaluation, are refused.

    The decision: each embedder's tokens/s, the hours one million 500 bp reads
    would take to embed at that speed (frames per read from --counts), and a
    verdict on its paired ΔF1 interval: within the allowed loss (the interval's
    lower end is at least -MAX_F1_LOSS), outside it (the upper end is below), or
    not decidable at this test-set size.
    """
    from virnucpro.compare.compare_embedders import compare_embedders

    compare_embedders(
        evaluation,
        benchmark or [],
        output_dir,
        baseline,
        predictions or [],
        bootstrap,
        seed,
        counts or [],
        max_f1_loss,
    )


def main_benchmark() -> None:
    """Entry point of ``bin/benchmark_embedder.py``."""
    run_app(benchmark_app)


def main_compare() -> None:
    """Entry point of ``bin/compare_embedders.py``."""
    run_app(compare_app)
