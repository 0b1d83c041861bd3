"""tests/expected/nf_test_outputs.json holds what the bin/ commands really write.

The nf-tests (run elsewhere, on a real Nextflow) assert md5 sums and counts read from
that file; scripts/nf_test_expected.py computes them by running the same commands on
the same inputs. If an output changes, the slow test below fails until the file is
rewritten, so the nf-tests never compare against stale values.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, load_script

SCRIPT = ROOT / "scripts" / "nf_test_expected.py"
EXPECTED = ROOT / "tests" / "expected" / "nf_test_outputs.json"
REWRITE = "run: .venv/bin/python scripts/nf_test_expected.py --write"

nf_test_expected = load_script(SCRIPT)

# The keys tests/pipeline/*.nf.test read (predict with -profile test, train/compare
# with -profile test_compare)
PIPELINE_KEYS = {
    "pipeline_predict": {
        "chunks_fasta_md5", "frames_report_md5", "nucleotide_frames_md5", "protein_frames_md5",
        "chunks", "frames", "no_frame_chunks", "sequences", "shards", "embedding_tasks",
        "sequence_calls", "viral_sequences",
    },
    "pipeline_train": {
        "train_md5", "validation_md5", "test_md5", "summary_md5", "clusters_md5",
        "train_rows", "validation_rows", "test_rows", "shards", "embedding_tasks",
    },
}  # fmt: skip
# Module and subworkflow tests load the whole file as `expected`; what they read from it
REFERENCE = re.compile(r"\bexpected((?:\.\w+)+)")
# Groovy methods called on a value read from the file, not keys
GROOVY_METHODS = {"keySet", "size", "each", "collect", "values", "toSorted", "subMap"}


def stored() -> dict:
    return json.loads(EXPECTED.read_text())


@pytest.mark.slow
def test_file_holds_what_the_commands_write() -> None:
    found = nf_test_expected.compute()

    differences = nf_test_expected.differences(stored(), found)
    assert not differences, "\n".join([*differences, REWRITE])


def test_file_is_written_as_the_script_writes_it() -> None:
    # Sorted keys, indent 2, trailing newline: a rewrite shows only real changes
    assert EXPECTED.read_text() == nf_test_expected.render(stored()), REWRITE


def test_pipeline_tests_find_their_keys() -> None:
    values = stored()
    for section, keys in PIPELINE_KEYS.items():
        assert set(values[section]) == keys, section
    predict = values["pipeline_predict"]
    assert len(predict["sequence_calls"]) == predict["sequences"]
    assert set(predict["viral_sequences"]) == {
        sequence for sequence, call in predict["sequence_calls"].items() if call == "virus"
    }


def test_module_tests_read_only_keys_the_file_has() -> None:
    values = stored()
    tests = sorted(ROOT.glob("modules/local/*/tests/*.nf.test"))
    tests += sorted(ROOT.glob("subworkflows/local/*/tests/*.nf.test"))
    missing = []
    for test in tests:
        for reference in REFERENCE.finditer(test.read_text()):
            value = values
            for key in reference.group(1).lstrip(".").split("."):
                if isinstance(value, dict) and key in value:
                    value = value[key]
                elif key not in GROOVY_METHODS:
                    missing.append(f"{test.relative_to(ROOT)}: expected{reference.group(1)}")
                    break
    assert not missing, "\n".join(missing)


def test_differences_name_the_keys_that_changed() -> None:
    old = {"a": {"md5": "x", "rows": 3}, "b": 1}
    new = {"a": {"md5": "y", "rows": 3}, "c": 2}

    assert nf_test_expected.differences(old, new) == [
        "a.md5: the file has 'x', the commands give 'y'",
        "b: the file has 1, the commands give None",
        "c: the file has None, the commands give 2",
    ]


@pytest.mark.parametrize("profile", ["test", "test_compare"])
def test_the_generator_uses_the_test_profiles_sharding(profile):
    """The pipeline values are computed with the profiles' own shard settings."""
    config = (ROOT / "conf" / f"{profile}.config").read_text()
    found = {
        name: int(value)
        for name, value in re.findall(
            r"^\s*(frames_per_shard|shards_per_task)\s*=\s*(\d+)", config, re.M
        )
    }
    assert found == {
        "frames_per_shard": nf_test_expected.FRAMES_PER_SHARD,
        "shards_per_task": nf_test_expected.SHARDS_PER_TASK,
    }
