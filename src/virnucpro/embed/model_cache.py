"""Where model weights live: a Hugging Face cache filled once, read offline by every task.

Pipeline tasks never download: a dedicated step (``virnucpro model-cache``) fills
``HF_HOME`` on a machine with internet; every other step looks models up with
``local_files_only`` and, when one is missing, says which command fills the cache.

A model is looked up at a revision: the registry's pin, or a branch, tag or commit
asked for (``registry.with_revision``). The cache resolves a branch or tag to a commit
offline (its ``refs/<name>`` file) and keeps each commit in a snapshot folder named
after it; that commit is what features, reports and logs record.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from huggingface_hub.file_download import repo_folder_name

from virnucpro.embed.embedders.registry import EmbedderSpec, is_pinned
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import MODEL_CACHE

log = logging.getLogger(__name__)

# Formats we never load; safetensors is preferred over pickled .bin when both exist.
_FOREIGN_WEIGHTS = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "tf_model*", "flax_model*", "*.ckpt"]
# A Hugging Face snapshot folder is named after the commit it holds.
_COMMIT = re.compile(r"[0-9a-f]{40}")


def resolve_hf_home(hf_home: Path | None = None) -> Path:
    """The cache root: the option, else $HF_HOME, else ~/.cache/huggingface."""
    if hf_home is not None:
        return hf_home
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))


def bundled_models_dir() -> Path:
    """Folder of the tiny test models: $VIRNUCPRO_MODELS, else assets/models of this checkout."""
    override = os.environ.get("VIRNUCPRO_MODELS")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "assets" / "models"


def asked_revision(spec: EmbedderSpec) -> str:
    """The revision ``spec`` is looked up at (the hub's default branch when it names none)."""
    return spec.revision or "main"


def _cache_options(spec: EmbedderSpec) -> str:
    """``model-cache`` options that fill ``spec``'s model at its revision."""
    chosen = "" if is_pinned(spec) else f" --revision {spec.name}={spec.revision}"
    return f"--embedder {spec.name}{chosen}"


def cache_command(spec: EmbedderSpec, hf_home: Path) -> str:
    return f"virnucpro model-cache {_cache_options(spec)} --hf-home {hf_home}"


def snapshot_commit(folder: Path) -> str:
    """The commit a cache snapshot folder holds: its name."""
    if not _COMMIT.fullmatch(folder.name):
        raise InputError(f"{folder}: a model cache snapshot folder is named after its commit")
    return folder.name


def cached_revisions(spec: EmbedderSpec, hf_home: Path) -> list[str]:
    """Every commit of ``spec``'s model in the cache, with the branches and tags (its
    ``refs/``) that name it, e.g. ``00e47f96… (main)``."""
    repo = hf_home / "hub" / repo_folder_name(repo_id=str(spec.model_id), repo_type="model")
    refs = repo / "refs"
    names: dict[str, list[str]] = defaultdict(list)
    for ref in sorted(refs.rglob("*")) if refs.is_dir() else []:
        if ref.is_file():
            names[ref.read_text(errors="replace").strip()].append(ref.relative_to(refs).as_posix())
    snapshots = repo / "snapshots"
    commits = (
        sorted(path.name for path in snapshots.iterdir() if path.is_dir())
        if snapshots.is_dir()
        else []
    )
    return [
        f"{commit} ({', '.join(names[commit])})" if names[commit] else commit for commit in commits
    ]


def _held_instead(spec: EmbedderSpec, hf_home: Path) -> str:
    """What the cache holds of ``spec``'s model, said after a revision it lacks."""
    held = cached_revisions(spec, hf_home)
    return f"; the cache holds revision(s) {', '.join(held)}" if held else ""


def revisions_by_embedder(options: Iterable[str], embedders: Iterable[str]) -> dict[str, str]:
    """``model-cache --revision EMBEDDER=REVISION`` options, by embedder: each names one of
    ``embedders`` (its --embedder options), at most once."""
    given = list(embedders)
    chosen: dict[str, str] = {}
    for option in options:
        name, equals, revision = option.partition("=")
        if not equals:
            raise InputError(
                f"--revision '{option}' is not EMBEDDER=REVISION (e.g. dnabert_s=main)"
            )
        if name not in given:
            raise InputError(
                f"--revision '{option}' names embedder '{name}', which no --embedder gives "
                f"({', '.join(given)})"
            )
        if name in chosen:
            raise InputError(f"--revision is given twice for embedder '{name}'")
        chosen[name] = revision
    return chosen


def check_model_dir(spec: EmbedderSpec, model_dir: Path | None) -> None:
    """Refuse a revision asked beside ``--model-dir``: that folder is loaded as it is, and
    only the cache holds revisions."""
    if model_dir is not None and not is_pinned(spec):
        raise InputError(
            f"revision {spec.revision} of embedder '{spec.name}' is looked up in the model "
            f"cache, but --model-dir {model_dir} loads that folder as it is: give one of them"
        )


def model_directory(spec: EmbedderSpec, hf_home: Path | None = None) -> Path:
    """The local folder holding ``spec``'s weights, without touching the network: its
    snapshot folder, named after the commit the revision resolves to."""
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
        folder = Path(
            snapshot_download(
                spec.model_id,
                revision=spec.revision,
                cache_dir=home / "hub",
                local_files_only=True,
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError):
        raise InputError(
            f"model {spec.model_id} revision {asked_revision(spec)} (embedder '{spec.name}') is "
            f"not in the model cache {home}{_held_instead(spec, home)}; fill it once, on a "
            f"machine with internet: {cache_command(spec, home)}"
        ) from None
    log.info(
        "%s: %s revision %s is commit %s",
        spec.name, spec.model_id, asked_revision(spec), snapshot_commit(folder),
    )  # fmt: skip
    return folder


def in_cache(spec: EmbedderSpec) -> bool:
    """Whether ``spec``'s weights live in the cache: not a model-free baseline's, nor a
    bundled test model's (read from its folder)."""
    return spec.needs_weights and spec.model_id is not None


def cached_specs(specs: Iterable[EmbedderSpec]) -> list[EmbedderSpec]:
    """The embedders whose weights live in the cache."""
    kept = []
    for spec in specs:
        if in_cache(spec):
            kept.append(spec)
        else:
            log.info("%s: no weights in the model cache", spec.name)
    return kept


def fill_cache(specs: Iterable[EmbedderSpec], hf_home: Path | None = None) -> list[Path]:
    """Download each model at its revision into the cache (skipping what is there)."""
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
        log.info(
            "%s: %s revision %s (commit %s) in %s",
            spec.name, spec.model_id, asked_revision(spec), snapshot_commit(Path(folder)), folder,
        )  # fmt: skip
        folders.append(Path(folder))
    return folders


@dataclass(frozen=True)
class CachedModel:
    """One model a run uses: where it comes from ("cache"; "model-free" for a baseline
    without weights; "bundled" for a test model of assets/models) and, from the cache,
    what it will load (the revision asked and the commit it resolved to) and how much
    disk it takes."""

    embedder: str
    source: str
    model_id: str
    revision: str
    commit: str
    folder: Path | None  # None: not in the cache
    size_bytes: int


def check_cache(specs: Iterable[EmbedderSpec], hf_home: Path | None = None) -> list[CachedModel]:
    """Find every model offline; one error lists all that are missing, with the fill command."""
    home = resolve_hf_home(hf_home)
    found, missing = [], []
    for spec in specs:
        if not in_cache(spec):
            found.append(_not_cached(spec))
            continue
        try:
            folder = model_directory(spec, home)
        except InputError:
            missing.append(spec)
            continue
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        commit = snapshot_commit(folder)
        found.append(
            CachedModel(
                spec.name, "cache", str(spec.model_id), asked_revision(spec), commit, folder, size
            )
        )
        log.info("%s: %.1f GB in %s", spec.name, size / 1e9, folder)
    if missing:
        options = " ".join(_cache_options(spec) for spec in missing)
        listed = ", ".join(
            f"{spec.name} ({spec.model_id} revision {asked_revision(spec)}"
            f"{_held_instead(spec, home)})"
            for spec in missing
        )
        raise InputError(
            f"{len(missing)} model(s) missing from the model cache {home}: {listed}; fill it "
            f"once, on a machine with internet: virnucpro model-cache {options} --hf-home "
            f"{home} (or: nextflow run main.nf --mode cache --hf_home {home} ...)"
        )
    return found


def _not_cached(spec: EmbedderSpec) -> CachedModel:
    """The row of a model the cache does not hold: a baseline without weights, or a
    bundled test model (its folder is the run's --models_dir or assets/models)."""
    if spec.bundled is None:
        return CachedModel(spec.name, "model-free", "", "", "", None, 0)
    return CachedModel(spec.name, "bundled", f"assets/models/{spec.bundled}", "", "", None, 0)


def write_cache_report(models: Iterable[CachedModel], path: Path) -> None:
    """TSV of the models a run uses (embedder, source, repository, revision asked, the
    commit it resolved to, folder, size); a model without one has an empty folder."""
    with AtomicOutputs() as outputs:
        writer = csv.writer(outputs.open(path), delimiter="\t", lineterminator="\n")
        writer.writerow(MODEL_CACHE.columns)
        for model in models:
            row = [getattr(model, column) for column in MODEL_CACHE.columns]
            writer.writerow(["" if value is None else value for value in row])
