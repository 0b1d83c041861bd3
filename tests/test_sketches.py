"""FracMinHash sketches and the clusters of similar genomes (virnucpro.preprocess.sketches)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.contracts import SKETCHES
from virnucpro.files.sequence_files import read_genbank
from virnucpro.preprocess import sketches as sketches_module
from virnucpro.preprocess.settings import DEFAULT_THRESHOLD, SCALED, K
from virnucpro.preprocess.sketches import (
    cluster_genomes,
    containment,
    read_sketch_files,
    read_sketches,
    shared_hashes,
    sketch,
    write_sketches,
)

COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
MASK = 2**64 - 1


def random_genome(rng: np.random.Generator, length: int) -> str:
    return np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, length)].tobytes().decode()


def mutate(rng: np.random.Generator, sequence: str, rate: float) -> str:
    """A copy with ``rate`` of its bases substituted by another base."""
    bases = np.array(list(sequence))
    sites = rng.choice(len(bases), size=round(rate * len(bases)), replace=False)
    for site in sites:
        bases[site] = rng.choice([base for base in "ACGT" if base != bases[site]])
    return "".join(bases)


def reverse_complement(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


def plain_sketch(sequence: str) -> list[int]:
    """The sketch as the docstring states it, one k-mer at a time, with Python integers."""

    def mix(x: int) -> int:
        z = (x + 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def code(kmer: str) -> int:
        return int("".join(str("ACGT".index(base)) for base in kmer), 4)

    kept = set()
    for start in range(len(sequence) - K + 1):
        kmer = sequence[start : start + K].upper()
        if set(kmer) <= set("ACGT"):
            hashed = mix(min(code(kmer), code(reverse_complement(kmer))))
            if hashed < 2**64 // SCALED:
                kept.add(hashed)
    return sorted(kept)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


def test_sketch_is_the_stated_rule(rng):
    # N and lowercase on the way: k-mers with N skipped, case ignored
    sequence = random_genome(rng, 30000)
    sequence = sequence[:10000] + "N" + sequence[10001:20000].lower() + "NNNN" + sequence[20004:]
    found = sketch(sequence)
    assert found.dtype == np.uint64
    assert found.tolist() == plain_sketch(sequence)
    # about one k-mer in SCALED is kept
    assert 0.7 * 30000 / SCALED < len(found) < 1.3 * 30000 / SCALED


def test_sketch_skips_every_kmer_with_an_ambiguous_base(rng):
    sequence = random_genome(rng, 5000)
    masked = sequence[:2000] + "N" + sequence[2001:]
    # the k-mers over the N are gone: what is left is the sketch of the two sides
    left, right = set(sketch(sequence[:2000]).tolist()), set(sketch(sequence[2001:]).tolist())
    assert set(sketch(masked).tolist()) == left | right != set(sketch(sequence).tolist())


def test_blocks_join_without_losing_a_kmer(rng, monkeypatch):
    sequence = random_genome(rng, 200000)
    whole = sketch(sequence)
    monkeypatch.setattr(sketches_module, "_BLOCK", 997)
    assert np.array_equal(sketch(sequence), whole)
    for length in (997 + K - 2, 997 + K - 1, 997 + K, 2 * 997 + K - 1, 3 * 997 + 5):
        assert sketch(sequence[:length]).tolist() == plain_sketch(sequence[:length]), length


def test_short_and_all_n_sequences_have_empty_sketches():
    for sequence in ("", "ACGT" * 5, "N" * 1000):  # 20 bases < k
        assert sketch(sequence).size == 0


def test_reverse_complement_has_the_same_sketch(rng):
    sequence = random_genome(rng, 20000)
    assert np.array_equal(sketch(reverse_complement(sequence)), sketch(sequence))


def test_a_3_mb_genome_keeps_about_one_kmer_in_scaled(rng):
    hashes = sketch(random_genome(rng, 3_000_000))
    assert 25000 < len(hashes) < 35000


def test_containment_worked_by_hand():
    a = np.array([1, 2, 3, 4], dtype=np.uint64)
    b = np.array([3, 4, 5, 6, 7, 8], dtype=np.uint64)
    c = np.array([4, 8, 9], dtype=np.uint64)
    # a∩b = {3, 4}, a∩c = {4}, b∩c = {4, 8}
    assert shared_hashes([a, b, c]) == {(0, 1): 2, (0, 2): 1, (1, 2): 2}
    assert containment(2, len(a), len(b)) == 2 / 4  # of the smaller, a
    assert containment(2, len(b), len(c)) == 2 / 3
    assert containment(0, 0, 5) == 0.0
    assert shared_hashes([a, np.zeros(0, dtype=np.uint64)]) == {}


def test_shared_hashes_counts_hashes_held_by_many_genomes(rng):
    # 6 genomes sharing one hash, besides their own: every pair counts it once
    sketches = [np.sort(np.array([7, 100 + i, 200 + i], dtype=np.uint64)) for i in range(6)]
    sketches[2] = np.array([7, 102, 202, 500], dtype=np.uint64)
    sketches[4] = np.array([7, 104, 204, 500], dtype=np.uint64)
    shared = shared_hashes(sketches)
    assert {pair: count for pair, count in shared.items() if count == 2} == {(2, 4): 2}
    assert len(shared) == 15 and set(shared.values()) == {1, 2}


def test_threshold_is_inclusive():
    # containment 30/100 = 0.3 exactly: an edge; 29/100 just below: none
    base = np.arange(1000, 1100, dtype=np.uint64)
    at = {"a": base, "b": np.concatenate([base[:30], np.arange(5000, 5170, dtype=np.uint64)])}
    below = {"a": base, "b": np.concatenate([base[:29], np.arange(5000, 5171, dtype=np.uint64)])}
    assert cluster_genomes(["a", "b"], at, 0.3) == [["a", "b"]]
    assert cluster_genomes(["a", "b"], below, 0.3) == [["a"], ["b"]]
    assert cluster_genomes(["a", "b"], at, 0.31) == [["a"], ["b"]]


def test_clusters_are_connected_components_in_input_order():
    # a-b and b-c linked, c-a not: one cluster through b; d alone; e empty
    a = np.arange(0, 10, dtype=np.uint64)
    b = np.arange(5, 15, dtype=np.uint64)
    c = np.arange(10, 20, dtype=np.uint64)
    d = np.arange(100, 110, dtype=np.uint64)
    e = np.zeros(0, dtype=np.uint64)
    sketches = {"a": a, "b": b, "c": c, "d": d, "e": e}
    assert cluster_genomes(["d", "c", "e", "a", "b"], sketches, 0.5) == [
        ["d"],
        ["c", "a", "b"],
        ["e"],
    ]


def test_planted_near_duplicates_cluster_and_unrelated_genomes_stay_apart(rng):
    genome = random_genome(rng, 30000)
    host = random_genome(rng, 300000)
    phage = random_genome(rng, 20000)
    sequences = {
        "genome": genome,
        "variant_1pct": mutate(rng, genome, 0.01),  # containment ~ 0.99^21 ~ 0.81
        "flipped": reverse_complement(genome),
        "host": host[:150000] + phage + host[150000:],  # a prophage inside a host
        "phage": phage,
        "unrelated_1": random_genome(rng, 30000),
        "unrelated_2": random_genome(rng, 300000),
        "distant_10pct": mutate(rng, random_genome(rng, 30000), 0.1),
        "short": "ACGT",
    }
    sketches = {name: sketch(sequence) for name, sequence in sequences.items()}
    size = {name: len(hashes) for name, hashes in sketches.items()}
    pairs = shared_hashes([sketches[name] for name in sequences])
    names = list(sequences)
    similarity = {
        (names[a], names[b]): containment(count, size[names[a]], size[names[b]])
        for (a, b), count in pairs.items()
    }
    assert 0.7 < similarity[("genome", "variant_1pct")] < 0.9
    assert similarity[("genome", "flipped")] == 1.0
    assert similarity[("host", "phage")] > 0.95  # the phage's sketch is inside the host's
    unrelated = [
        value for pair, value in similarity.items() if {"unrelated_1", "unrelated_2"} & set(pair)
    ]
    assert max(unrelated, default=0.0) < 0.05
    assert cluster_genomes(names, sketches, DEFAULT_THRESHOLD) == [
        ["genome", "variant_1pct", "flipped"],
        ["host", "phage"],
        ["unrelated_1"],
        ["unrelated_2"],
        ["distant_10pct"],
        ["short"],
    ]


def test_ten_percent_divergence_is_below_the_default_threshold(rng):
    # 0.9^21 ~ 0.11: genomes below ~95% identity are not linked
    genome = random_genome(rng, 100000)
    distant, close = mutate(rng, genome, 0.10), mutate(rng, genome, 0.03)
    sketches = {"a": sketch(genome), "distant": sketch(distant), "close": sketch(close)}
    assert cluster_genomes(["a", "distant", "close"], sketches, DEFAULT_THRESHOLD) == [
        ["a", "close"],
        ["distant"],
    ]


def _write(path, sketches):
    with AtomicOutputs() as outputs:
        write_sketches(outputs, path, sketches)
    return path


def test_sketch_file_round_trip_and_bytes_are_deterministic(tmp_path, rng):
    sketches = {"b": sketch(random_genome(rng, 5000)), "a": sketch("ACGT"), "c.1": sketch("")}
    one = _write(tmp_path / "one.safetensors", sketches)
    two = _write(tmp_path / "two.safetensors", dict(reversed(sketches.items())))
    assert one.read_bytes() == two.read_bytes()
    found = read_sketches(one)
    assert sorted(found) == ["a", "b", "c.1"]
    assert all(np.array_equal(found[name], sketches[name]) for name in sketches)
    assert b'"format":"' + SKETCHES.format.encode() + b'"' in one.read_bytes()[:200]


def test_a_genome_sketched_in_two_files_is_refused(tmp_path):
    one = _write(tmp_path / "one.safetensors", {"g": sketch("ACGT" * 10)})
    two = _write(tmp_path / "two.safetensors", {"h": sketch(""), "g": sketch("")})
    with pytest.raises(InputError, match=r"genome 'g' is sketched in both .*one.* and .*two"):
        read_sketch_files([one, two])
    assert sorted(read_sketch_files([one])) == ["g"]


def test_a_genome_without_sketch_is_named():
    sketches = {"a": np.zeros(0, dtype=np.uint64)}
    with pytest.raises(InputError, match=r"genome 'b' has no sketch \(2 of 3 genomes lack one\)"):
        cluster_genomes(["a", "b", "c"], sketches, 0.3)


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_thresholds_outside_0_1_are_refused(threshold):
    with pytest.raises(InputError, match=r"cluster threshold must be in \(0, 1\]"):
        cluster_genomes([], {}, threshold)


def _with_metadata(path, metadata, tensors=None):
    from safetensors.numpy import save_file

    save_file(tensors or {"g": np.array([1, 2], dtype=np.uint64)}, path, metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("metadata", "tensors", "message"),
    [
        (
            {"format": SKETCHES.format, "k": "31", "scaled": "100"},
            None,
            "made with k=31, scaled=100",
        ),
        (
            {"format": SKETCHES.format, "k": "21", "scaled": "1000"},
            None,
            "made with k=21, scaled=1000",
        ),
        ({"format": SKETCHES.format}, None, "made with k=None, scaled=None"),
        ({"format": "virnucpro-features/1"}, None, "not a virnucpro sketch file"),
        (None, None, "not a virnucpro sketch file"),
        (
            {"format": SKETCHES.format, "k": "21", "scaled": "100"},
            {"g": np.array([1.0, 2.0], dtype=np.float32)},
            "the sketch of 'g' is not a sorted vector of distinct uint64 hashes",
        ),
        (
            {"format": SKETCHES.format, "k": "21", "scaled": "100"},
            {"g": np.array([5, 2], dtype=np.uint64)},
            "not a sorted vector",
        ),
        (
            {"format": SKETCHES.format, "k": "21", "scaled": "100"},
            {"g": np.array([2, 2], dtype=np.uint64)},
            "not a sorted vector",
        ),
    ],
    ids=["k", "scaled", "no-k", "features", "no-metadata", "float", "unsorted", "repeated"],
)
def test_other_sketch_files_are_refused(tmp_path, metadata, tensors, message):
    path = _with_metadata(tmp_path / "s.safetensors", metadata, tensors)
    with pytest.raises(InputError, match=message):
        read_sketches(path)


def test_not_safetensors_or_missing_is_refused(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(InputError, match="not a safetensors sketch file"):
        read_sketches(garbage)
    with pytest.raises(InputError, match="no such sketch file"):
        read_sketches(tmp_path / "missing.safetensors")


@pytest.mark.slow
def test_real_genomes_sketch_fast_and_cluster_as_expected(shared_data):
    """Both batches of ../shared/data: timing on the largest record, and the known clusters."""
    sketches, names, hosts, slowest = {}, [], set(), (0, "", 0.0)
    for folder in ("viral", "host"):
        for path in sorted((shared_data / folder).iterdir()):
            for record in read_genbank(path):
                sequence = str(record.seq)
                start = time.perf_counter()
                sketches[record.id] = sketch(sequence)
                elapsed = time.perf_counter() - start
                # the time is reported, not asserted: a test must not depend on the machine's load
                slowest = max(slowest, (len(sequence), record.id, elapsed))
                names.append(record.id)
                if folder == "host":
                    hosts.add(record.id)
    length, name, elapsed = slowest
    print(f"largest record {name}: {length} bp sketched in {elapsed:.3f} s")
    assert length > 2_000_000
    clusters = [members for members in cluster_genomes(names, sketches, 0.3) if len(members) > 1]
    print(f"{len(clusters)} clusters of several genomes: {clusters}")
    # The strains of escherichia_phages_4.gbk (rV5-like myophages), two FPV partials;
    # no host genome shares a cluster (no host here carries one of these phages)
    assert ["JX128258.1", "MH051335.1", "MH816966.1", "MK373776.1"] in clusters
    assert ["AB000048.1", "AB000049.1"] in clusters
    assert not any(hosts & set(members) for members in clusters)
