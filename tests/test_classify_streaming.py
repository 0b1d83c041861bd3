"""classify.py reads a sample's feature files one at a time: memory holds one shard's
matrix, never the sample's, and the checks of every file come before any matrix. A
shard's DNA and protein files are joined as they are read, as a merged file would be."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from virnucpro.classify.classifier import Classifier, load_classifier
from virnucpro.classify.prediction_tables import classify_features
from virnucpro.embed import merge
from virnucpro.embed.embed_files import extract_features
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.embed.merge import feature_sources, merge_features
from virnucpro.errors import InputError
from virnucpro.files import feature_files
from virnucpro.preprocess.chunking import chunk_sequences
from virnucpro.preprocess.frames import select_frames
from virnucpro.preprocess.shards import shard_frames

DEMO = ROOT / "assets" / "models" / "composition_classifier"
MIXED = ROOT / "assets" / "test" / "mixed_example.fasta"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """mixed_example cut at 300 bp, in shards of 100 frames, with the demo's features."""
    folder = tmp_path_factory.mktemp("sample")
    chunk_sequences(MIXED, folder / "chunks.fasta", 300)
    nucleotide, protein, report = (folder / n for n in ("nt.fasta", "aa.fasta", "frames.tsv"))
    select_frames(folder / "chunks.fasta", nucleotide, protein, report)
    shard_frames([nucleotide], [protein], folder / "shards", 100, "mixed")
    merged = []
    for shard in sorted((folder / "shards").glob("*.nucleotide.fasta")):
        name = shard.name.removesuffix(".nucleotide.fasta")
        dna, aa = folder / f"{name}.dna.safetensors", folder / f"{name}.aa.safetensors"
        extract_features([(shard, dna)], get_embedder("dna_composition"), "fp32", "cpu", 300, 4096)
        extract_features(
            [(folder / "shards" / f"{name}.protein.fasta", aa)],
            get_embedder("aa_composition"), "fp32", "cpu", 300, 4096,
        )  # fmt: skip
        merge_features(dna, aa, folder / f"{name}.merged.safetensors")
        merged.append(folder / f"{name}.merged.safetensors")
    return merged, report


def _pairs(merged):
    """Each shard's DNA and protein feature files, beside its merged file."""
    return [
        path.with_name(path.name.replace(".merged.", f".{kind}."))
        for path in merged
        for kind in ("dna", "aa")
    ]


def test_each_shard_is_scored_alone_with_the_scores_of_all_at_once(sample, tmp_path, monkeypatch):
    merged, report = sample
    assert len(merged) >= 3
    files = [feature_files.read_features(path) for path in merged]
    whole = load_classifier(DEMO).scores(np.concatenate([f.matrix for f in files]))
    scored = []
    score = Classifier.scores
    monkeypatch.setattr(
        Classifier, "scores", lambda self, matrix: scored.append(len(matrix)) or score(self, matrix)
    )
    classify_features(DEMO, merged, [report], tmp_path, "s", MIXED)
    # one call per shard, each with that shard's rows only
    assert scored == [len(f.ids) for f in files]
    lines = (tmp_path / "s.frame_scores.tsv").read_text().splitlines()[1:]
    written = {line.split("\t")[0]: float(line.split("\t")[3]) for line in lines}
    ids = [frame_id for f in files for frame_id in f.ids]
    assert len(written) == len(ids)
    assert [written[frame_id] for frame_id in ids] == pytest.approx(whole[:, 1], abs=1e-6)


def test_features_of_other_models_are_refused_before_any_matrix_is_read(
    sample, tmp_path, monkeypatch
):
    merged, report = sample
    other = tmp_path / "other.merged.safetensors"
    features = feature_files.read_features(merged[1])
    features.metadata["protein_embedder"] = "tiny_esm2"
    feature_files.write_features(other, features)
    read = []
    real = merge.read_features
    monkeypatch.setattr(merge, "read_features", lambda path: read.append(path) or real(path))
    with pytest.raises(InputError, match="protein embedder tiny_esm2"):
        classify_features(DEMO, [merged[0], other], [report], tmp_path / "out", "s")
    assert read == [] and not (tmp_path / "out").exists()


def test_dna_and_protein_files_classify_as_their_merged_files(sample, tmp_path):
    merged, report = sample
    classify_features(DEMO, merged, [report], tmp_path / "merged", "s", MIXED)
    pairs = _pairs(merged)
    # protein files first, shards in another order: paired by their frames all the same
    given = pairs[1::2][::-1] + pairs[::2]
    classify_features(DEMO, given, [report], tmp_path / "view", "s", MIXED)
    for name in ("frame_scores.tsv", "chunk_calls.tsv", "sequence_calls.tsv", "viral.fasta"):
        assert (tmp_path / "view" / f"s.{name}").read_bytes() == (
            tmp_path / "merged" / f"s.{name}"
        ).read_bytes()


def test_a_view_reads_as_its_merged_file(sample):
    merged, _ = sample
    view = feature_sources(_pairs(merged)[:2])[0].read()
    written = feature_files.read_features(merged[0])
    assert view.ids == written.ids
    assert np.array_equal(view.matrix, written.matrix)
    assert view.metadata == written.metadata


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda p: p[:1], "dna.safetensors: DNA features without the protein features of the same frames"),
        (lambda p: p[1:2], "aa.safetensors: protein features without the DNA features of the same frames"),
        (lambda p: [*p[:2], p[1]], "hold protein features of the same frames: a shard given twice"),
        (lambda p: [p[0], p[3]], "without the protein features of the same frames"),
    ],
)  # fmt: skip
def test_a_shard_without_its_partner_is_refused(sample, pick, message):
    merged, _ = sample
    with pytest.raises(InputError, match=message):
        feature_sources(pick(_pairs(merged)))
