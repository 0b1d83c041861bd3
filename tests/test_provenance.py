"""Results traceable to what made them, run as the user runs each step.

Every artifact records what it was made from (the frames report each chunk's
digest, feature files their model's weights and frames, a classifier its models
and training frames, evaluations and benchmarks their model), and each consumer
checks what it relies on: a file of another run, sample, model or chunk size is
refused with one ``error:`` line naming both sides, and nothing is written. Each
case here is one such check; removing the check makes its case fail. What each
case checks is described in ``command_runs``.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from command_runs import (
    CHUNK,
    DEMO,
    MIXED,
    Command,
    Need,
    Refusal,
    Run,
    Runs,
    TrainingData,
    check_refusal,
    classify,
    evaluate,
    fasta_records,
    features_args,
    needs,
    ok,
    ok_all,
    outcomes_fixture,
    predict,
    prepare,
    stub,
    stub_outputs,
)
from conftest import ASSETS, write_fasta
from safetensors.torch import load_file, save_file

from virnucpro.classify.calling import is_viral_sequence
from virnucpro.files.digests import records_digest
from virnucpro.files.feature_files import read_features, read_metadata

Maker = Callable[[Path, Need], Command]

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)


# --------------------------------------------------------------------------- inputs


def _mutated(sequence: str, position: int = 100) -> str:
    """``sequence`` with one base changed (A<->C, G<->T): same length, other content."""
    base = sequence[position]
    return (
        sequence[:position]
        + {"A": "C", "C": "A", "G": "T", "T": "G"}[base]
        + sequence[position + 1 :]
    )


def _same_ids_other_sequences(folder: Path, need: Need) -> Command:
    """The mixed sample's frames and features, with a FASTA of the same ids whose third
    record has one base changed."""
    sample = need("mixed")
    records = fasta_records(MIXED)
    records[2] = (records[2][0], _mutated(records[2][1]))
    other = write_fasta(folder / "input.fasta", records)
    return classify(sample, "out", *features_args(sample.merged), "--sequences", other)


def _features_of_other_frames(folder: Path, need: Need) -> Command:
    """The mixed sample's report and FASTA, with DNA features embedded from frames that carry
    the same ids but one other letter: the frames digest differs, nothing else does."""
    sample = need("mixed")
    shard_nt, _ = sample.shards[0]
    records = fasta_records(shard_nt)
    records[0] = (records[0][0], _mutated(records[0][1], 10))
    tampered = write_fasta(folder / "tampered.nucleotide.fasta", records)
    ok(
        "embed_dna.py", "--input", tampered, "--output", folder / "d.safetensors",
        "--chunk-size", CHUNK, "--embedder", "dna_composition", "--device", "cpu",
    )  # fmt: skip
    ok(
        "merge_features.py", "--dna", folder / "d.safetensors", "--protein", sample.proteins[0],
        "--output", folder / "m.safetensors",
    )  # fmt: skip
    merged = [folder / "m.safetensors", *sample.merged[1:]]
    return classify(sample, "out", *features_args(merged), "--sequences", sample.fasta)


def _frames_at(size: str, folder: Path) -> tuple[Path, Path, Path]:
    """The mixed example chunked at ``size``: (frames report, nucleotide, protein frames)."""
    ok("chunk_sequences.py", "--input", MIXED, "--output", folder / "c.fasta", "--chunk-size", size)
    nucleotide, protein = folder / "n.fasta", folder / "p.fasta"
    ok(
        "select_frames.py", "--input", folder / "c.fasta", "--nucleotide", nucleotide,
        "--protein", protein, "--report", folder / "frames.tsv",
    )  # fmt: skip
    return folder / "frames.tsv", nucleotide, protein


def _embed_and_merge(nucleotide: Path, protein: Path, folder: Path, chunk_size: str) -> Path:
    """Composition features of the frames, embedded with --chunk-size ``chunk_size``, merged."""
    ok_all(
        ["embed_dna.py", "--input", nucleotide, "--output", folder / "d.safetensors",
         "--chunk-size", chunk_size, "--embedder", "dna_composition", "--device", "cpu"],
        ["embed_protein.py", "--input", protein, "--output", folder / "p.safetensors",
         "--chunk-size", chunk_size, "--embedder", "aa_composition", "--device", "cpu"],
    )  # fmt: skip
    ok(
        "merge_features.py", "--dna", folder / "d.safetensors", "--protein",
        folder / "p.safetensors", "--output", folder / "m.safetensors",
    )  # fmt: skip
    return folder / "m.safetensors"


def _frames_of_500_embedded_at_300(folder: Path, need: Need) -> Command:
    _, nucleotide, _ = _frames_at("500", folder)
    stub(folder / "d.safetensors")
    return [
        "embed_dna.py", "--input", nucleotide, "--output", folder / "d.safetensors",
        "--chunk-size", "300", "--embedder", "dna_composition", "--device", "cpu",
    ]  # fmt: skip


def _features_of_500_for_a_300_classifier(folder: Path, need: Need) -> Command:
    report, nucleotide, protein = _frames_at("500", folder)
    merged = _embed_and_merge(nucleotide, protein, folder, "500")
    stub_outputs(folder / "out")
    return [
        "classify.py", "--classifier", DEMO, "--report", report, "--features", merged,
        "--sequences", MIXED, "--output-dir", "out",
    ]  # fmt: skip


def _report_of_500_for_a_300_classifier(folder: Path, need: Need) -> Command:
    """Features made honestly at 300 bp, but the frames report of 500 bp chunks."""
    sample = need("mixed")
    report, _, _ = _frames_at("500", folder)
    stub_outputs(folder / "out")
    return classify(
        sample, "out", *features_args(sample.merged), "--sequences", MIXED, report=report
    )


def _train_on_frames_of_300_labelled_500(folder: Path, need: Need) -> Command:
    """The bundled training frames (cut at 300 bp) embedded with --chunk-size 500."""
    data = need("training")
    source = data.features.parent
    merged = _embed_and_merge(
        source / "all.nucleotide.fasta", source / "all.protein.fasta", folder, "500"
    )
    return [
        "train_classifier.py", "--features", merged, "--train", data.train,
        "--validation", data.validation, "--output-dir", "model", "--max-epochs", "2",
    ]  # fmt: skip


def _proteins_shifted_by_one(folder: Path, need: Need) -> Command:
    """The mixed sample's frames, with each protein moved to the next frame's id."""
    sample = need("mixed")
    records = fasta_records(sample.protein)
    shifted = [(records[i][0], records[i - 1][1]) for i in range(len(records))]
    write_fasta(folder / "p.fasta", shifted)
    return [
        "shard_frames.py", "--nucleotide", sample.nucleotide, "--protein", "p.fasta",
        "--output-dir", "shards",
    ]  # fmt: skip


def _classify_without_sequences_over_a_viral_fasta(folder: Path, need: Need) -> Command:
    sample = need("mixed")
    stub_outputs(folder / "out")
    return _classify_with(DEMO, sample)


def _trained(folder: Path, need: Need) -> tuple[Path, TrainingData]:
    data = need("training")
    model = folder / "model"
    ok(
        "train_classifier.py", "--features", data.features, "--train", data.train,
        "--validation", data.validation, "--output-dir", model, "--max-epochs", "3",
    )  # fmt: skip
    return model, data


def _evaluate_on(split: str) -> Maker:
    def make(folder: Path, need: Need) -> Command:
        model, data = _trained(folder, need)
        stub(folder / "out" / "evaluation.json")
        return [
            "evaluate_classifier.py", "--classifier", model, "--features", data.features,
            "--test", getattr(data, split), "--output-dir", "out",
        ]  # fmt: skip

    return make


def _compare_an_evaluation_of_unknown_training(folder: Path, need: Need) -> Command:
    """The demo classifier does not record its training frames: its evaluation cannot be
    shown to be on unseen frames."""
    data = need("training")
    ok(*evaluate(data, str(folder / "demo")))
    return [
        "compare_embedders.py", "--evaluation", folder / "demo" / "evaluation.json",
        "--output-dir", "out",
    ]  # fmt: skip


def _classify_with(model: Path, sample, *extra: str | Path) -> Command:
    return [
        "classify.py", "--classifier", model, "--report", sample.report,
        *features_args(sample.merged), "--output-dir", "out", *extra,
    ]  # fmt: skip


def _classifier_with(change: Callable[[dict[str, torch.Tensor]], None]) -> Maker:
    """The demo classifier with ``change(state)`` applied to its weights."""

    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        model = folder / "model"
        shutil.copytree(DEMO, model)
        state = load_file(model / "model.safetensors")
        change(state)
        save_file(state, model / "model.safetensors")
        stub_outputs(folder / "out")
        return _classify_with(model, sample, "--sequences", MIXED)

    return make


def _negative_variance(state: dict[str, torch.Tensor]) -> None:
    state["norm.running_var"] = -state["norm.running_var"]


def _overflowing_output(state: dict[str, torch.Tensor]) -> None:
    state["output.weight"] = torch.full_like(state["output.weight"], 3e38)


def _classifier_json(change: Callable[[dict], None]) -> Maker:
    """The demo classifier with ``change(config)`` applied to its classifier.json, run with
    2 GiB of address space (the 16 GiB of a 65536 x 65536 layer must never be asked for)."""

    def make(folder: Path, need: Need) -> Command:
        sample = need("mixed")
        model = folder / "model"
        shutil.copytree(DEMO, model)
        config = json.loads((model / "classifier.json").read_text())
        change(config)
        (model / "classifier.json").write_text(json.dumps(config))
        stub_outputs(folder / "out")
        return ["prlimit", f"--as={2 << 30}", *_classify_with(model, sample)]

    return make


def _huge(config: dict) -> None:
    config.update(input_dimension=65536, hidden=65536)
    config["dimensions"] = {"dna": 65536 - 420, "protein": 420}


def _other_dimensions(config: dict) -> None:
    config.update(input_dimension=800)
    config["dimensions"] = {"dna": 380, "protein": 420}


def _predict_into_a_folder_whose_report_cannot_be_written(folder: Path, need: Need) -> Command:
    """Earlier tables in the output folder, and the report's path taken by a folder."""
    out = stub_outputs(folder / "out")
    (out / "predictions.report.html").mkdir()
    return predict(write_fasta(folder / "in.fasta", fasta_records(MIXED)[:3]), "out")


