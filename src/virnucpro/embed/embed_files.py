"""The embed steps, file to file: FASTA files of frames in, one feature file each out.

Finished outputs are recognised from their provenance (same embedder, model,
weights, precision, chunk size and frames, letter for letter) and skipped, so a
resumed run redoes nothing it need not; a feature file of another embedder is
never overwritten, so a run with a new model cannot clobber the baseline's
features. Frames longer than the chunk size allows are refused: they were cut
at another size than the one the features would be labelled with.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from virnucpro import __version__
from virnucpro.embed.checkpoints import weight_files
from virnucpro.embed.embedders.base import Encoder
from virnucpro.embed.embedders.composition import amino_acid_composition, nucleotide_composition
from virnucpro.embed.embedders.loader import check_model_folder, load_encoder
from virnucpro.embed.embedders.registry import Architecture, EmbedderSpec, Modality
from virnucpro.embed.model_cache import check_model_dir, model_directory, snapshot_commit
from virnucpro.embed.sequence_embedding import (
    EmbedStats,
    check_attention,
    check_token_budget,
    embed_sequences,
    resolve_device,
    tokenize_all,
    torch_dtype,
)
from virnucpro.errors import InputError
from virnucpro.files.digests import folder_digest, records_digest
from virnucpro.files.feature_files import Features, read_metadata, write_features
from virnucpro.files.sequence_files import read_dna, read_proteins
from virnucpro.preprocess.chunking import check_chunk_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Which model an embedder loads: its folder, name, revision (for a cached model the
    commit its revision resolved to) and a digest of its files."""

    folder: Path | None  # None for a model-free composition
    model_id: str
    revision: str
    weights_sha256: str

    @property
    def provenance(self) -> dict[str, str]:
        """What a feature file records of the model, and a resumed run compares."""
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "weights_sha256": self.weights_sha256,
        }


def model_source(
    spec: EmbedderSpec, model_dir: Path | None = None, hf_home: Path | None = None
) -> ModelSource:
    """Find ``spec``'s model folder (``model_dir`` if given) without loading it."""
    if spec.architecture is Architecture.composition:
        return ModelSource(None, "none", "none", "none")
    check_model_dir(spec, model_dir)
    folder = model_dir or model_directory(spec, hf_home)
    check_model_folder(spec, folder)  # before its files are read for the digest
    if model_dir is not None:
        model_id, revision = str(model_dir), "local"
    elif spec.model_id is not None:
        # The commit found, whether the revision was a commit, a branch or a tag.
        model_id, revision = spec.model_id, snapshot_commit(folder)
    else:
        model_id, revision = f"bundled:{spec.bundled}", "bundled"
    return ModelSource(folder, model_id, revision, folder_digest(folder, weight_files(folder)))


def _finished(output: Path, expected: dict[str, str]) -> bool:
    """True if ``output`` holds features made from the same frames with the same model
    and settings; a file of another model or frames is embedded again."""
    if not output.exists():
        return False
    try:
        found = read_metadata(output)
    except InputError:
        return False
    if found["embedder"] != expected["embedder"]:
        raise InputError(
            f"{output} holds features of embedder '{found['embedder']}': refusing to overwrite "
            f"them with '{expected['embedder']}' (write to another file)"
        )
    changed = [key for key, value in expected.items() if found.get(key) != value]
    if changed:
        log.info("%s was made with another %s: embedding again", output, ", ".join(changed))
    return not changed


def check_frame_lengths(
    path: str | os.PathLike[str],
    records: list[tuple[str, str]],
    modality: Modality,
    chunk_size: int,
) -> None:
    """Refuse frames longer than a chunk of ``chunk_size`` can give.

    A frame of a chunk has at most ``chunk_size`` bases and ``chunk_size // 3``
    residues; a longer one was cut at another chunk size than the one given.
    """
    longest = chunk_size if modality is Modality.dna else chunk_size // 3
    unit = "bases" if modality is Modality.dna else "residues"
    for record_id, sequence in records:
        if len(sequence) > longest:
            raise InputError(
                f"{path}: frame '{record_id}' has {len(sequence)} {unit}, more than a chunk of "
                f"--chunk-size {chunk_size} gives ({longest}): the chunks were cut at another "
                "size; give the chunk size they were made with"
            )


