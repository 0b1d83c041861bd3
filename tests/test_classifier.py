"""The classifier: SPEC §4 architecture, deterministic training, checkpoints, metrics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import ROOT

from virnucpro.classify.classifier import (
    Classifier,
    check_unseen,
    load_classifier,
    training_frames,
)
from virnucpro.classify.classifier import MLPClassifier as VirnucproMLP
from virnucpro.classify.evaluation import bootstrap_calls, bootstrap_metrics, evaluate_classifier
from virnucpro.classify.labelled import named_feature_files
from virnucpro.classify.training import TrainingSettings, train_classifier
from virnucpro.errors import InputError
from virnucpro.files.feature_files import Features, read_features, write_features

DNA, PROTEIN = 6, 10


def _features(
    tmp_path, name, ids, matrix, protein_embedder="prot", chunk_size="300", protein_weights="w"
):
    metadata = {
        "embedder": f"dna+{protein_embedder}", "modality": "merged", "model_id": "m", "revision": "r",
        "weights_sha256": f"w+{protein_weights}", "frames_sha256": "f", "longest_frame": "300+100",
        "dna_longest_frame": "300", "protein_longest_frame": "100", "dna_model_id": "m", "dna_revision": "r",
        "dna_weights_sha256": "w", "dna_frames_sha256": "f", "protein_model_id": "m",
        "protein_revision": "r", "protein_weights_sha256": protein_weights, "protein_frames_sha256": "f",
        "precision": "fp32", "chunk_size": chunk_size, "dna_embedder": "dna", "dna_dimension": str(DNA),
        "protein_embedder": protein_embedder, "protein_dimension": str(matrix.shape[1] - DNA),
    }  # fmt: skip
    path = tmp_path / f"{name}.safetensors"
    write_features(path, Features(ids, matrix.astype(np.float32), metadata))
    return path


def _dataset(tmp_path, frames=240, seed=0):
    """Two shards of separable frames (class shifts the mean) and a 60/20/20 split."""
    rng = np.random.default_rng(seed)
    labels = np.arange(frames) % 2
    matrix = rng.normal(size=(frames, DNA + PROTEIN)) + labels[:, None] * 1.5
    ids = [f"g{i}_chunk_1F1" for i in range(frames)]
    half = frames // 2
    shards = [
        _features(tmp_path, "a", ids[:half], matrix[:half]),
        _features(tmp_path, "b", ids[half:], matrix[half:]),
    ]
    lists = {}
    for name, part in (
        ("train", range(0, 144)),
        ("validation", range(144, 192)),
        ("test", range(192, 240)),
    ):
        lists[name] = tmp_path / f"{name}.tsv"
        lists[name].write_text(
            "frame_id\tgenome\tlabel\tsource\n"
            + "".join(f"{ids[i]}\tg{i}\t{labels[i]}\tx\n" for i in part)
        )
    return shards, lists


def _train(shards, lists, folder, **settings):
    """Train on the dataset's train list, stopping early on its validation list."""
    return train_classifier(
        shards, lists["train"], lists["validation"], folder, TrainingSettings(**settings)
    )


def test_architecture_matches_the_original():
    torch.manual_seed(0)
    model = VirnucproMLP(3328)
    layers = [type(m).__name__ for m in model.children()]
    assert layers == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert (model.hidden.in_features, model.hidden.out_features, model.output.out_features) == (
        3328,
        512,
        2,
    )
    assert model.dropout.p == 0.5
    bound = (6 / (3328 + 512)) ** 0.5  # Xavier-uniform bound
    assert (
        model.hidden.weight.abs().max() <= bound and model.hidden.weight.abs().max() > 0.9 * bound
    )


