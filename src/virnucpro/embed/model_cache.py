"""Where model weights live: a Hugging Face cache filled once, read offline by every task.

Pipeline tasks never download: a dedicated step (``virnucpro model-cache``) fills
``HF_HOME`` on a machine with internet; every other step looks models up with
``local_files_only`` and, when one is missing, says which command fills the cache.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError

from virnucpro.embed.embedders.registry import EmbedderSpec
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import MODEL_CACHE

log = logging.getLogger(__name__)

# Formats we never load; safetensors is preferred over pickled .bin when both exist.
_FOREIGN_WEIGHTS = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "tf_model*", "flax_model*", "*.ckpt"]


def resolve_hf_home(hf_home: Path | None = None) -> Path:
    """The cache root: the option, else $HF_HOME, else ~/.cache/huggingface."""
    if hf_home is not None:
        return hf_home
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))


def bundled_models_dir() -> Path:
    """Folder of the tiny test models: $VIRNUCPRO_MODELS, else assets/models of this checkout."""
    override = os.environ.get("VIRNUCPRO_MODELS")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "assets" / "models"


def cache_command(spec: EmbedderSpec, hf_home: Path) -> str:
    return f"virnucpro model-cache --embedder {spec.name} --hf-home {hf_home}"


def model_directory(spec: EmbedderSpec, hf_home: Path | None = None) -> Path:
    """The local folder holding ``spec``'s weights, without touching the network."""
    if spec.bundled is not None:
        folder = bundled_models_dir() / spec.bundled
        if not (folder / "config.json").is_file():
            raise InputError(
                f"test model '{spec.name}' not found in {folder.parent}; "
                "regenerate it with: make_tiny_models.py --output-dir assets/models"
            )
        return folder
    home = resolve_hf_home(hf_home)
    try:
        return Path(
            snapshot_download(
                spec.model_id,
                revision=spec.revision,
                cache_dir=home / "hub",
                local_files_only=True,
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError):
        raise InputError(
            f"model {spec.model_id} (revision {spec.revision or 'main'}) of embedder "
            f"'{spec.name}' is not in the model cache {home}; fill it once, on a machine "
            f"with internet: {cache_command(spec, home)}"
        ) from None


def cached_specs(specs: Iterable[EmbedderSpec]) -> list[EmbedderSpec]:
    """The embedders whose weights live in the cache: not the model-free baselines,
    nor the bundled test models (read from their folder)."""
    kept = []
    for spec in specs:
        if spec.needs_weights and spec.model_id is not None:
            kept.append(spec)
        else:
            log.info("%s: no weights in the model cache", spec.name)
    return kept


def fill_cache(specs: Iterable[EmbedderSpec], hf_home: Path | None = None) -> list[Path]:
    """Download the pinned revision of each model into the cache (skipping what is there)."""
    home = resolve_hf_home(hf_home)
    folders = []
    # The hub client logs every retry of a failing request; the failure itself is one error.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    for spec in cached_specs(specs):
        try:
            files = HfApi().list_repo_files(spec.model_id, revision=spec.revision)
            has_safetensors = any(name.endswith(".safetensors") for name in files)
            ignore = _FOREIGN_WEIGHTS + (["*.bin", "*.pt"] if has_safetensors else [])
            folder = snapshot_download(
                spec.model_id,
                revision=spec.revision,
                cache_dir=home / "hub",
                ignore_patterns=ignore,
            )
        except Exception as error:  # the hub client raises its HTTP library's own errors
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            raise InputError(
                f"cannot download {spec.model_id} for '{spec.name}' into {home} "
                f"({type(error).__name__}: {first_line}): is the Hugging Face hub reachable?"
            ) from None
        log.info("%s: %s@%s in %s", spec.name, spec.model_id, spec.revision or "main", folder)
        folders.append(Path(folder))
    return folders


@dataclass(frozen=True)
class CachedModel:
    """One model found in the cache: what a run will load, and how much disk it takes."""

    embedder: str
    model_id: str
    revision: str
    folder: Path
    size_bytes: int


def check_cache(specs: Iterable[EmbedderSpec], hf_home: Path | None = None) -> list[CachedModel]:
    """Find every model offline; one error lists all that are missing, with the fill command."""
    home = resolve_hf_home(hf_home)
    found, missing = [], []
    for spec in cached_specs(specs):
        try:
            folder = model_directory(spec, home)
        except InputError:
            missing.append(spec)
            continue
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        found.append(CachedModel(spec.name, str(spec.model_id), folder.name, folder, size))
        log.info("%s: %s@%s, %.1f GB", spec.name, spec.model_id, folder.name, size / 1e9)
    if missing:
        names = " ".join(f"--embedder {spec.name}" for spec in missing)
        listed = ", ".join(f"{spec.name} ({spec.model_id})" for spec in missing)
        raise InputError(
            f"{len(missing)} model(s) missing from the model cache {home}: {listed}; fill it "
            f"once, on a machine with internet: virnucpro model-cache {names} --hf-home {home} "
            f"(or: nextflow run main.nf --mode cache --hf_home {home} ...)"
        )
    return found


def write_cache_report(models: Iterable[CachedModel], path: Path) -> None:
    """TSV of the models a run uses (embedder, repository, commit, folder, size)."""
    with AtomicOutputs() as outputs:
        writer = csv.writer(outputs.open(path), delimiter="\t", lineterminator="\n")
        writer.writerow(MODEL_CACHE.columns)
        for model in models:
            writer.writerow(
                [model.embedder, model.model_id, model.revision, model.folder, model.size_bytes]
            )
