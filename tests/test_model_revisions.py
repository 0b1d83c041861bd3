"""A model revision a user can choose: the pin by default, a commit, branch or tag on demand,
resolved offline to the commit that features, the cache report and logs record."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, run_script, write_fasta
from test_model_cache import COMMIT, fake_cache

from virnucpro.embed.embed_files import extract_features, model_source
from virnucpro.embed.embedders.registry import get_embedder, is_pinned, with_revision
from virnucpro.embed.model_cache import bundled_models_dir, check_cache, model_directory
from virnucpro.errors import InputError
from virnucpro.files.feature_files import read_metadata
from virnucpro.predict import predict_fasta

OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def test_the_pin_is_the_default_even_when_main_has_moved(tmp_path):
    spec = get_embedder("esm2_650m")
    assert with_revision(spec, None) is spec and with_revision(spec, spec.revision) is spec
    assert is_pinned(spec)
    pinned = fake_cache(tmp_path, spec.model_id, spec.revision)
    fake_cache(tmp_path, spec.model_id, OTHER, ["main"])
    assert model_directory(spec, tmp_path) == pinned


def test_an_explicit_commit_loads_that_snapshot(tmp_path):
    spec = get_embedder("esm2_650m")
    fake_cache(tmp_path, spec.model_id, spec.revision, ["main"])
    other = fake_cache(tmp_path, spec.model_id, OTHER)
    chosen = with_revision(spec, OTHER)
    assert not is_pinned(chosen) and chosen.revision == OTHER
    assert model_directory(chosen, tmp_path) == other


@pytest.mark.parametrize("revision", ["main", "v2.0", "refs/pr/3"])  # a branch, a tag, a PR
def test_a_branch_or_tag_is_recorded_as_the_commit_it_resolves_to(tmp_path, caplog, revision):
    spec = with_revision(get_embedder("esm2_650m"), revision)
    fake_cache(tmp_path, spec.model_id, COMMIT, ["other"])
    snapshot = fake_cache(tmp_path, spec.model_id, OTHER, [revision], model="tiny_esm2")
    caplog.set_level("INFO")
    source = model_source(spec, hf_home=tmp_path)
    assert (source.folder, source.revision) == (snapshot, OTHER)
    assert f"esm2_650m: {spec.model_id} revision {revision} is commit {OTHER}" in caplog.text
    [cached] = check_cache([spec], tmp_path)
    assert (cached.revision, cached.commit, cached.folder) == (revision, OTHER, snapshot)


def test_features_record_the_commit_a_branch_resolved_to(tmp_path):
    spec = with_revision(get_embedder("esm2_650m"), "main")
    fake_cache(tmp_path, spec.model_id, OTHER, ["main"], model="tiny_esm2")
    frames = write_fasta(tmp_path / "frames.faa", [("s1_F1", "MKVLAAGW"), ("s2_F1", "MKV")])
    output = tmp_path / "protein.safetensors"
    extract_features([(frames, output)], spec, "fp32", "cpu", 300, 10_000, hf_home=tmp_path)
    metadata = read_metadata(output)
    assert (metadata["model_id"], metadata["revision"]) == (spec.model_id, OTHER)


def test_a_missing_revision_names_it_what_the_cache_holds_and_the_fill_command(tmp_path):
    spec = with_revision(get_embedder("esm2_650m"), "v2")
    fake_cache(tmp_path, spec.model_id, COMMIT, ["main", "v1"])
    fake_cache(tmp_path, spec.model_id, OTHER)
    with pytest.raises(InputError) as error:
        model_directory(spec, tmp_path)
    message = str(error.value)
    assert f"model {spec.model_id} revision v2 (embedder 'esm2_650m') is not in" in message
    assert f"the cache holds revision(s) {COMMIT} (main, v1), {OTHER};" in message
    assert message.endswith(
        f"virnucpro model-cache --embedder esm2_650m --revision esm2_650m=v2 --hf-home {tmp_path}"
    )
    with pytest.raises(InputError) as error:
        check_cache([spec], tmp_path)
    assert f"--embedder esm2_650m --revision esm2_650m=v2 --hf-home {tmp_path}" in str(error.value)
    assert f"esm2_650m ({spec.model_id} revision v2; the cache holds" in str(error.value)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("aa_composition", "is model-free"), ("tiny_esm2", "is a test model bundled")],
)
def test_a_revision_for_an_embedder_without_a_hub_model_is_refused(name, kind):
    spec = get_embedder(name)
    assert with_revision(spec, None) is spec
    with pytest.raises(
        InputError, match=f"revision 'main' given for embedder '{name}', which {kind}"
    ):
        with_revision(spec, "main")


@pytest.mark.parametrize("revision", ["", "../../etc", "v1/../../../etc", "main branch", "-x"])
def test_a_revision_that_is_no_branch_tag_or_commit_is_refused(revision):
    with pytest.raises(InputError, match="is not a Hugging Face branch, tag or commit"):
        with_revision(get_embedder("dnabert_s"), revision)


def test_a_revision_beside_a_model_folder_is_refused():
    folder = bundled_models_dir() / "tiny_esm2"
    assert model_source(get_embedder("esm2_650m"), folder).revision == "local"
    with pytest.raises(InputError, match=r"--model-dir .* loads that folder as it is"):
        model_source(with_revision(get_embedder("esm2_650m"), "main"), folder)


@pytest.mark.parametrize(
    ("option", "embedder"), [("dna", "dna_composition"), ("protein", "aa_composition")]
)
def test_predict_gives_each_revision_to_its_own_model(tmp_path, option, embedder):
    fasta = write_fasta(tmp_path / "in.fasta", [("a", "ACGT" * 100)])
    classifier = ROOT / "assets" / "models" / "composition_classifier"  # composition models
    with pytest.raises(InputError, match=f"given for embedder '{embedder}', which is model-free"):
        predict_fasta(fasta, classifier, tmp_path / "out", **{f"{option}_revision": "main"})
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--revision", "esm2_650m"], "--revision 'esm2_650m' is not EMBEDDER=REVISION"),
        (["--revision", "esm2_3b=main"], "names embedder 'esm2_3b', which no --embedder gives"),
        (["--revision", "esm2_650m=a", "--revision", "esm2_650m=b"], "given twice for embedder"),
        (["--revision", "aa_composition=main"], "embedder 'aa_composition', which is model-free"),
    ],
)
def test_model_cache_refuses_a_revision_it_cannot_apply(tmp_path, options, words):
    result = run_script(
        "model_cache.py", "--embedder", "esm2_650m", "--embedder", "aa_composition", *options,
        "--hf-home", tmp_path, "--offline",
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1 and words in errors[0], result.stderr


@pytest.mark.slow
def test_the_cache_report_and_the_features_record_the_commit_of_the_branch_asked(tmp_path):
    esm = get_embedder("esm2_650m")
    fake_cache(tmp_path, esm.model_id, OTHER, ["main"], model="tiny_esm2")
    report = tmp_path / "model_cache.tsv"
    result = run_script(
        "model_cache.py", "--embedder", "esm2_650m", "--revision", "esm2_650m=main",
        "--hf-home", tmp_path, "--offline", "--report", report,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert report.read_text().splitlines()[1].split("\t")[:5] == [
        "esm2_650m",
        "cache",
        esm.model_id,
        "main",
        OTHER,
    ]
    frames = write_fasta(tmp_path / "frames.faa", [("s1_F1", "MKVLAAGW")])
    output = tmp_path / "protein.safetensors"
    result = run_script(
        "embed_protein.py", "--embedder", "esm2_650m", "--revision", "main", "--input", frames,
        "--output", output, "--chunk-size", 300, "--device", "cpu", "--hf-home", tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert read_metadata(output)["revision"] == OTHER
    assert f"esm2_650m: {esm.model_id} revision main is commit {OTHER}" in result.stderr
    result = run_script(
        "embed_protein.py", "--embedder", "esm2_650m", "--input", frames, "--output",
        tmp_path / "pinned.safetensors", "--chunk-size", 300, "--hf-home", tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"revision {esm.revision} (embedder 'esm2_650m') is not in" in result.stderr
    assert f"the cache holds revision(s) {OTHER} (main);" in result.stderr


@pytest.mark.slow
def test_benchmark_and_verify_embedder_take_a_revision(tmp_path):
    esm = get_embedder("esm2_650m")
    fake_cache(tmp_path, esm.model_id, OTHER, ["v2"], model="tiny_esm2")
    frames = write_fasta(tmp_path / "frames.faa", [("s1_F1", "MKVLAAGW"), ("s2_F1", "MKV")])
    figures = tmp_path / "benchmark.json"
    result = run_script(
        "benchmark_embedder.py", "--embedder", "esm2_650m", "--revision", "v2", "--input", frames,
        "--output", figures, "--device", "cpu", "--warmup", 0, "--repeats", 1,
        "--hf-home", tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(figures.read_text())["revision"] == OTHER
    result = run_script(
        "virnucpro", "verify-embedder", "esm2_650m", "--revision", "v2", "--model-dir",
        bundled_models_dir() / "tiny_esm2", "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 1
    assert "revision v2 of embedder 'esm2_650m' is looked up in the model cache" in result.stderr