REFUSALS = {
    "same ids, other sequences": Refusal(
        _same_ids_other_sequences,
        words=("input.fasta", "is not the one the frames report was made from", "sha256"),
    ),
    "features of frames with other letters": Refusal(
        _features_of_other_frames,
        words=("m.safetensors", "dna frames are not the frames of", "features of another sample"),
    ),
    "frames of 500 bp chunks embedded with --chunk-size 300": Refusal(
        _frames_of_500_embedded_at_300,
        words=("n.fasta", "more than a chunk of --chunk-size 300", "another size"),
    ),
    "features of 500 bp chunks, classifier of 300": Refusal(
        _features_of_500_for_a_300_classifier,
        words=("m.safetensors", "chunk size 500 (classifier: 300)"),
    ),
    "frames report of 500 bp chunks, classifier of 300": Refusal(
        _report_of_500_for_a_300_classifier,
        words=("has 500 bp", "classifier's chunk size, 300 bp"),
    ),
    "training frames of 300 bp chunks labelled 500": Refusal(
        _train_on_frames_of_300_labelled_500,
        words=("m.safetensors", "longest DNA frame has 300 bases", "chunks of 500 bp"),
    ),
    "proteins of the same ids shifted by one frame": Refusal(
        _proteins_shifted_by_one,
        words=("p.fasta", "is not the translation of its nucleotide frame", "same frames"),
    ),
    "evaluation on the training frames": Refusal(
        _evaluate_on("train"), words=("train.tsv", "in the classifier's train frames")
    ),
    "evaluation on the validation frames": Refusal(
        _evaluate_on("validation"),
        words=("validation.tsv", "in the classifier's validation frames"),
    ),
    "comparison of an evaluation on maybe-seen frames": Refusal(
        _compare_an_evaluation_of_unknown_training,
        words=("evaluation.json", "does not record the frames it was trained on"),
        alone=False,
    ),
    "classifier with negative BatchNorm variance": Refusal(
        _classifier_with(_negative_variance), words=("model.safetensors", "negative variances")
    ),
    "classifier whose finite weights overflow to NaN scores": Refusal(
        _classifier_with(_overflowing_output), words=("NaN or Inf scores", "corrupt classifier")
    ),
    "classifier of 65536 x 65536 weights, 2 GiB address space": Refusal(
        _classifier_json(_huge), words=("classifier.json", "hidden 65536", "weights, more than")
    ),
    "classifier of other dimensions, weights never read": Refusal(
        _classifier_json(_other_dimensions),
        words=("does not match the classifier", "DNA dimension 340 (classifier: 380)"),
    ),
    "predict whose report cannot be written": Refusal(
        _predict_into_a_folder_whose_report_cannot_be_written,
        words=("predictions.report.html",),
        alone=False,
    ),
}


