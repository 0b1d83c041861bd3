"""Content digests: what ties an output to the sequences, frames and model it was made from."""

from __future__ import annotations

import hashlib
import shutil

from conftest import ROOT

from virnucpro.files.digests import (
    RecordsDigest,
    folder_digest,
    ids_digest,
    records_digest,
    sequence_digest,
)

TINY_ESM = ROOT / "assets" / "models" / "tiny_esm2"


def test_a_sequence_digest_is_the_sha256_of_its_uppercase_bases():
    assert sequence_digest("acgT") == hashlib.sha256(b"ACGT").hexdigest()
    assert sequence_digest("ACGT") != sequence_digest("ACGA")


def test_a_records_digest_depends_on_ids_and_letters_not_on_order():
    records = [("a_chunk_1F1", "ATG"), ("b_chunk_1R1", "GGC")]
    digest = records_digest(records)
    assert records_digest(records[::-1]) == digest
    assert records_digest([("a_chunk_1F1", "atg"), records[1]]) == digest  # case is not content
    assert records_digest([("a_chunk_1F1", "ATC"), records[1]]) != digest
    assert records_digest([("a_chunk_1F2", "ATG"), records[1]]) != digest
    assert records_digest(records[:1]) != digest
    # the sum of each line's SHA-256 modulo 2**256, as a streaming reader adds it up
    lines = [hashlib.sha256(f"{i}\t{s}\n".encode()).digest() for i, s in records]
    assert int(digest, 16) == sum(int.from_bytes(line, "big") for line in lines) % (1 << 256)
    streamed = RecordsDigest()
    for record in records:
        streamed.add(*record)
    assert streamed.hexdigest() == digest


def test_an_ids_digest_is_the_sha256_of_the_ids_one_per_line():
    assert ids_digest(["a", "b"]) == hashlib.sha256(b"a\nb").hexdigest()


def test_a_model_folder_digest_is_its_weights_config_and_vocabulary(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(TINY_ESM, copy)
    digest = folder_digest(TINY_ESM, [TINY_ESM / "model.safetensors"])
    assert folder_digest(copy, [copy / "model.safetensors"]) == digest
    (copy / "README.md").write_text("notes")
    (copy / ".cache").mkdir()
    (copy / ".cache" / "x.json").write_text("{}")
    # documentation and hidden files are not the model
    assert folder_digest(copy, [copy / "model.safetensors"]) == digest
    shutil.copy(copy / "model.safetensors", copy / "pytorch_model.bin")
    assert folder_digest(copy, [copy / "model.safetensors"]) == digest  # not read: not the model
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert folder_digest(copy, [copy / "model.safetensors"]) != digest


def test_a_cached_model_is_known_by_its_blob_names_and_equals_a_plain_copy(tmp_path):
    """A Hugging Face cache links each large file to a blob named by its SHA-256: the digest
    reads the name instead of 11 GB, and a plain copy of the same files gives the same."""
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / ("0" * 40)
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    for file in TINY_ESM.iterdir():
        data = file.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(blob)
    digest = folder_digest(snapshot, [snapshot / "model.safetensors"])
    assert digest == folder_digest(TINY_ESM, [TINY_ESM / "model.safetensors"])
    (snapshot / "model.safetensors").resolve().write_bytes(b"not read: its name is its content")
    assert folder_digest(snapshot, [snapshot / "model.safetensors"]) == digest
