"""The one checkpoint reader: config.json, the four weight layouts, streaming, refusals."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from virnucpro.embed import checkpoints
from virnucpro.embed.checkpoints import iter_tensors, read_config, to_target, weight_files
from virnucpro.embed.embedders.dnabert_s import load_dnabert_s
from virnucpro.embed.embedders.esm import load_esm
from virnucpro.errors import InputError
from virnucpro.testing import write_random_checkpoint

CPU = torch.device("cpu")


def tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "a.weight": torch.randn(4, 3, generator=generator),
        "b.bias": torch.randn(5, generator=generator),
        "c.position_ids": torch.arange(7).unsqueeze(0),
        "d.weight": torch.randn(2, 2, generator=generator).to(torch.float16),
    }


def write_layout(folder: Path, layout: str, state: dict[str, torch.Tensor]) -> Path:
    """``state`` in one of the four layouts (shards split in two, with an index)."""
    folder.mkdir(parents=True)
    names = sorted(state)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    if layout == "safetensors":
        save_file(state, str(folder / "model.safetensors"))
    elif layout == "bin":
        torch.save(state, folder / "pytorch_model.bin")
    else:
        stem, suffix = (
            ("model", "safetensors")
            if layout == "sharded_safetensors"
            else ("pytorch_model", "bin")
        )
        weight_map = {}
        for k, half in enumerate(halves, start=1):
            file = f"{stem}-{k:05d}-of-00002.{suffix}"
            part = {name: state[name] for name in half}
            save_file(part, str(folder / file)) if suffix == "safetensors" else torch.save(
                part, folder / file
            )
            weight_map |= dict.fromkeys(half, file)
        index = {"metadata": {}, "weight_map": weight_map}
        (folder / f"{stem}.{suffix}.index.json").write_text(json.dumps(index))
    return folder


LAYOUTS = ["safetensors", "sharded_safetensors", "bin", "sharded_bin"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_every_tensor_with_its_dtype(tmp_path, layout):
    state = tensors()
    folder = write_layout(tmp_path / layout, layout, state)
    files = weight_files(folder)
    assert len(files) == (2 if layout.startswith("sharded") else 1)
    read = dict(iter_tensors(files))
    assert read.keys() == state.keys()
    for name, tensor in state.items():
        assert read[name].dtype == tensor.dtype and torch.equal(read[name], tensor), name


def test_safetensors_come_before_pickles(tmp_path):
    folder = write_layout(tmp_path / "both", "bin", tensors())
    save_file({"only.here": torch.zeros(1)}, str(folder / "model.safetensors"))
    assert weight_files(folder) == [folder / "model.safetensors"]
    sharded = write_layout(tmp_path / "sharded", "sharded_safetensors", tensors())
    torch.save(tensors(), sharded / "pytorch_model.bin")
    assert all(file.suffix == ".safetensors" for file in weight_files(sharded))


def test_a_missing_shard_is_named(tmp_path):
    folder = write_layout(tmp_path / "m", "sharded_bin", tensors())
    (folder / "pytorch_model-00002-of-00002.bin").unlink()
    with pytest.raises(
        InputError, match=r"missing weight shards pytorch_model-00002-of-00002\.bin"
    ):
        weight_files(folder)
    (folder / "pytorch_model.bin.index.json").write_text("{not json")
    with pytest.raises(InputError, match=r"pytorch_model\.bin\.index\.json: unreadable index"):
        weight_files(folder)
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {"x": "../y"}}))
    with pytest.raises(InputError, match="unreadable index"):
        weight_files(folder)


def test_no_weights_and_bad_configs_are_one_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="model folder not found"):
        read_config(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"not a model folder \(no config\.json\)"):
        read_config(tmp_path)
    with pytest.raises(
        InputError, match=r"no weights file found \(no model\.safetensors or pytorch_model\.bin"
    ):
        weight_files(tmp_path)
    config = tmp_path / "config.json"
    for text, message in (("[1, 2]", "not a JSON object"), ("{", "unreadable config")):
        config.write_text(text)
        with pytest.raises(InputError, match=message) as error:
            read_config(tmp_path)
        assert str(config) in str(error.value)
    config.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputError, match="unreadable config"):
        read_config(tmp_path)


class _RunsCode:
    """Unpickling this would call print: a weights_only load must refuse it."""

    def __reduce__(self):
        return (print, ("this ran",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_pickles_that_run_code_or_hold_other_things_are_refused(tmp_path, capsys, zip_format):
    hostile = tmp_path / "pytorch_model.bin"
    torch.save({"a": _RunsCode()}, hostile, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(InputError, match=r"pytorch_model\.bin: unreadable weights"):
        list(iter_tensors([hostile]))
    assert "this ran" not in capsys.readouterr().out
    torch.save([torch.zeros(2)], hostile, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(InputError, match="not a state dict of tensors"):
        list(iter_tensors([hostile]))
    hostile.write_bytes(b"garbage" * 10)
    with pytest.raises(InputError, match="unreadable weights"):
        list(iter_tensors([hostile]))
    truncated = tmp_path / "model.safetensors"
    save_file(tensors(), str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(InputError, match=r"model\.safetensors: unreadable weights"):
        list(iter_tensors([truncated]))


def test_legacy_pickles_are_read_whole_and_logged(tmp_path, caplog):
    legacy = tmp_path / "pytorch_model.bin"
    torch.save(tensors(), legacy, _use_new_zipfile_serialization=False)
    with caplog.at_level(logging.INFO, logger="virnucpro.embed.checkpoints"):
        read = dict(iter_tensors([legacy]))
    assert "legacy (non-zip) torch.save format" in caplog.text
    assert all(torch.equal(read[name], tensor) for name, tensor in tensors().items())


@pytest.mark.parametrize(
    ("layout", "opener"),
    [("bin", (checkpoints.torch, "load")), ("safetensors", (checkpoints, "safe_open"))],
)
def test_files_are_mapped_again_as_they_are_read(tmp_path, monkeypatch, layout, opener):
    # With a 1-byte window every tensor comes from a fresh mapping of its file.
    state = tensors()
    folder = write_layout(tmp_path / layout, layout, state)
    owner, attribute = opener
    real = getattr(owner, attribute)
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs.get("mmap", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "_WINDOW_BYTES", 1)
    monkeypatch.setattr(owner, attribute, counting)
    read = dict(iter_tensors(weight_files(folder)))
    assert all(torch.equal(read[name], tensor) for name, tensor in state.items())
    assert calls == [True] * len(state)  # one opening per tensor, always memory-mapped


def test_to_target_casts_floats_keeps_ints_and_always_copies():
    weight, positions = torch.randn(3), torch.arange(4)
    cast = to_target(weight, CPU, torch.bfloat16)
    assert cast.dtype == torch.bfloat16
    kept = to_target(positions, CPU, torch.bfloat16)
    assert kept.dtype == torch.int64 and torch.equal(kept, positions)
    same = to_target(weight, CPU, torch.float32)
    assert torch.equal(same, weight) and same.data_ptr() != weight.data_ptr()


@pytest.mark.parametrize(
    ("name", "loader"),
    [("esm2_3b", load_esm), ("fastesm2_650", load_esm), ("dnabert_s", load_dnabert_s)],
)
def test_models_load_straight_into_the_target_dtype(tmp_path, name, loader):
    folder = write_random_checkpoint(name, tmp_path / name, "tiny", seed=2)
    encoder = loader(folder, CPU, torch.bfloat16)
    model = encoder.model
    for key, tensor in [*model.named_parameters(), *model.named_buffers()]:
        assert tensor.device.type == "cpu", key  # nothing left on the meta device
        if key.endswith("inv_freq"):
            assert tensor.dtype == torch.float32
        elif tensor.is_floating_point():
            assert tensor.dtype == torch.bfloat16, key