class SequenceEmbedder:
    """A registered embedder loaded once on a device, turning sequences into float32 rows.

    It stays loaded for as many calls as its owner makes: a caller that embeds both
    the DNA and the protein frames of each shard keeps two of them (see
    :func:`embed_shards`). ``attention`` is the SDPA backend every forward pass uses
    (``sequence_embedding.ATTENTION_BACKENDS``); a named one is tried at load on a
    padded probe batch, so a backend that cannot run this model fails at once.
    """

    def __init__(
        self,
        spec: EmbedderSpec,
        precision: str,
        device: str,
        token_budget: int,
        model_dir: Path | None = None,
        hf_home: Path | None = None,
        trust_remote_code: bool = False,
        source: ModelSource | None = None,
        attention: str = "auto",
    ) -> None:
        check_token_budget(token_budget)
        check_attention(attention)
        self.spec, self.precision, self.token_budget = spec, precision, token_budget
        self.trust_remote_code, self.attention = trust_remote_code, attention
        self.device = resolve_device(device)
        dtype = torch_dtype(precision)
        self.source = source or model_source(spec, model_dir, hf_home)
        self._featurizer = self._encoder = None
        self.load_seconds = 0.0
        if self.source.folder is None:
            protein = spec.modality is Modality.protein
            self._featurizer = amino_acid_composition() if protein else nucleotide_composition()
            return
        started = time.perf_counter()
        folder = self.source.folder
        self._encoder = load_encoder(spec, folder, self.device, dtype, trust_remote_code)
        self.load_seconds = time.perf_counter() - started
        log.info(
            "loaded %s from %s on %s (%s, attention %s) in %.1f s",
            spec.name,
            folder,
            self.device,
            precision,
            attention,
            self.load_seconds,
        )
        if attention != "auto":
            self._try_attention()

    def _try_attention(self) -> None:
        probe = _ATTENTION_PROBES[self.spec.modality]
        try:
            self.embed(list(probe))
        except RuntimeError as error:  # PyTorch: no kernel of that backend for these inputs
            raise InputError(
                f"attention backend '{self.attention}' cannot run {self.spec.name} on "
                f"{self.device} ({str(error).splitlines()[0][:160]}): choose another --attention"
            ) from None

    @property
    def encoder(self) -> Encoder | None:
        """The loaded language model (None for a model-free composition)."""
        return self._encoder

    @property
    def dimension(self) -> int:
        """Width of the vectors, from the model's config (or the composition's size)."""
        return (self._featurizer or self._encoder).dimension

    def tokens(self, sequences: list[str]) -> int:
        """Tokens the model reads for ``sequences`` (residues or bases for composition)."""
        if self._encoder is None:
            return sum(len(sequence) for sequence in sequences)
        upper = [sequence.upper() for sequence in sequences]
        return sum(len(tokens) for tokens in tokenize_all(self._encoder, upper))

    def embed(self, sequences: list[str], stats: EmbedStats | None = None) -> np.ndarray:
        """One row per sequence (uppercased first), in input order; ``stats`` adds up the batches.

        A NaN or Inf in a vector (an overflow in half precision, a broken model) is
        refused here, before it can become a score that compares false.
        """
        upper = [sequence.upper() for sequence in sequences]
        if self._featurizer is not None:
            return self._featurizer.embed(upper)
        matrix = embed_sequences(
            self._encoder, upper, self.device, self.token_budget, stats, self.attention
        )
        rows = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
        if rows.size:
            hint = (
                "" if self.precision == "fp32" else f" (an overflow in {self.precision}? try fp32)"
            )
            raise InputError(
                f"{self.spec.name} gives NaN or Inf for {rows.size} of {len(sequences)} sequences, "
                f"the first '{sequences[rows[0]][:20]}' ({len(sequences[rows[0]])} letters){hint}"
            )
        return matrix


