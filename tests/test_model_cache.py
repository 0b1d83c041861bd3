"""Model look-up works offline from a filled cache and names the fill command when empty."""

from __future__ import annotations

import shutil
import socket

import pytest
from conftest import run_script
from huggingface_hub import constants

from virnucpro.embed.embedders.registry import EMBEDDERS, get_embedder, with_revision
from virnucpro.embed.model_cache import bundled_models_dir, check_cache, model_directory
from virnucpro.errors import InputError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_cache(hf_home, model_id, commit, refs=(), model=None):
    """The Hugging Face cache layout: snapshots/<commit> holds the files (a bundled test
    model's, or an empty config.json), refs/<branch or tag> names the commit."""
    repo = hf_home / "hub" / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    if model is None:
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text("{}")
    else:
        shutil.copytree(bundled_models_dir() / model, snapshot)
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.mark.parametrize("name", ["esm2_3b", "fastesm2_650", "dnabert_s"])
def test_cached_model_is_found_offline(tmp_path, monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = get_embedder(name)
    snapshot = fake_cache(tmp_path, spec.model_id, spec.revision)
    assert model_directory(spec, tmp_path) == snapshot


def test_missing_model_names_the_cache_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = get_embedder("esm2_3b")
    message = f"virnucpro model-cache --embedder esm2_3b --hf-home {tmp_path}"
    with pytest.raises(InputError, match="is not in the model cache") as error:
        model_directory(spec, tmp_path)
    assert message in str(error.value)


def test_hf_home_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    spec = get_embedder("esm2_650m")
    snapshot = fake_cache(tmp_path, spec.model_id, spec.revision)
    assert model_directory(spec) == snapshot


def test_every_downloadable_embedder_is_pinned_to_a_commit():
    downloadable = [spec for spec in EMBEDDERS.values() if spec.model_id is not None]
    assert {spec.name for spec in downloadable} >= {"dnabert_s", "esm2_3b"}
    for spec in downloadable:
        revision = spec.revision
        assert revision is not None and len(revision) == 40 and int(revision, 16) >= 0, spec.name


def test_offline_check_reports_every_model_and_where_it_comes_from(tmp_path):
    esm = get_embedder("esm2_650m")
    snapshot = fake_cache(tmp_path, esm.model_id, esm.revision)
    (snapshot / "model.safetensors").write_bytes(b"x" * 1000)
    report = tmp_path / "model_cache.tsv"
    result = run_script(
        "model_cache.py",
        *("--embedder", "esm2_650m", "--embedder", "aa_composition"),
        *("--embedder", "tiny_esm2", "--hf-home", tmp_path, "--offline", "--report", report),
    )
    assert result.returncode == 0, result.stderr
    rows = report.read_text().splitlines()
    # Weightless and bundled models are listed too (the list of the models a run uses),
    # in the order asked
    assert rows == [
        "embedder\tsource\tmodel_id\trevision\tcommit\tfolder\tsize_bytes",
        f"esm2_650m\tcache\t{esm.model_id}\t{esm.revision}\t{esm.revision}\t{snapshot}\t1002",
        "aa_composition\tmodel-free\t\t\t\t\t0",
        "tiny_esm2\tbundled\tassets/models/tiny_esm2\t\t\t\t0",
    ]


def test_offline_check_lists_every_missing_model_in_one_error(tmp_path):
    report = tmp_path / "model_cache.tsv"
    result = run_script(
        "model_cache.py",
        *("--embedder", "esm2_3b", "--embedder", "fastesm2_650", "--embedder", "dna_composition"),
        *("--hf-home", tmp_path, "--offline", "--report", report),
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "2 model(s) missing from the model cache" in errors[0]
    esm = get_embedder("esm2_3b")
    assert f"esm2_3b (facebook/esm2_t36_3B_UR50D revision {esm.revision})" in errors[0]
    assert "--embedder esm2_3b --embedder fastesm2_650" in errors[0]
    assert not report.exists()


class NetworkAttempt(RuntimeError):
    """Raised by the socket functions while a test forbids the network."""


@pytest.fixture
def network_attempts(monkeypatch):
    """Every attempt to reach a host, recorded and refused. Offline mode is off, so only the
    package's own ``local_files_only`` keeps the hub client from trying the network (should
    the refusal be caught on the way, the recorded attempt still fails the test)."""
    attempts = []

    def refuse(name):
        def call(*args, **kwargs):
            attempts.append(f"{name}{args[:2]}")
            # Not an OSError: the HTTP stack would retry that, then fall back to the cache.
            raise NetworkAttempt(attempts[-1])

        return call

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return attempts


@pytest.mark.parametrize(
    ("name", "revision", "option"),
    [("esm2_3b", None, ""), ("dnabert_s", "main", " --revision dnabert_s=main")],
)  # the pinned commit, and a branch
def test_model_lookups_never_touch_the_network(tmp_path, network_attempts, name, revision, option):
    spec = with_revision(get_embedder(name), revision)
    empty = tmp_path / "empty"
    with pytest.raises(InputError, match="is not in the model cache") as error:
        model_directory(spec, empty)
    assert f"virnucpro model-cache --embedder {name}{option} --hf-home {empty}" in str(error.value)
    with pytest.raises(InputError, match=r"1 model\(s\) missing from the model cache"):
        check_cache([spec], empty)
    filled = tmp_path / "filled"
    snapshot = fake_cache(filled, spec.model_id, COMMIT if revision else spec.revision, ["main"])
    assert model_directory(spec, filled) == snapshot
    assert [model.folder for model in check_cache([spec], filled)] == [snapshot]
    tiny = get_embedder("tiny_esm2")  # bundled: read from its folder, never from the hub
    assert (model_directory(tiny, empty) / "config.json").is_file()
    assert network_attempts == []
