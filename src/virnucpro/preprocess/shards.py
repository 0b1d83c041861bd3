"""Cutting paired nucleotide / protein frame files into shards of N frames.

Shards are the unit of parallel work downstream: each is embedded by DNA and
protein models in separate tasks and merged by id, so both files of a shard
must hold the same ids in the same order.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import ID_LIST
from virnucpro.files.names import check_name
from virnucpro.files.sequence_files import read_fasta, read_proteins, write_fasta
from virnucpro.files.tables import read_table
from virnucpro.preprocess.frames import translations

log = logging.getLogger(__name__)
# Frames checked against their translation at a time (one vectorised translation each).
_BATCH = 4096
_BASES = frozenset("ACGT")


@dataclass
class ShardSummary:
    """What the shard step read and wrote."""

    frames: int = 0
    shards: list[str] = field(default_factory=list)


def shard_name(prefix: str, number: int) -> str:
    """Name of shard ``number`` (1-based); zero-padded so names sort in order."""
    return f"{prefix}_{number:05d}"


def read_id_lists(paths: Sequence[str | os.PathLike[str]]) -> set[str]:
    """Frame ids from TSV tables with a ``frame_id`` column (e.g. the split lists)."""
    return {row["frame_id"] for path in paths for row in read_table(path, ID_LIST)}


def _check_translations(
    nucleotide_path: str | os.PathLike[str],
    protein_path: str | os.PathLike[str],
    batch: Sequence[tuple[tuple[str, str], tuple[str, str]]],
) -> None:
    """Each protein must be its nucleotide frame's translation (see ``translations``):
    files with the same ids but other or shifted proteins pair frames that never were."""
    proteins = translations([nucleotide for (_, nucleotide), _ in batch])
    for ((frame_id, nucleotide), (_, protein)), translated in zip(batch, proteins, strict=True):
        exact = set(nucleotide.upper()) <= _BASES
        if protein.upper() != translated if exact else not protein.upper().startswith(translated):
            raise InputError(
                f"{protein_path}: frame '{frame_id}' is not the translation of its nucleotide "
                f"frame in {nucleotide_path} ('{protein[:12]}...' found, '{translated[:12]}...' "
                "expected): the files must hold the same frames"
            )


def paired_frames(
    nucleotide_paths: Sequence[str | os.PathLike[str]],
    protein_paths: Sequence[str | os.PathLike[str]],
) -> Iterator[tuple[str, str, str]]:
    """``(id, nucleotide, protein)`` from file pairs whose records must match one to one."""
    if len(nucleotide_paths) != len(protein_paths):
        raise InputError(
            f"got {len(nucleotide_paths)} nucleotide and {len(protein_paths)} protein files: "
            "they must come in pairs"
        )
    for nucleotide_path, protein_path in zip(nucleotide_paths, protein_paths, strict=True):
        pairs = zip(read_fasta(nucleotide_path), read_proteins(protein_path), strict=True)
        number = 0
        try:
            while batch := list(islice(pairs, _BATCH)):
                for (frame_id, _), (protein_id, _) in batch:
                    number += 1
                    if frame_id != protein_id:
                        raise InputError(
                            f"record {number} differs between {nucleotide_path} ('{frame_id}') "
                            f"and {protein_path} ('{protein_id}'): the files must hold the same "
                            "frames"
                        )
                _check_translations(nucleotide_path, protein_path, batch)
                for (frame_id, nucleotide), (_, protein) in batch:
                    yield frame_id, nucleotide, protein
        except ValueError:  # raised by zip(strict=True) when one file ends first
            raise InputError(
                f"{nucleotide_path} and {protein_path} hold different numbers of records"
            ) from None


def shard_frames(
    nucleotide_paths: Sequence[str | os.PathLike[str]],
    protein_paths: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    frames_per_shard: int = 10000,
    prefix: str = "shard",
    id_lists: Sequence[str | os.PathLike[str]] = (),
) -> ShardSummary:
    """Write ``{prefix}_NNNNN.nucleotide.fasta`` / ``.protein.fasta`` pairs of N frames each.

    With ``id_lists``, only the listed frames are written, and every listed id
    must be found. Shards of an earlier run with the same prefix that this run
    does not produce are removed, so the directory holds exactly one sharding.
    """
    if frames_per_shard < 1:
        raise InputError(f"frames per shard must be at least 1, got {frames_per_shard}")
    check_name(prefix, "shard prefix")
    wanted = read_id_lists(id_lists) if id_lists else None
    frames = paired_frames(nucleotide_paths, protein_paths)
    if wanted is not None:
        frames = _keep_listed(frames, wanted)
    out = Path(output_dir)
    summary = ShardSummary()
    with AtomicOutputs() as outputs:
        while batch := list(islice(frames, frames_per_shard)):
            name = shard_name(prefix, len(summary.shards) + 1)
            summary.shards.append(name)
            with (
                outputs.open(out / f"{name}.nucleotide.fasta") as nucleotides,
                outputs.open(out / f"{name}.protein.fasta") as proteins,
            ):
                for frame_id, nucleotide, protein in batch:
                    write_fasta(nucleotides, frame_id, nucleotide)
                    write_fasta(proteins, frame_id, protein)
            summary.frames += len(batch)
        if wanted:
            missing = ", ".join(sorted(wanted)[:3])
            raise InputError(
                f"{len(wanted)} listed frame ids are not in the FASTA inputs (e.g. {missing})"
            )
    _remove_stale_shards(out, prefix, set(summary.shards))
    log.info(
        "wrote %d frames in %d shards of up to %d to %s",
        summary.frames,
        len(summary.shards),
        frames_per_shard,
        out,
    )
    if not summary.shards:
        log.warning("no frames to shard: no shard written")
    return summary


def _keep_listed(
    frames: Iterator[tuple[str, str, str]], wanted: set[str]
) -> Iterator[tuple[str, str, str]]:
    """Only the frames in ``wanted``; each one found is crossed off, leaving the missing ones."""
    for frame in frames:
        if frame[0] in wanted:
            wanted.remove(frame[0])
            yield frame


def _remove_stale_shards(directory: Path, prefix: str, current: set[str]) -> None:
    """Delete shard files of an earlier run that the current run did not write."""
    pattern = re.compile(rf"({re.escape(prefix)}_\d{{5}})\.(nucleotide|protein)\.fasta")
    for path in sorted(directory.glob(f"{prefix}_*.fasta")):
        match = pattern.fullmatch(path.name)
        if match and match.group(1) not in current:
            path.unlink()
            log.info("removed %s from an earlier run", path)
