"""FracMinHash sketches of genomes, and clusters of genomes that share much of their sequence.

A genome split (train / validation / test) keeps each GenBank record in one set,
but strains of one species, or a phage and the host genome that carries it as a
prophage, are different records with near-identical sequence: they must go to
the same set too. A sketch is the set of hashed canonical k-mers of a record
whose hash falls below ``2**64 / SCALED`` (FracMinHash): about one k-mer in
``SCALED``, the same k-mers in every genome that holds them, so sketches of
different sizes stay comparable.

Two genomes are similar when the sketch of the smaller is contained in the
other's: ``|A ∩ B| / min(|A|, |B|)``, so a phage inside a host genome scores
about 1. With ``K = 21`` the containment of two sequences at average nucleotide
identity ANI is about ``ANI ** 21`` (a k-mer survives when all its 21 bases do):
the default threshold 0.3 links genomes above ~95 % ANI over the shorter one,
the usual species boundary. Genomes linked directly or through others form one
cluster (connected components).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import SKETCHES
from virnucpro.files.feature_files import deterministic_safetensors
from virnucpro.preprocess.settings import SCALED, K

_KEEP_BELOW = np.uint64(2**64 // SCALED)
# k-mers hashed at a time: ~200 MB of work arrays, whatever the record's size
_BLOCK = 1 << 22


def _base_codes() -> np.ndarray:
    """Byte -> 2-bit base code, A C G T = 0 1 2 3 (either case); 4 for anything else."""
    codes = np.full(256, 4, dtype=np.uint8)
    for code, base in enumerate(b"ACGT"):
        codes[base] = codes[base + 32] = code
    return codes


_CODES = _base_codes()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed 64-bit hash, so sketches agree across runs and machines."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _kept_hashes(codes: np.ndarray) -> np.ndarray:
    """Hashes below the FracMinHash cut of the canonical k-mers of a run of base codes."""
    windows = len(codes) - K + 1
    bad = np.concatenate(([0], np.cumsum(codes > 3)))
    complete = bad[K:] == bad[:windows]
    bases = np.where(codes > 3, 0, codes).astype(np.uint64)
    forward = np.zeros(windows, dtype=np.uint64)
    reverse = np.zeros(windows, dtype=np.uint64)
    for position in range(K):
        base = bases[position : position + windows]
        forward |= base << np.uint64(2 * (K - 1 - position))
        reverse |= (np.uint64(3) - base) << np.uint64(2 * position)
    hashes = _mix(np.minimum(forward, reverse)[complete])
    return hashes[hashes < _KEEP_BELOW]


def sketch(sequence: str) -> np.ndarray:
    """Sorted distinct hashes (uint64) of the kept canonical k-mers of ``sequence``.

    A k-mer is read as 2-bit codes, and the smaller of it and its reverse
    complement is hashed, so both strands give the same sketch; k-mers with a
    base other than A, C, G or T are skipped. Shifting whole arrays, once per
    k-mer position, keeps it vectorised (no Python loop over the k-mers); blocks
    of ``_BLOCK`` k-mers bound the memory for chromosomes of any size.
    """
    codes = _CODES[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]
    kept = [
        _kept_hashes(codes[start : start + _BLOCK + K - 1])
        for start in range(0, len(codes) - K + 1, _BLOCK)
    ]
    return np.unique(np.concatenate([np.zeros(0, dtype=np.uint64), *kept]))


def write_sketches(
    outputs: AtomicOutputs, path: str | os.PathLike[str], sketches: Mapping[str, np.ndarray]
) -> None:
    """Write one uint64 array per record id, with the format, k and scaled in the metadata,
    as one of ``outputs`` (so it appears together with the step's other files)."""
    tensors = {
        name: np.ascontiguousarray(hashes, dtype=np.uint64) for name, hashes in sketches.items()
    }
    metadata = {"format": SKETCHES.format, "k": str(K), "scaled": str(SCALED)}
    outputs.write_bytes(path, deterministic_safetensors(save(tensors, metadata=metadata)))


def read_sketches(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a sketch file, refusing other files and sketches made with another k or scaled."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such sketch file")
    try:
        with safe_open(file, "np") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != SKETCHES.format:
                raise InputError(
                    f"{file}: not a virnucpro sketch file (format {metadata.get('format')!r})"
                )
            made = (metadata.get("k"), metadata.get("scaled"))
            if made != (str(K), str(SCALED)):
                raise InputError(
                    f"{file}: sketches made with k={made[0]}, scaled={made[1]}; this version "
                    f"compares k={K}, scaled={SCALED}: rebuild them with build_training_set.py"
                )
            sketches = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise InputError(f"{file}: not a safetensors sketch file ({error})") from None
    for name, hashes in sketches.items():
        if hashes.dtype != np.uint64 or hashes.ndim != 1 or (hashes[1:] <= hashes[:-1]).any():
            raise InputError(
                f"{file}: the sketch of '{name}' is not a sorted vector of distinct uint64 hashes"
            )
    return sketches


def read_sketch_files(paths: Iterable[str | os.PathLike[str]]) -> dict[str, np.ndarray]:
    """The sketches of several files; a record sketched in two files is refused."""
    found: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}
    for path in paths:
        for name, hashes in read_sketches(path).items():
            if name in found:
                raise InputError(
                    f"genome '{name}' is sketched in both {where[name]} and {path}: "
                    "record ids must be unique across the inputs"
                )
            found[name] = hashes
            where[name] = str(path)
    return found


