"""Importing the original VirNucPro ``*_model.pth``: genuine files convert, hostile ones run nothing."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import sys
import tarfile
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.fx.graph_module
from conftest import run_script
from torch import nn

from virnucpro.classify.classifier import load_classifier
from virnucpro.classify.legacy import convert_legacy_model
from virnucpro.errors import InputError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch/serialization.py
FORMATS = ("zip", "legacy")


def _original_class(monkeypatch, module_name: str) -> type[nn.Module]:
    """The original tool's class layout, importable as ``<module_name>.MLPClassifier``."""

    class MLPClassifier(nn.Module):
        def __init__(self, input_dim: int, hidden_dim: int, num_class: int) -> None:
            super().__init__()
            self.hidden_layer = nn.Linear(input_dim, hidden_dim)
            self.batch_norm = nn.BatchNorm1d(hidden_dim)
            self.relu = nn.ReLU()
            self.dropout = nn.Dropout(0.5)
            self.output_layer = nn.Linear(hidden_dim, num_class)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.output_layer(self.dropout(self.relu(self.batch_norm(self.hidden_layer(x)))))

    MLPClassifier.__module__ = module_name
    MLPClassifier.__qualname__ = "MLPClassifier"
    if module_name in sys.modules:
        monkeypatch.setattr(sys.modules[module_name], "MLPClassifier", MLPClassifier, raising=False)
    else:
        module = types.ModuleType(module_name)
        module.MLPClassifier = MLPClassifier  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module_name, module)
    return MLPClassifier


def _save(obj: object, path: Path, fmt: str = "zip") -> Path:
    with warnings.catch_warnings():  # the legacy format warns it cannot find the class source
        warnings.simplefilter("ignore")
        torch.save(obj, path, _use_new_zipfile_serialization=fmt == "zip")
    return path


def _original(monkeypatch, module_name="__main__", dims=(3328, 512, 2), seed=3) -> nn.Module:
    torch.manual_seed(seed)
    model = _original_class(monkeypatch, module_name)(*dims)
    model.batch_norm.running_mean.uniform_(-1, 1)
    model.batch_norm.running_var.uniform_(0.5, 2)
    model.batch_norm.num_batches_tracked.fill_(7)
    return model.eval()


def _convert(tmp_path: Path, source: Path, out: str = "out") -> None:
    convert_legacy_model(source, tmp_path / out, 300)


def _run(tmp_path: Path, source: Path, out: Path):
    return run_script(
        "convert_legacy_model.py",
        "--input", source, "--output-dir", out, "--chunk-size", "300",
        cwd=tmp_path,
    )  # fmt: skip


def _assert_refused(tmp_path: Path, source: Path, out: Path) -> str:
    """The real command fails with exit 1 and one ``error:`` line; returns that line."""
    result = _run(tmp_path, source, out)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))}