@pytest.mark.parametrize("case", RUNS.cases(REFUSALS))
def test_a_result_of_another_run_is_refused(outcomes, case):
    check_refusal(outcomes, case)


RUNS.add({"classify without --sequences": Run(_classify_without_sequences_over_a_viral_fasta)})


@needs("classify without --sequences")
def test_classify_without_sequences_leaves_no_earlier_viral_fasta(outcomes):
    outcome = outcomes["classify without --sequences"]
    log = outcome.succeeded()
    assert "removed out/predictions.viral.fasta" in log and "could not be checked" in log, log
    assert "out/predictions.viral.fasta" not in outcome.after
    assert (
        outcome.after["out/predictions.sequence_calls.tsv"]
        != outcome.before["out/predictions.sequence_calls.tsv"]
    )


# --------------------------------------------------------------------------- resuming


def _tiny_esm_copy(folder: Path, scale: float) -> Path:
    """The bundled tiny ESM2 with its weights scaled: same layout, other weights."""
    model = folder / f"model{scale}"
    shutil.copytree(ASSETS.parent / "models" / "tiny_esm2", model)
    state = load_file(model / "model.safetensors")
    save_file({name: tensor * scale for name, tensor in state.items()}, model / "model.safetensors")
    return model


def _embed_with(model: Path, frames: Path, output: Path) -> Command:
    return [
        "embed_protein.py", "--input", frames, "--output", output, "--chunk-size", CHUNK,
        "--embedder", "tiny_esm2", "--device", "cpu", "--model-dir", model,
    ]  # fmt: skip