def test_training_is_deterministic_learns_and_restores_the_best_epoch(tmp_path):
    shards, lists = _dataset(tmp_path)
    settings = TrainingSettings(max_epochs=30, patience=3)
    first = train_classifier(
        shards, lists["train"], lists["validation"], tmp_path / "one", settings
    )
    second = train_classifier(
        shards, lists["train"], lists["validation"], tmp_path / "two", settings
    )
    assert (tmp_path / "one" / "model.safetensors").read_bytes() == (
        tmp_path / "two" / "model.safetensors"
    ).read_bytes()
    log = [
        line.split("\t")
        for line in (tmp_path / "one" / "training_log.tsv").read_text().splitlines()[1:]
    ]
    losses = [float(row[2]) for row in log]
    best = first.details["training"]["best_epoch"]
    assert losses[best - 1] == min(losses)
    assert first.details["metrics"]["validation_loss"] == pytest.approx(min(losses), abs=1e-6)
    assert first.details["metrics"]["validation_accuracy"] > 0.85
    assert len(log) == first.details["training"]["epochs_run"] and second.details == first.details
    metadata = json.loads((tmp_path / "one" / "classifier.json").read_text())
    assert metadata["input_dimension"] == DNA + PROTEIN and metadata["embedders"] == {
        "dna": "dna",
        "protein": "prot",
    }


def test_saved_weights_are_those_of_the_best_epoch_not_the_last(tmp_path):
    # Early stopping must write the weights of the epoch with the lowest validation
    # loss: the checkpoint read back from disk scores that loss, not the last epoch's.
    from virnucpro.classify.labelled import select_labelled
    from virnucpro.classify.training import _evaluate

    shards, lists = _dataset(tmp_path)
    settings = TrainingSettings(max_epochs=60, patience=3, learning_rate=2e-2)
    trained = train_classifier(
        shards, lists["train"], lists["validation"], tmp_path / "m", settings
    )
    best, run = trained.details["training"]["best_epoch"], trained.details["training"]["epochs_run"]
    assert run == best + 3  # stopped early, three epochs after the best one
    log = (tmp_path / "m" / "training_log.tsv").read_text().splitlines()[1:]
    losses = [float(line.split("\t")[2]) for line in log]
    files = [features for _, features in named_feature_files(shards)]
    validation = select_labelled(files, lists["validation"])
    saved, _ = _evaluate(
        load_classifier(tmp_path / "m").model, validation, torch.nn.CrossEntropyLoss()
    )
    assert saved == pytest.approx(losses[best - 1], abs=1e-6)
    assert abs(losses[-1] - losses[best - 1]) > 1e-4  # the last epoch's weights would differ


def test_checkpoint_round_trip_and_refusal_of_other_features(tmp_path):
    shards, lists = _dataset(tmp_path)
    _train(shards, lists, tmp_path / "model", max_epochs=2)
    classifier = load_classifier(tmp_path / "model")
    assert (
        classifier.dimensions == {"dna": DNA, "protein": PROTEIN} and classifier.chunk_size == 300
    )
    other = _features(
        tmp_path, "other", ["x_chunk_1F1"], np.zeros((1, DNA + 4)), protein_embedder="esm9"
    )
    with pytest.raises(
        InputError,
        match=r"protein embedder esm9 \(classifier: prot\); protein dimension 4 \(classifier: 10\)",
    ):
        evaluate_classifier(tmp_path / "model", [other], lists["test"], tmp_path / "eval")
    with pytest.raises(InputError, match="not a classifier checkpoint"):
        load_classifier(tmp_path)


def test_features_of_other_model_weights_are_refused_naming_both(tmp_path):
    shards, lists = _dataset(tmp_path)
    _train(shards, lists, tmp_path / "model", max_epochs=1)
    saved = json.loads((tmp_path / "model" / "classifier.json").read_text())
    assert saved["models"]["protein"] == {"model_id": "m", "revision": "r", "weights_sha256": "w"}
    retrained = _features(
        tmp_path, "other", ["g0_chunk_1F1"], np.zeros((1, DNA + PROTEIN)), protein_weights="v"
    )
    with pytest.raises(
        InputError, match=r"other.safetensors does not match the classifier: protein "
        r"weights_sha256 v \(classifier: w\)"
    ):  # fmt: skip
        load_classifier(tmp_path / "model", [(str(retrained), read_features(retrained))])


