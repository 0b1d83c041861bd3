"""Model look-up works offline from a filled cache and names the fill command when empty."""

from __future__ import annotations

import pytest

from virnucpro.embedders.registry import EMBEDDERS, get_embedder
from virnucpro.errors import InputError
from virnucpro.model_cache import model_directory

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fake_cache(hf_home, model_id, revision):
    """The Hugging Face cache layout: refs name a commit, snapshots hold its files."""
    repo = hf_home / "hub" / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    if revision != COMMIT:
        (repo / "refs").mkdir()
        (repo / "refs" / revision).write_text(COMMIT)
    return snapshot


@pytest.mark.parametrize("name", ["esm2_3b", "fastesm2_650", "dnabert_s"])
def test_cached_model_is_found_offline(tmp_path, monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = get_embedder(name)
    snapshot = _fake_cache(tmp_path, spec.model_id, spec.revision or "main")
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
    snapshot = _fake_cache(tmp_path, spec.model_id, spec.revision or "main")
    assert model_directory(spec) == snapshot


def test_every_downloadable_embedder_is_pinned_to_a_commit():
    for spec in EMBEDDERS.values():
        if spec.model_id is not None:
            assert spec.revision is not None and len(spec.revision) == 40, spec.name