def _resume_with_other_weights(folder: Path, need: Need) -> Command:
    frames = write_fasta(
        folder / "p.fasta", [("a_chunk_1F1", "MKV" * 20), ("b_chunk_1R2", "WYL" * 9)]
    )
    ok(*_embed_with(_tiny_esm_copy(folder, 1.0), frames, folder / "p.safetensors"))
    return _embed_with(_tiny_esm_copy(folder, 0.5), frames, folder / "p.safetensors")


RUNS.add({"resume with other weights": Run(_resume_with_other_weights)})


@needs("resume with other weights")
def test_resuming_with_other_weights_embeds_again(outcomes):
    outcome = outcomes["resume with other weights"]
    log = outcome.succeeded()
    assert "was made with another" in log and "weights_sha256" in log, log
    assert "model0.5" in read_metadata(outcome.file("p.safetensors"))["model_id"]
    assert outcome.after["p.safetensors"] != outcome.before["p.safetensors"]


# --------------------------------------------------------------------------- exact fractions


def test_the_viral_fraction_rule_is_exact_for_every_fraction_as_written():
    # 0.28 x 25 is 7.000000000000001 in floating point: 7 of 25 chunks must reach 0.28.
    assert is_viral_sequence(7, 25, 0.28) and not is_viral_sequence(6, 25, 0.28)
    wrong = [
        (percent, scored, viral)
        for percent in range(1, 100)
        for scored in range(1, 1001)
        if (
            (viral := math.ceil(Fraction(percent, 100) * scored)) <= scored
            and not is_viral_sequence(viral, scored, percent / 100)
        )
        or (viral >= 1 and is_viral_sequence(viral - 1, scored, percent / 100))
    ]
    assert wrong == []