#: Two sequences of different lengths (a padded batch) to try an attention backend on.
_ATTENTION_PROBES = {
    Modality.dna: ("ACGTTGCAAGGCTTACCGATAGCATGCAAT", "ACGTTGCAAGGC"),
    Modality.protein: ("MKVLAAGWTQRSDE", "MKVLA"),
}


def read_frames(path: str | os.PathLike[str], modality: Modality) -> list[tuple[str, str]]:
    """The frames an embedder of ``modality`` reads: DNA (RNA read as DNA) or proteins."""
    return list(read_dna(path) if modality is Modality.dna else read_proteins(path))


@dataclass
class EmbedSummary:
    """What one embed task did: files written or skipped, and where its time went.

    ``write_seconds`` is the host's time writing feature files (fsync included), on a
    background thread while the next shard is embedded.
    """

    written: int = 0
    skipped: int = 0
    sequences: int = 0
    load_seconds: float = 0.0
    wall_seconds: float = 0.0
    write_seconds: float = 0.0
    stats: EmbedStats = field(default_factory=EmbedStats)

    @property
    def load_share(self) -> float:
        """Share of the task's wall time spent loading the model."""
        return self.load_seconds / self.wall_seconds if self.wall_seconds else 0.0


class BackgroundWriter:
    """Feature files written on one background thread while the next shard is embedded.

    One write is in flight at a time, so at most one finished matrix waits in memory
    besides the one being made; each write is atomic (``write_features``: a temporary,
    fsync, rename). A write that fails is raised by the next ``write`` or on leaving
    the ``with`` block, never lost.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feature-writer")
        self._pending: Future[float] | None = None
        self.seconds = 0.0

    def write(self, path: Path, features: Features) -> None:
        """Start writing ``features`` to ``path`` once the previous write has finished."""
        self.wait()
        self._pending = self._thread.submit(_timed_write, path, features)

    def wait(self) -> None:
        """Return once the write in flight is on disk; raise its error if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.seconds += pending.result()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self.wait()
        except Exception:
            if kind is None:
                raise
            log.exception("writing a feature file failed too")  # the first error goes on
        finally:
            self._thread.shutdown()


def _timed_write(path: Path, features: Features) -> float:
    started = time.perf_counter()
    write_features(path, features)
    return time.perf_counter() - started


def extract_features(
    pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    spec: EmbedderSpec,
    precision: str,
    device: str,
    chunk_size: int,
    token_budget: int,
    model_dir: Path | None = None,
    hf_home: Path | None = None,
    trust_remote_code: bool = False,
    attention: str = "auto",
) -> EmbedSummary:
    """Embed each (input FASTA, output feature file) pair with ``spec``, loading the model once.

    A GPU task embeds a group of shards: loading ESM2-3B takes about as long as
    embedding one shard, so it is loaded once for all of them, and each shard
    still gets its own feature file (what -resume and the merge step see).
    Outputs already complete for their input and settings are skipped; the
    model is loaded only if one is not.
    """
    # Refuse bad options and inputs before any work.
    torch_dtype(precision), resolve_device(device), check_token_budget(token_budget)
    check_attention(attention)
    source = model_source(spec, model_dir, hf_home)

    def load() -> SequenceEmbedder:
        return SequenceEmbedder(
            spec, precision, device, token_budget, trust_remote_code=trust_remote_code,
            source=source, attention=attention,
        )  # fmt: skip

    return _embed_pairs(pairs, chunk_size, spec, precision, source, trust_remote_code, load)