def _torch_zip(path: Path, data_pkl: bytes, storages: dict[str, bytes] | None = None) -> Path:
    """A zip laid out as torch.save writes it, around a hand-made ``data.pkl``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", sys.byteorder)
        for key, raw in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", raw)
        archive.writestr("archive/version", "3\n")
    return path


def _legacy_header() -> bytes:
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}
    return b"".join(pickle.dumps(value, protocol=2) for value in (MAGIC_NUMBER, 1001, sys_info))


def _global_call(module: str, name: str, *args: str) -> bytes:
    """A pickle calling ``module.name(*args)`` (GLOBAL + REDUCE)."""
    arguments = b"".join(pickle.dumps(arg, protocol=2)[2:-1] for arg in args)
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(" + arguments + b"tR."


# ----------------------------------------------------------------------------- genuine files


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("module_name", ["__main__", "units"])
def test_legacy_model_is_converted_with_identical_outputs(tmp_path, monkeypatch, module_name, fmt):
    original = _original(monkeypatch, module_name)
    source = _save(original, tmp_path / "300_model.pth", fmt)
    assert f"{module_name}\nMLPClassifier\n".encode() in source.read_bytes()  # as pickled
    classifier = convert_legacy_model(source, tmp_path / "converted", 300)
    loaded = load_classifier(tmp_path / "converted")
    inputs = torch.randn(8, 3328)
    with torch.inference_mode():
        expected = torch.softmax(original(inputs), dim=1).numpy()
    np.testing.assert_array_equal(loaded.scores(inputs.numpy()), expected)
    assert loaded.embedders == {"dna": "dnabert_s", "protein": "esm2_3b"}
    assert loaded.chunk_size == 300 and loaded.model.dropout.p == 0.5
    assert int(loaded.model.norm.num_batches_tracked) == 7
    legacy = classifier.details["legacy"]
    assert legacy["source"] == "300_model.pth"
    assert legacy["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()


def test_legacy_model_in_a_sequential_from_the_command_line(tmp_path, monkeypatch):
    torch.manual_seed(5)
    original = nn.Sequential(
        nn.Linear(3328, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.25), nn.Linear(64, 2)
    ).eval()
    source = _save(original, tmp_path / "500_model.pth", "legacy")
    result = _run(tmp_path, source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    loaded = load_classifier(tmp_path / "out")
    inputs = torch.randn(4, 3328)
    with torch.inference_mode():
        expected = torch.softmax(original(inputs), dim=1).numpy()
    np.testing.assert_array_equal(loaded.scores(inputs.numpy()), expected)
    assert loaded.model.dropout.p == 0.25 and loaded.model.hidden.out_features == 64


# ----------------------------------------------------------------------------- hostile files


class _System:
    """Unpickles to ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _ExecWithSource:
    """Unpickles to ``torch.fx.graph_module._exec_with_source(source, {})``: a torch.* callable."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return (torch.fx.graph_module._exec_with_source, (self.source, {}))


class _EvalToMagic:
    """Unpickles to ``eval(...)``: runs a command, then gives torch's magic number."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (eval, (f"__import__('os').system({self.command!r}) or {MAGIC_NUMBER}",))


def _plain_pickle(tmp_path, monkeypatch, marker: Path) -> Path:
    """1. a plain pickle calling os.system: torch's legacy reader loads it with pickle.load."""
    path = tmp_path / "300_model.pth"
    path.write_bytes(pickle.dumps(_System(f"touch {marker}"), protocol=2))
    return path


def _torch_callable_in_zip(tmp_path, monkeypatch, marker: Path) -> Path:
    """2. a torch.save zip whose pickle calls a callable under torch.*."""
    return _save(_ExecWithSource(f"open({str(marker)!r}, 'w').close()"), tmp_path / "300_model.pth")


def _legacy_magic_runs_code(tmp_path, monkeypatch, marker: Path) -> Path:
    """3. a genuine legacy-format model whose first pickle runs code, then gives the magic number."""
    genuine = io.BytesIO(
        _save(_original(monkeypatch), tmp_path / "genuine.pth", "legacy").read_bytes()
    )
    pickle.load(genuine)  # the test's own file: skip the genuine magic number pickle
    path = tmp_path / "300_model.pth"
    path.write_bytes(pickle.dumps(_EvalToMagic(f"touch {marker}"), protocol=2) + genuine.read())
    return path