def test_predict_models_are_checked_against_the_recorded_ones(tmp_path, caplog):
    shards, lists = _dataset(tmp_path)
    _train(shards, lists, tmp_path / "model", max_epochs=1)
    classifier = load_classifier(tmp_path / "model")
    classifier.check_models({"dna": "w", "protein": "w"}, "the models")
    with pytest.raises(
        InputError, match=r"the models are not the classifier's models: protein weights_sha256 v "
        r"\(classifier: w\)"
    ):  # fmt: skip
        classifier.check_models({"dna": "w", "protein": "v"}, "the models")
    demo = load_classifier(ROOT / "assets" / "models" / "composition_classifier")
    demo.check_models({"dna": "none", "protein": "none"}, "composition")
    assert "does not record the weights" not in caplog.text
    demo.check_models({"dna": "w", "protein": "none"}, "a model")
    assert "does not record the weights of its models: a model cannot be checked" in caplog.text


def test_feature_files_of_two_model_versions_are_not_mixed(tmp_path):
    matrix = np.zeros((1, DNA + PROTEIN))
    files = [
        _features(tmp_path, "a", ["a_chunk_1F1"], matrix),
        _features(tmp_path, "b", ["b_chunk_1F1"], matrix, protein_weights="v"),
    ]
    with pytest.raises(InputError, match=r"b.safetensors: weights_sha256 w\+v differs from w\+w"):
        named_feature_files(files)


def test_the_classifier_knows_its_training_frames_and_refuses_them_as_test_frames(tmp_path):
    shards, lists = _dataset(tmp_path)
    _train(shards, lists, tmp_path / "model", max_epochs=1)
    seen = training_frames(tmp_path / "model")
    assert {split: len(hashes) for split, hashes in seen.items()} == {
        "train": 144,
        "validation": 48,
    }
    assert check_unseen(tmp_path / "model", ["g200_chunk_1F1", "new"], "test.tsv") is True
    with pytest.raises(
        InputError, match=r"mixed.tsv: 1 of its 2 frames are in the classifier's validation "
        r"frames \(e.g. 'g150_chunk_1F1'\)"
    ):  # fmt: skip
        check_unseen(tmp_path / "model", ["g200_chunk_1F1", "g150_chunk_1F1"], "mixed.tsv")
    assert check_unseen(ROOT / "assets" / "models" / "composition_classifier", ["x"], "t") is False


def test_evaluation_writes_metrics_roc_and_aligned_predictions(tmp_path):
    shards, lists = _dataset(tmp_path)
    _train(shards, lists, tmp_path / "model", max_epochs=20)
    result = evaluate_classifier(
        tmp_path / "model", shards, lists["test"], tmp_path / "eval", resamples=200
    )
    assert result["test_frames"] == 48 and result["test_viral_frames"] == 24
    f1 = result["metrics"]["f1"]
    assert f1["low"] <= f1["value"] <= f1["high"] and f1["value"] > 0.8
    confusion = result["confusion"]
    assert sum(confusion.values()) == 48 and confusion["tp"] + confusion["fn"] == 24
    rows = [
        line.split("\t")
        for line in (tmp_path / "eval" / "test_predictions.tsv").read_text().splitlines()[1:]
    ]
    expected = [line.split("\t")[::2] for line in lists["test"].read_text().splitlines()[1:]]
    assert [[row[0], row[1]] for row in rows] == expected  # ids and labels stay aligned
    assert result["roc"]["fpr"][0] == 0.0 and result["roc"]["tpr"][-1] == 1.0
    # the models as the features name them, for the comparison's provenance
    assert [result[f"{m}_{k}"] for m in ("dna", "protein") for k in ("model_id", "revision")] == [
        "m", "r", "m", "r"
    ]  # fmt: skip


