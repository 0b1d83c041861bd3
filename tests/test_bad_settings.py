"""Bad settings (option values and option names), run as the user runs the bin/ scripts and
``virnucpro``.

Impossible values (a batch size, epoch count, learning rate, bootstrap count or
viral fraction out of range, a chunk size of 0 or not a number), a missing
option and the old ``--model`` option are refused with one ``error:`` line
naming the option and value (exit 2 for usage errors), and nothing written.
Few bootstrap resamples still give valid JSON, and ``--help`` shows its text
literally. What each case checks is described in ``command_runs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from command_runs import (
    DEMO,
    MIXED,
    Command,
    Need,
    Refusal,
    Run,
    Runs,
    check_refusal,
    evaluate,
    outcomes_fixture,
    predict,
    stub,
    stub_outputs,
)
from conftest import ASSETS

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


# --------------------------------------------------------------------------- impossible values


def _train(*option: str) -> Refusal:
    def make(folder: Path, need: Need) -> Command:
        data = need("training")
        stub(folder / "model" / "classifier.json")
        return ["train_classifier.py", "--features", data.features, "--train", data.train,
                "--validation", data.validation, "--output-dir", "model", *option]  # fmt: skip

    return Refusal(make, words=(option[0].strip("-").replace("-", "_"), option[1]))


def _evaluate_bootstrap_zero(folder: Path, need: Need) -> Command:
    stub(folder / "eval" / "evaluation.json")
    return evaluate(need("training"), "eval", "--bootstrap", "0")


def _predict_fraction(folder: Path, need: Need) -> Command:
    stub_outputs(folder / "out")
    return predict(MIXED, "out", "--min-viral-fraction", "1.5")


SETTINGS = {
    "train-batch-size-0": _train("--batch-size", "0"),
    "train-max-epochs-0": _train("--max-epochs", "0"),
    "train-learning-rate-negative": _train("--learning-rate", "-1"),
    "evaluate-bootstrap-0": Refusal(_evaluate_bootstrap_zero, words=("bootstrap", "0")),
    "predict-viral-fraction-1.5": Refusal(_predict_fraction, words=("fraction", "1.5")),
    "chunk-missing-option": Refusal(
        lambda folder, need: ["chunk_sequences.py", "--input", MIXED],
        words=("missing option", "--output"), code=2,
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    "case",
    RUNS.cases(SETTINGS, slow_ones=("train-max-epochs-0", "train-learning-rate-negative")),
)
def test_impossible_settings_are_refused(outcomes, case):
    check_refusal(outcomes, case)


def _no_nan(name: str) -> float:
    raise AssertionError(f"{name} in evaluation.json is not JSON")


def _evaluate(resamples: str) -> Run:
    return Run(lambda folder, need: evaluate(need("training"), "eval", "--bootstrap", resamples))


@pytest.mark.parametrize(
    "case",
    RUNS.cases({"evaluate-bootstrap-1": _evaluate("1"), "evaluate-bootstrap-2": _evaluate("2")},
               slow_ones=("evaluate-bootstrap-1",)),
)  # fmt: skip
def test_few_bootstrap_resamples_still_give_valid_json(outcomes, case):
    outcome = outcomes[case]
    outcome.succeeded()
    report = json.loads(outcome.file("eval/evaluation.json").read_text(), parse_constant=_no_nan)
    assert report["bootstrap"]["resamples"] == int(case[-1])


# --------------------------------------------------------------------------- chunk sizes


def _chunk_size_command(script: str, size: str) -> Callable[[Path, Need], Command]:
    def make(folder: Path, need: Need) -> Command:
        common = ["--chunk-size", size]
        if script == "chunk_sequences.py":
            stub(folder / "chunks.fasta")
            return [script, "--input", MIXED, "--output", "chunks.fasta", *common]
        if script == "build_training_set.py":
            stub(folder / "n.fasta")
            return [script, "--genbank", ASSETS / "NC_005816.gb", "--label", "host", *common,
                    "--nucleotide", "n.fasta", "--protein", "p.fasta", "--sources", "s.tsv"]  # fmt: skip
        if script == "convert_legacy_model.py":
            return [script, "--input", MIXED, "--output-dir", "model", *common]
        stub(folder / "out.safetensors")
        sample = need("mixed")
        if script == "embed_dna.py":
            frames, embedder = sample.shards[0][0], "dna_composition"
        else:
            frames, embedder = sample.shards[0][1], "aa_composition"
        return [script, "--input", frames, "--output", "out.safetensors", "--embedder", embedder,
                *common, "--device", "cpu"]  # fmt: skip

    return make


CHUNK_SIZE_SCRIPTS = (
    "chunk_sequences.py",
    "build_training_set.py",
    "embed_dna.py",
    "embed_protein.py",
    "convert_legacy_model.py",
)
CHUNK_SIZES = {
    f"chunk-size-0-{script.removesuffix('.py')}": Refusal(
        _chunk_size_command(script, "0"), words=("chunk size", "0")
    )
    for script in CHUNK_SIZE_SCRIPTS
}
CHUNK_SIZES.update({
    f"chunk-size-65537-{script.removesuffix('.py')}": Refusal(
        _chunk_size_command(script, "65537"), words=("chunk size", "up to 65,536", "65537")
    )
    for script in ("chunk_sequences.py", "embed_dna.py")
})  # fmt: skip
CHUNK_SIZES.update({
    f"chunk-size-abc-{script.removesuffix('.py')}": Refusal(
        _chunk_size_command(script, "abc"), words=("--chunk-size", "integer"), code=2
    )
    for script in ("chunk_sequences.py", "embed_dna.py")
})  # fmt: skip


@pytest.mark.parametrize(
    "case",
    RUNS.cases(
        CHUNK_SIZES,
        slow_ones=(
            "chunk-size-0-embed_protein",
            "chunk-size-abc-embed_dna",
            "chunk-size-65537-embed_dna",
        ),
    ),
)
def test_impossible_chunk_size_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- option names and help


def _old_model_option(command: Callable[[], Command]) -> Refusal:
    """The classifier option was --model before it was --classifier: a usage error, no alias."""

    def make(folder: Path, need: Need) -> Command:
        stub_outputs(folder / "out")
        return ["--model" if word == "--classifier" else word for word in command()]

    return Refusal(make, words=("No such option: --model",), code=2)


OLD_MODEL_OPTION = {
    "classify-old-model-option": _old_model_option(
        lambda: ["classify.py", "--classifier", DEMO, "--report", "r.tsv", "--output-dir", "out"]
    ),
    "predict-old-model-option": _old_model_option(lambda: predict(MIXED, "out")),
}


@pytest.mark.parametrize("case", RUNS.cases(OLD_MODEL_OPTION))
def test_the_classifier_option_is_not_called_model(outcomes, case):
    line = check_refusal(outcomes, case)
    script = "classify.py" if case.startswith("classify") else "virnucpro predict"
    assert line.endswith(f"(see '{script} --help')"), line


HELP = {
    "help-select-frames": (["select_frames.py", "--help"], ("strand[k-1 : k+3L]",)),
    "help-virnucpro-embed-dna": (["virnucpro", "embed-dna", "--help"], ("[default: ",)),
    "help-embed-dna": (["embed_dna.py", "--help"], ("--embedder", "--model-dir")),
    "help-embed-protein": (["embed_protein.py", "--help"], ("--embedder", "--model-dir")),
}


@pytest.mark.parametrize(
    "case",
    RUNS.cases({name: Run(lambda f, need, c=command: c) for name, (command, _) in HELP.items()}),
)
def test_help_shows_its_text_literally(outcomes, case):
    outcome = outcomes[case]
    outcome.succeeded()
    for text in HELP[case][1]:
        assert text in outcome.result.stdout, outcome.result.stdout