def embed_shards(
    embedder: SequenceEmbedder,
    pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    chunk_size: int,
) -> EmbedSummary:
    """:func:`extract_features` with a model the caller has loaded and keeps: the DNA and
    protein frames of a shard run back to back, each model loaded once for all shards."""
    spec = embedder.spec
    return _embed_pairs(
        pairs, chunk_size, spec, embedder.precision, embedder.source, embedder.trust_remote_code,
        lambda: embedder,
    )  # fmt: skip


def _embed_pairs(
    pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    chunk_size: int,
    spec: EmbedderSpec,
    precision: str,
    source: ModelSource,
    trust_remote_code: bool,
    load: Callable[[], SequenceEmbedder],
) -> EmbedSummary:
    """Skip the complete outputs, then ``load()`` the embedder (only if one is not) and
    embed the others; shard N is written while shard N+1 is embedded."""
    started = time.perf_counter()
    check_chunk_size(chunk_size)
    outputs = [Path(output) for _, output in pairs]
    doubled = sorted({str(path) for path in outputs if outputs.count(path) > 1})
    if doubled:
        raise InputError(
            f"{', '.join(doubled)} is given for two outputs: each output needs its own file"
        )
    pending = []
    summary = EmbedSummary()
    for input_path, output in zip((path for path, _ in pairs), outputs, strict=True):
        records = read_frames(input_path, spec.modality)
        check_frame_lengths(input_path, records, spec.modality, chunk_size)
        expected = {
            "embedder": spec.name,
            "precision": precision,
            "chunk_size": str(chunk_size),
            "frames_sha256": records_digest(records),
            "longest_frame": str(max((len(sequence) for _, sequence in records), default=0)),
            "loader": "remote" if trust_remote_code else "native",
            **source.provenance,
        }
        if _finished(output, expected):
            log.info("%s is complete for %s: skipped", output, input_path)
            summary.skipped += 1
        else:
            pending.append((records, output, expected))
    if pending:
        loading = time.perf_counter()
        embedder = load()
        summary.load_seconds = time.perf_counter() - loading
        with BackgroundWriter() as writer:
            for records, output, expected in pending:
                writer.write(output, _embed_file(embedder, records, expected, summary.stats))
                summary.written += 1
                summary.sequences += len(records)
        summary.write_seconds = writer.seconds
    summary.wall_seconds = time.perf_counter() - started
    if pending:
        stats = summary.stats
        log.info(
            "%s: %d file(s) written, %d already complete; %d sequences; model loaded once in "
            "%.1f s (%.0f%% of %.1f s); padding %.0f%% of batch tokens; device idle %.0f%% of "
            "the embedding time; host per shard %.2f s tokenising and %.2f s writing (both "
            "in the background); attention %s",
            spec.name, summary.written, summary.skipped, summary.sequences, summary.load_seconds,
            100 * summary.load_share, summary.wall_seconds, 100 * stats.padding_fraction,
            100 * stats.idle_fraction, stats.tokenize_seconds / summary.written,
            summary.write_seconds / summary.written, embedder.attention,
        )  # fmt: skip
    return summary


def _embed_file(
    embedder: SequenceEmbedder,
    records: list[tuple[str, str]],
    expected: dict[str, str],
    stats: EmbedStats,
) -> Features:
    """The features of one shard, ready to write."""
    started = time.perf_counter()
    matrix = embedder.embed([sequence for _, sequence in records], stats)
    metadata = {
        **expected,
        "modality": embedder.spec.modality.value,
        "dimension": str(matrix.shape[1]),
        "tool_version": __version__,
    }
    log.info(
        "embedded %d %s sequences with %s (%d-d) in %.1f s",
        len(records), embedder.spec.modality.value, embedder.spec.name, matrix.shape[1],
        time.perf_counter() - started,
    )  # fmt: skip
    return Features([record_id for record_id, _ in records], matrix, metadata)