def shared_hashes(sketches: Sequence[np.ndarray]) -> dict[tuple[int, int], int]:
    """``(i, j) -> |sketch i ∩ sketch j|`` (i < j) for every pair sharing a hash.

    All hashes are sorted together (an inverted index): equal hashes sit side by
    side, so pairs come from neighbours at distance 1, 2, ... up to the largest
    number of genomes sharing one hash, never from comparing every pair of genomes.
    """
    count = len(sketches)
    hashes = np.concatenate([np.zeros(0, dtype=np.uint64), *sketches])
    owners = np.repeat(np.arange(count, dtype=np.int64), [len(s) for s in sketches])
    order = np.lexsort((owners, hashes))
    hashes, owners = hashes[order], owners[order]
    # only hashes held by two genomes or more can make a pair
    repeated = np.zeros(len(hashes), dtype=bool)
    repeated[1:] = hashes[1:] == hashes[:-1]
    repeated[:-1] |= repeated[1:]
    hashes, owners = hashes[repeated], owners[repeated]
    pairs = [np.zeros(0, dtype=np.int64)]
    for distance in range(1, count):
        same = hashes[distance:] == hashes[:-distance]
        if not same.any():
            break
        pairs.append(owners[:-distance][same] * count + owners[distance:][same])
    codes, shared = np.unique(np.concatenate(pairs), return_counts=True)
    return {
        (int(code) // count, int(code) % count): int(number)
        for code, number in zip(codes, shared, strict=True)
    }


def containment(shared: int, size_a: int, size_b: int) -> float:
    """The share of the smaller sketch found in the other (0 when one is empty)."""
    smaller = min(size_a, size_b)
    return shared / smaller if smaller else 0.0


def check_threshold(threshold: float) -> None:
    """A containment threshold is a share: above 0 (0 would link everything), at most 1."""
    if not 0 < threshold <= 1:
        raise InputError(f"cluster threshold must be in (0, 1], got {threshold}")


def cluster_genomes(
    genomes: Sequence[str], sketches: Mapping[str, np.ndarray], threshold: float
) -> list[list[str]]:
    """Connected components of the genomes, linked when their containment >= ``threshold``.

    Every genome must have a sketch. A genome with an empty sketch (shorter than
    k, or no k-mer without an ambiguous base) shares nothing: it is a cluster of
    its own. Clusters, and the genomes inside them, come in the order of ``genomes``.
    """
    check_threshold(threshold)
    missing = [genome for genome in genomes if genome not in sketches]
    if missing:
        raise InputError(
            f"genome '{missing[0]}' has no sketch ({len(missing)} of {len(genomes)} genomes "
            "lack one): give the sketches of every sources table (--sketches)"
        )
    arrays = [sketches[genome] for genome in genomes]
    graph = nx.Graph()
    graph.add_nodes_from(range(len(genomes)))
    for (a, b), shared in shared_hashes(arrays).items():
        if containment(shared, len(arrays[a]), len(arrays[b])) >= threshold:
            graph.add_edge(a, b)
    components = sorted(sorted(component) for component in nx.connected_components(graph))
    return [[genomes[index] for index in component] for component in components]
