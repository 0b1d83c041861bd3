"""tests/data/modules/ holds what the bin/ commands write, and what the nf-tests read.

The module and subworkflow nf-tests (run elsewhere, on a real Nextflow) read fixed
inputs from tests/data/modules/ instead of running their upstream modules;
scripts/module_test_data.py writes them with the upstream modules' commands. The slow
test regenerates them and fails until they are rewritten after a command changes its
outputs; the fast ones check that every path a test names exists, that every file is
read by a test, and that the files agree with tests/expected/nf_test_outputs.json.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, load_script
from safetensors.numpy import save_file

SCRIPTS = ROOT / "scripts"
# module_test_data.py imports its helpers from nf_test_expected.py beside it
sys.path.insert(0, str(SCRIPTS))
module_test_data = load_script(SCRIPTS / "module_test_data.py")

DATA = ROOT / "tests" / "data" / "modules"
EXPECTED = ROOT / "tests" / "expected" / "nf_test_outputs.json"
REWRITE = "run: .venv/bin/python scripts/module_test_data.py --write"
NF_TESTS = sorted(ROOT.glob("modules/local/*/tests/*.nf.test")) + sorted(
    ROOT.glob("subworkflows/local/*/tests/*.nf.test")
)
# A fixed input as the nf-tests name it (its path up to the closing quote)
NAMED = re.compile(r"\$\{projectDir\}/(tests/data/[^\"']+)")
# The tests that read what upstream modules write
READERS = {
    "benchmark_embedder", "classify", "compare_embedders", "embed_dna", "embed_protein",
    "evaluate_classifier", "select_frames", "shard_frames", "split_dataset",
    "train_classifier", "embed_and_merge", "frames_to_shards", "multiqc_report",
}  # fmt: skip


def named_paths() -> dict[str, set[str]]:
    """Test folder name (module or subworkflow) -> the paths under tests/data/ it names."""
    return {test.parents[1].name: set(NAMED.findall(test.read_text())) for test in NF_TESTS}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_files_hold_what_the_commands_write(tmp_path: Path) -> None:
    module_test_data.write(tmp_path / "modules")

    differences = module_test_data.differences(DATA, tmp_path / "modules")
    assert not differences, "\n".join([*differences, REWRITE])


def test_every_module_test_downstream_of_another_reads_fixed_files() -> None:
    named = named_paths()
    assert {test for test, paths in named.items() if paths} == READERS
    missing = sorted(
        path for paths in named.values() for path in paths if not (ROOT / path).exists()
    )
    assert not missing, "\n".join([*missing, REWRITE])


def test_every_fixed_file_is_read_by_a_test() -> None:
    # A path a test names is a file or a folder (a classifier checkpoint) read whole
    named = {ROOT / path for paths in named_paths().values() for path in paths}
    unread = [
        str(path.relative_to(ROOT))
        for path in sorted(DATA.rglob("*"))
        if path.is_file() and not ({path, *path.parents} & named)
    ]
    assert not unread


def test_fixed_frames_and_shards_are_those_of_the_expected_values() -> None:
    """The nf-tests check their outputs against nf_test_outputs.json: the fixed frames
    and shards they read are the ones that file describes."""
    expected = json.loads(EXPECTED.read_text())
    sample = DATA / "mixed_4"
    frames = expected["select_frames"]["mixed_4_300"]
    assert [md5(sample / f"mixed_4.{kind}.fasta") for kind in ("nucleotide", "protein")] == [
        frames["nucleotide_md5"],
        frames["protein_md5"],
    ]
    assert md5(sample / "mixed_4.frames.tsv") == frames["report_md5"]
    shards = expected["shard_frames"]["mixed_4_15"]
    assert {
        path.name.removesuffix(".nucleotide.fasta")
        for path in (sample / "shards").glob("*.nucleotide.fasta")
    } == set(shards)
    for shard, values in shards.items():
        for kind in ("nucleotide", "protein"):
            assert md5(sample / "shards" / f"{shard}.{kind}.fasta") == values[f"{kind}_md5"]


def test_fixed_files_stay_small() -> None:
    files = [path for path in DATA.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 1_000_000
    assert len(files) < 60


def test_check_accepts_last_bit_differences_and_refuses_real_changes(tmp_path: Path) -> None:
    stored, found = tmp_path / "stored", tmp_path / "found"
    for folder in (stored, found):
        folder.mkdir()
    evaluation = {"f1": 0.5714285714285714, "frames": 37, "data_sha256": "a" * 64, "id": "x"}
    (stored / "e.json").write_text(json.dumps(evaluation))
    (stored / "p.tsv").write_text("frame_id\tscore2\nf1\t0.731570\n")
    features = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    save_file({"features": features}, stored / "f.safetensors", metadata={"ids": "[1]"})

    def check(json_changes: dict, score: str, matrix: np.ndarray, metadata: str) -> list[str]:
        (found / "e.json").write_text(json.dumps(evaluation | json_changes))
        (found / "p.tsv").write_text(f"frame_id\tscore2\nf1\t{score}\n")
        save_file({"features": matrix}, found / "f.safetensors", metadata={"ids": metadata})
        return module_test_data.differences(stored, found)

    # Floats off in their last digits, and the digest of such floats
    noise = {"f1": 0.5714285714285716, "data_sha256": "b" * 64}
    assert check(noise, "0.731571", features + 1e-7, "[1]") == []
    # A count, a score, a feature value, an id: real changes
    assert check({"frames": 38}, "0.731570", features, "[1]") == ["e.json: differs"]
    assert check({}, "0.741570", features, "[1]") == ["p.tsv: differs"]
    assert check({}, "0.731570", features * 1.01, "[1]") == ["f.safetensors: differs"]
    assert check({"id": "y"}, "0.731570", features, "[2]") == [
        "e.json: differs",
        "f.safetensors: differs",
    ]
    (found / "extra.tsv").write_text("")
    (stored / "gone.tsv").write_text("")
    assert check({}, "0.731570", features, "[1]") == [
        f"extra.tsv: not in {stored}",
        "gone.tsv: no longer written",
    ]


def test_pinned_benchmarks_rate_every_pass_at_the_pinned_time(tmp_path: Path) -> None:
    benchmark = tmp_path / "tiny_esm2.benchmark.json"
    measured = {"device_name": "x86_64", "sequences": 44, "tokens": 4439, "load_seconds": 0.03}
    benchmark.write_text(json.dumps(measured | {"repeats": 3, "seconds": 0.0182}))

    pinned = json.loads(module_test_data.pinned(benchmark, 0.1).read_text())

    assert pinned["seconds_per_pass"] == [0.1, 0.1, 0.1]
    assert pinned["seconds"] == 0.1
    assert pinned["sequences_per_second"] == pinned["sequences_per_second_high"] == 440.0
    assert pinned["tokens_per_second_low"] == 44390.0
    assert (pinned["load_seconds"], pinned["device_name"]) == (0.0, module_test_data.PINNED_DEVICE)
    assert pinned["sequences"] == 44