def test_metrics_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 0])
    scores = np.array([[0.1, 0.9], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3], [0.9, 0.1]])
    result = bootstrap_metrics(labels, scores, resamples=50, seed=1)
    # Predicted 1 1 0 1 0 0: TP 2, FN 1, FP 1, TN 2.
    assert result["accuracy"]["value"] == pytest.approx(4 / 6)
    assert (
        result["precision"]["value"]
        == result["recall"]["value"]
        == result["f1"]["value"]
        == pytest.approx(2 / 3)
    )
    assert result["mcc"]["value"] == pytest.approx(1 / 3)
    assert result["auroc"]["value"] == pytest.approx(
        7 / 9
    )  # 7 of 9 positive-negative pairs ordered right
    with pytest.raises(InputError, match="one class only"):
        bootstrap_metrics(np.ones(3, dtype=int), scores[:3], 10, 0)


def test_features_of_another_chunk_size_are_refused_naming_both(tmp_path):
    torch.manual_seed(0)
    classifier = Classifier(
        VirnucproMLP(DNA + PROTEIN, hidden=8),
        {"dna": "dna", "protein": "prot"},
        {"dna": DNA, "protein": PROTEIN},
        chunk_size=300,
        precision="fp32",
    )
    matrix = np.zeros((1, DNA + PROTEIN))
    same = read_features(_features(tmp_path, "same", ["x_chunk_1F1"], matrix, chunk_size="300"))
    classifier.check_features(same, "same.safetensors")  # everything matches: no error
    other = read_features(_features(tmp_path, "other", ["x_chunk_1F1"], matrix, chunk_size="500"))
    with pytest.raises(InputError) as error:
        classifier.check_features(other, "other.safetensors")
    assert str(error.value) == (
        "other.safetensors does not match the classifier: chunk size 500 (classifier: 300)"
    )


def _metrics_by_hand(y, p, s):
    """The six frame metrics from the confusion counts, and AUROC by counting pairs."""
    tp, fp = int(((y == 1) & (p == 1)).sum()), int(((y == 0) & (p == 1)).sum())
    fn, tn = int(((y == 1) & (p == 0)).sum()), int(((y == 0) & (p == 0)).sum())
    viral, host = s[y == 1], s[y == 0]
    pairs = (viral[:, None] > host[None, :]).sum() + 0.5 * (viral[:, None] == host[None, :]).sum()
    denominator = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    return {
        "accuracy": (tp + tn) / len(y),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "auroc": pairs / (len(viral) * len(host)),
        "mcc": (tp * tn - fp * fn) / denominator if denominator else 0.0,
    }


def test_bootstrap_interval_is_the_2_5_and_97_5_percentiles_of_the_resamples():
    # 20 frames, 10 viral: 7 viral and 2 host frames called virus.
    labels = np.array([1] * 10 + [0] * 10)
    calls = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    virus = np.linspace(0.95, 0.05, 20)
    virus[[7, 8, 16, 17]] = virus[[16, 17, 7, 8]]  # the host frames called virus score high
    resamples, seed = 40, 3
    # The same resamples as the code: one seeded generator, one row of 20 indices each.
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in _metrics_by_hand(labels, calls, virus)}
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        if labels[pick].min() == labels[pick].max():
            continue  # one class: left out, as the code does
        for name, value in _metrics_by_hand(labels[pick], calls[pick], virus[pick]).items():
            draws[name].append(value)
    result = bootstrap_calls(labels, calls, virus, resamples, seed)
    assert list(result) == list(draws)
    whole = _metrics_by_hand(labels, calls, virus)
    for name, values in draws.items():
        low, high = np.percentile(values, [2.5, 97.5])  # the 95% interval
        assert result[name]["value"] == pytest.approx(whole[name], abs=1e-12), name
        assert (result[name]["low"], result[name]["high"]) == pytest.approx(
            (low, high), abs=1e-12
        ), name
        # The case tells intervals apart: a 90% interval (5th, 95th) is another pair.
        assert tuple(np.percentile(values, [5, 95])) != pytest.approx((low, high)), name