def _tables_of_7_viral_in_25(folder: Path, need: Need) -> Command:
    """A sample's tables (as classify.py writes them) where 7 of 25 chunks are viral and the
    sequence is called virus at 0.28: prediction_report.py must agree."""
    rows = ["chunk_id\tprediction\tframes\tmax_score1\tmax_score2"]
    for i in range(1, 26):
        virus = i <= 7
        rows.append(f"s_chunk_{i}\t{'virus' if virus else 'others'}\t1\t"
                    f"{'0.400000' if virus else '0.600000'}\t{'0.600000' if virus else '0.400000'}")  # fmt: skip
    (folder / "a.chunk_calls.tsv").write_text("\n".join(rows) + "\n")
    (folder / "a.sequence_calls.tsv").write_text(
        "sequence_id\tchunks\tchunks_with_frames\tviral_chunks\tmax_viral_score\tcall\t"
        "length\tcoverage\tlow_coverage\n"
        "s\t25\t25\t7\t0.600000\tvirus\tNA\t1.0000\tno\n"
    )
    return [
        "prediction_report.py", "--chunk-calls", "a.chunk_calls.tsv", "--sequence-calls",
        "a.sequence_calls.tsv", "--output", "report.html", "--min-viral-fraction", "0.28",
    ]  # fmt: skip


RUNS.add({"7 of 25 chunks at 0.28": Run(_tables_of_7_viral_in_25)})


@needs("7 of 25 chunks at 0.28")
def test_seven_of_twenty_five_chunks_reach_a_fraction_of_0_28(outcomes):
    outcome = outcomes["7 of 25 chunks at 0.28"]
    outcome.succeeded()
    assert "1 called virus" in outcome.file("report.html").read_text()


# --------------------------------------------------------------------------- in-memory checks


def test_an_embedder_giving_nan_is_refused_before_scoring(monkeypatch):
    from virnucpro.embed import embed_files
    from virnucpro.embed.embedders.registry import get_embedder
    from virnucpro.errors import InputError

    embedder = embed_files.SequenceEmbedder(get_embedder("tiny_esm2"), "fp32", "cpu", 4096)
    monkeypatch.setattr(
        embed_files, "embed_sequences", lambda *args: np.array([[0.0, 1.0], [np.nan, 1.0]])
    )
    with pytest.raises(InputError, match=r"tiny_esm2 gives NaN or Inf for 1 of 2 sequences"):
        embedder.embed(["MKV", "MKVL"])


def test_merged_features_record_both_models_and_frames(tmp_path):
    sample = prepare(write_fasta(tmp_path / "in.fasta", fasta_records(MIXED)[:2]), tmp_path / "s")
    metadata = read_features(sample.merged[0]).metadata
    frames = {
        "dna": fasta_records(sample.shards[0][0]),
        "protein": fasta_records(sample.shards[0][1]),
    }
    for side in ("dna", "protein"):
        assert metadata[f"{side}_frames_sha256"] == records_digest(frames[side])
        assert metadata[f"{side}_weights_sha256"] == "none"  # composition: no model files