HOSTILE = {
    "plain_pickle_os_system": (_plain_pickle, "refusing to load posix.system from a model file"),
    "zip_torch_fx_exec": (
        _torch_callable_in_zip,
        "refusing to load torch.fx.graph_module._exec_with_source from a model file",
    ),
    "legacy_magic_number_eval": (
        _legacy_magic_runs_code,
        "refusing to load __builtin__.eval from a model file",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_model_files_run_no_code(tmp_path, monkeypatch, case):
    write, refusal = HOSTILE[case]
    marker = tmp_path / "MARKER"
    source = write(tmp_path, monkeypatch, marker)
    out = tmp_path / "out"
    line = _assert_refused(tmp_path, source, out)
    assert not marker.exists()
    assert line == f"error: {source}: {refusal}"
    assert not out.exists()


def test_hostile_legacy_file_leaves_an_earlier_checkpoint_unchanged(tmp_path, monkeypatch):
    out = tmp_path / "out"
    result = _run(tmp_path, _save(_original(monkeypatch), tmp_path / "good.pth", "legacy"), out)
    assert result.returncode == 0, result.stderr
    before = _snapshot(out)
    marker = tmp_path / "MARKER"
    source = _legacy_magic_runs_code(tmp_path, monkeypatch, marker)
    assert "refusing to load __builtin__.eval" in _assert_refused(tmp_path, source, out)
    assert not marker.exists()
    assert _snapshot(out) == before


# ----------------------------------------------------------------------------- other refusals


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch._C", "_set_grad_enabled"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch.storage", "_load_from_bytes"),
        ("torch", "UntypedStorage"),
        ("builtins", "exec"),
        ("torch.nn.modules.module", "Module"),
    ],
)
def test_other_globals_are_refused(tmp_path, module, name):
    source = _torch_zip(tmp_path / "m.pth", _global_call(module, name, "x"))
    with pytest.raises(InputError, match=f"^{source}: refusing to load {module}.{name} from"):
        _convert(tmp_path, source)
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(_legacy_header() + _global_call(module, name, "x"))
    with pytest.raises(InputError, match=f"refusing to load {module}.{name} from a model file"):
        _convert(tmp_path, legacy)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files_are_refused(tmp_path, monkeypatch, fmt):
    data = _save(_original(monkeypatch), tmp_path / "good.pth", fmt).read_bytes()
    for cut, expected in [
        (len(data) // 2, "truncated" if fmt == "legacy" else "truncated or corrupt zip archive"),
        (len(data) - 1, "truncated" if fmt == "legacy" else "truncated or corrupt zip archive"),
        (40, "not an original VirNucPro model file" if fmt == "legacy" else "zip archive"),
    ]:
        (tmp_path / "cut.pth").write_bytes(data[:cut])
        with pytest.raises(InputError, match=expected):
            _convert(tmp_path, tmp_path / "cut.pth")
    assert not (tmp_path / "out").exists()


def test_trailing_bytes_after_a_legacy_file_are_refused(tmp_path, monkeypatch):
    data = _save(_original(monkeypatch), tmp_path / "good.pth", "legacy").read_bytes()
    (tmp_path / "long.pth").write_bytes(data + b"\0")
    with pytest.raises(InputError, match="1 unexpected bytes after the storages"):
        _convert(tmp_path, tmp_path / "long.pth")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"weight": torch.zeros(2)}, "holds a dict, not a pickled MLPClassifier module"),
        (torch.zeros(3), "holds a tensor, not a pickled MLPClassifier module"),
        (
            collections.OrderedDict(w=torch.zeros(2)),
            "holds an OrderedDict, not a pickled MLPClassifier module",
        ),
        (nn.Linear(3328, 2), "expected Linear, BatchNorm1d, Linear layers, found Linear$"),
    ],
)
def test_other_objects_are_refused(tmp_path, fmt, obj, expected):
    source = _save(obj, tmp_path / "m.pth", fmt)
    with pytest.raises(InputError, match=expected):
        _convert(tmp_path, source)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("dims", "expected"),
    [
        ((1280 + 768, 512, 2), "a 2048 -> 2 classifier, expected 3328 -> 2"),
        ((3328, 512, 3), "a 3328 -> 3 classifier, expected 3328 -> 2"),
    ],
)
def test_other_shapes_are_refused(tmp_path, monkeypatch, fmt, dims, expected):
    source = _save(_original(monkeypatch, "units", dims), tmp_path / "small.pth", fmt)
    with pytest.raises(InputError, match=expected):
        _convert(tmp_path, source)
    assert not (tmp_path / "out").exists()


def test_layers_that_do_not_chain_are_refused(tmp_path, monkeypatch):
    original = _original(monkeypatch, "units", (3328, 64, 2))
    original.batch_norm = nn.BatchNorm1d(32)
    with pytest.raises(InputError, match="do not chain"):
        _convert(tmp_path, _save(original, tmp_path / "m.pth"))


def _rewrite_zip(source: Path, target: Path, drop: str = "", replace: dict | None = None) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename.endswith(drop) and drop:
                continue
            data = (replace or {}).get(info.filename.split("/", 1)[1], old.read(info))
            new.writestr(info.filename, data)
    return target


def test_missing_and_wrong_sized_storages_are_refused(tmp_path, monkeypatch):
    genuine = _save(_original(monkeypatch), tmp_path / "good.pth")
    missing = _rewrite_zip(genuine, tmp_path / "missing.pth", drop="/data/1")
    with pytest.raises(InputError, match="storage 1 is missing from the archive"):
        _convert(tmp_path, missing)
    short = _rewrite_zip(genuine, tmp_path / "short.pth", replace={"data/0": b"\0" * 12})
    with pytest.raises(InputError, match="storage 0 holds 12 bytes, expected 1703936 x 4 bytes"):
        _convert(tmp_path, short)
    no_pickle = _rewrite_zip(genuine, tmp_path / "no_pickle.pth", drop="/data.pkl")
    with pytest.raises(InputError, match=r"a zip archive without data\.pkl"):
        _convert(tmp_path, no_pickle)
    assert not (tmp_path / "out").exists()