def test_a_last_batch_of_one_frame_is_dropped(monkeypatch):
    # BatchNorm cannot train on one frame: 9 frames in batches of 4 train on 4 + 4 and drop
    # the ninth (a different one each epoch, as batches are shuffled); 10 frames keep 4 + 4 + 2.
    from virnucpro.classify import training
    from virnucpro.classify.labelled import LabelledFeatures

    batches = []

    class Recording(VirnucproMLP):
        def forward(self, features):
            if self.training:
                batches.append(len(features))
            return super().forward(features)

    monkeypatch.setattr(training, "MLPClassifier", Recording)
    rng = np.random.default_rng(0)

    def labelled(frames):
        matrix = rng.normal(size=(frames, DNA + PROTEIN)).astype(np.float32)
        labels = (np.arange(frames) % 2).astype(np.int64)
        return LabelledFeatures([f"g{i}_chunk_1F1" for i in range(frames)], matrix, labels, None)

    settings = TrainingSettings(max_epochs=2, batch_size=4, hidden=8)
    validation = labelled(6)
    for frames, per_epoch in ((9, [4, 4]), (10, [4, 4, 2])):
        batches.clear()
        model, history, best_epoch = training.fit(labelled(frames), validation, settings)
        assert batches == per_epoch * 2, frames
        assert len(history) == 2 and 1 <= best_epoch <= 2
        assert all(np.isfinite(epoch.train_loss) for epoch in history)
        assert not model.training  # returned in eval mode


def test_a_diverging_training_stops_instead_of_saving_a_model(tmp_path):
    shards, lists = _dataset(tmp_path)
    with pytest.raises(InputError, match=r"training diverged: the loss is NaN or Inf at epoch 1"):
        _train(shards, lists, tmp_path / "model", max_epochs=2, learning_rate=1e30)
    assert not (tmp_path / "model").exists()


def test_an_ids_file_is_the_classifiers_only_if_classifier_json_names_it(tmp_path):
    shards, lists = _dataset(tmp_path)
    for name, seed in (("a", 1), ("b", 2)):
        _train(shards, lists, tmp_path / name, max_epochs=1, seed=seed)
    # another classifier's ids file beside classifier.json: refused, not trusted
    b_ids = (tmp_path / "b" / "training_ids.safetensors").read_bytes()
    (tmp_path / "a" / "training_ids.safetensors").write_bytes(b_ids + b" ")
    with pytest.raises(InputError, match=r"training_ids.safetensors is not the classifier's"):
        check_unseen(tmp_path / "a", ["new"], "test.tsv")
    # re-saving without training ids (a converted legacy model) removes the old file
    loaded = load_classifier(tmp_path / "b")
    loaded.save(tmp_path / "b")
    assert not (tmp_path / "b" / "training_ids.safetensors").exists()
    assert "training_ids_sha256" not in json.loads((tmp_path / "b" / "classifier.json").read_text())
    assert check_unseen(tmp_path / "b", ["g0_chunk_1F1"], "test.tsv") is False


@pytest.mark.parametrize(
    ("key", "value"), [("models", []), ("models", {"dna": {}}), ("training", None)]
)
def test_a_malformed_provenance_record_is_refused_in_one_line(tmp_path, key, value):
    folder = tmp_path / "model"
    shutil.copytree(ROOT / "assets" / "models" / "composition_classifier", folder)
    config = json.loads((folder / "classifier.json").read_text())
    config[key] = value
    (folder / "classifier.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=rf"classifier.json: invalid {key}"):
        load_classifier(folder)