class _FakeStorage:
    pass


STORAGE = _FakeStorage()


class _Tensor:
    def __init__(self, *args: object) -> None:
        self.args = args

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (STORAGE, *self.args))


def _tensor_pickle(*args: object, storage_id=("storage", torch.FloatStorage, "0", "cpu", 4)):
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return storage_id if obj is STORAGE else None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(_Tensor(*args))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, (2,), (4,), False, collections.OrderedDict()), "beyond the 4 elements of storage 0"),
        ((0, (5,), (1,), False, collections.OrderedDict()), "larger than storage 0"),
        ((3, (2,), (1,), False, collections.OrderedDict()), "beyond the 4 elements"),
        ((9, (1,), (1,), False, collections.OrderedDict()), "a tensor at offset 9 of storage 0"),
        ((0, (-1,), (1,), False, collections.OrderedDict()), r"a tensor shape \(-1,\)"),
        ((0, (2,), (1, 1), False, collections.OrderedDict()), "with strides"),
        ((0, (1 << 50,), (0,), False, collections.OrderedDict()), "a tensor shape"),
        ((0, (2,), (1,), 1, collections.OrderedDict()), "requires_grad is not a bool"),
        ((0, (2,), (1,), False, collections.OrderedDict(a=1)), "backward hooks"),
        ((0, (2,), (1,), False, collections.OrderedDict(), {"x": 1}), "extra metadata"),
        ((0.5, (2,), (1,), False, collections.OrderedDict()), "a tensor at offset 0.5"),
    ],
)
def test_bad_tensors_are_refused(tmp_path, args, expected):
    source = _torch_zip(tmp_path / "m.pth", _tensor_pickle(*args), {"0": b"\0" * 16})
    with pytest.raises(InputError, match=expected):
        _convert(tmp_path, source)


@pytest.mark.parametrize(
    ("storage_id", "expected"),
    [
        (("storage", torch.FloatStorage, "../0", "cpu", 4), "a storage key"),
        (("storage", torch.FloatStorage, "0", "cpu", -4), "storage 0 of -4 elements"),
        (("storage", torch.FloatStorage, "0", "cpu"), "a persistent id storage of 4 fields"),
        (("module", torch.FloatStorage, "", ""), "a persistent id module of 4 fields"),
        ("0", "a persistent id that is not a tuple"),
    ],
)
def test_bad_storage_references_are_refused(tmp_path, storage_id, expected):
    data_pkl = _tensor_pickle(
        0, (2,), (1,), False, collections.OrderedDict(), storage_id=storage_id
    )
    source = _torch_zip(tmp_path / "m.pth", data_pkl, {"0": b"\0" * 16})
    with pytest.raises(InputError, match=expected):
        _convert(tmp_path, source)


def test_files_that_are_not_torch_save_files_are_refused(tmp_path):
    (tmp_path / "text.pth").write_text("hello\n")
    with pytest.raises(InputError, match="not an original VirNucPro model file"):
        _convert(tmp_path, tmp_path / "text.pth")
    (tmp_path / "int.pth").write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(InputError, match="wrong magic number"):
        _convert(tmp_path, tmp_path / "int.pth")
    (tmp_path / "protocol.pth").write_bytes(pickle.dumps(MAGIC_NUMBER) + pickle.dumps(1000))
    with pytest.raises(InputError, match="protocol version 1000, expected 1001"):
        _convert(tmp_path, tmp_path / "protocol.pth")
    with tarfile.open(tmp_path / "old.pth", "w") as archive:
        archive.add(tmp_path / "text.pth", arcname="pickle")
    with pytest.raises(InputError, match="old tar format"):
        _convert(tmp_path, tmp_path / "old.pth")
    with pytest.raises(InputError, match="no such model file"):
        _convert(tmp_path, tmp_path / "absent.pth")
    assert not (tmp_path / "out").exists()
