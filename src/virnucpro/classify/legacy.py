"""Importing the original tool's ``300_model.pth`` / ``500_model.pth`` classifiers.

Those files are whole pickled ``MLPClassifier`` modules (3328 inputs: DNABERT-S
768 + ESM2-3B 2560) written by ``torch.save``. They are read without
``torch.load``: every pickle stream of the file goes through one restricted
unpickler whose ``find_class`` admits an explicit list of exact globals only:

* ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter``, mapped to this
  module's own functions, which check their arguments (ints, a shape and
  strides that stay within the storage) and record the tensor;
* the typed storage names (``torch.FloatStorage``, ...), mapped to dtypes;
* ``collections.OrderedDict`` and ``builtins.set``;
* ``Linear``, ``BatchNorm1d``, ``ReLU``, ``Dropout``, ``Sequential`` (under
  ``torch.nn.modules``) and ``MLPClassifier`` from any module, mapped to inert
  stand-ins that only keep their pickled state: no module code runs.

Any other global (``posix.system``, ``torch.load``, anything else under
``torch``) is refused before it is called. Both of ``torch.save``'s formats are
read: the zip archive (``<prefix>/data.pkl``, storages in ``<prefix>/data/<key>``,
optional ``<prefix>/byteorder``) and the legacy stream (magic number, protocol
version and system information pickles, the object pickle, the list of storage
keys, then each storage's element count and little-endian bytes). The layers
are then taken by type and order (Linear, BatchNorm1d, Linear) into a
virnucpro ``MLPClassifier``. Every refusal is an ``InputError`` naming the file.
"""

from __future__ import annotations

import collections
import hashlib
import io
import logging
import math
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from virnucpro.classify.classifier import Classifier, MLPClassifier
from virnucpro.errors import InputError
from virnucpro.preprocess.chunking import check_chunk_size

log = logging.getLogger(__name__)

LEGACY_EMBEDDERS = {"dna": "dnabert_s", "protein": "esm2_3b"}
LEGACY_DIMENSIONS = {"dna": 768, "protein": 2560}

# torch/serialization.py: the legacy (non-zip) stream starts with these two pickles.
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
# The original files are ~7 MB; anything this large is not one of them.
_MAX_FILE_BYTES = 1 << 30
_MAX_DIMENSIONS = 8
_BATCH_NORM_EPS = 1e-5  # what virnucpro's MLPClassifier uses (nn.BatchNorm1d's default)

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
}


class _Refused(Exception):
    """What the reader will not load; the message does not name the file."""


def _shown(text: object) -> str:
    """``text`` fit for a one-line message."""
    text = str(text)
    if text.isprintable() and len(text) <= 120:
        return text
    return ascii(text[:120])


# ----------------------------------------------------------------------------- stand-ins


class _StandIn:
    """Inert stand-in for a pickled module class: keeps the pickled state, nothing else."""

    kind = "module"
    state: dict[str, Any]

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, dict):
            raise _Refused(f"a {self.kind} whose pickled state is a {type(state).__name__}")
        object.__setattr__(self, "state", state)


class _Linear(_StandIn):
    kind = "Linear"


class _BatchNorm1d(_StandIn):
    kind = "BatchNorm1d"


class _ReLU(_StandIn):
    kind = "ReLU"


class _Dropout(_StandIn):
    kind = "Dropout"


class _Sequential(_StandIn):
    kind = "Sequential"


class _PickledClassifier(_StandIn):
    """The original ``MLPClassifier``, whatever module it was saved from."""

    kind = "MLPClassifier"


_MODULE_CLASSES: dict[tuple[str, str], type[_StandIn]] = {
    ("torch.nn.modules.linear", "Linear"): _Linear,
    ("torch.nn.modules.batchnorm", "BatchNorm1d"): _BatchNorm1d,
    ("torch.nn.modules.activation", "ReLU"): _ReLU,
    ("torch.nn.modules.dropout", "Dropout"): _Dropout,
    ("torch.nn.modules.container", "Sequential"): _Sequential,
}
_SETS = {("builtins", "set"), ("__builtin__", "set")}  # protocol 2 writes __builtin__


class _StorageType(NamedTuple):
    """What ``torch.FloatStorage`` & co. unpickle to: a name and a dtype, not callable."""

    name: str
    dtype: torch.dtype


class _StorageRef(NamedTuple):
    key: str
    dtype: torch.dtype
    numel: int


class _TensorRecord(NamedTuple):
    """A tensor as pickled: built from its storage once the storages are read."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


# ----------------------------------------------------------------------------- unpickling


def _integers(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > _MAX_DIMENSIONS:
        raise _Refused(f"a tensor {what} that is not a tuple of at most {_MAX_DIMENSIONS} ints")
    if not all(type(item) is int and 0 <= item < 1 << 40 for item in value):
        raise _Refused(f"a tensor {what} {_shown(value)}")
    return value


def _no_hooks(hooks: object) -> None:
    if not isinstance(hooks, dict) or hooks:
        raise _Refused("a tensor with backward hooks")


def _rebuild_tensor(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object,
    backward_hooks: object,
    metadata: object = None,
) -> _TensorRecord:
    """Stands for ``torch._utils._rebuild_tensor_v2``: checks and records, builds nothing."""
    if not isinstance(storage, _StorageRef):
        raise _Refused("a tensor whose storage is not a storage reference")
    if type(storage_offset) is not int or not 0 <= storage_offset <= storage.numel:
        raise _Refused(f"a tensor at offset {_shown(storage_offset)} of storage {storage.key}")
    shape = _integers(size, "shape")
    strides = _integers(stride, "stride")
    if len(shape) != len(strides):
        raise _Refused(f"a tensor of shape {shape} with strides {strides}")
    if type(requires_grad) is not bool:
        raise _Refused("a tensor whose requires_grad is not a bool")
    _no_hooks(backward_hooks)
    if metadata is not None:
        raise _Refused("a tensor with extra metadata")
    if math.prod(shape) > storage.numel:
        raise _Refused(f"a tensor of shape {shape} larger than storage {storage.key}")
    if math.prod(shape) > 0:
        last = storage_offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
        if last >= storage.numel:
            raise _Refused(
                f"a tensor of shape {shape} beyond the {storage.numel} elements of storage {storage.key}"
            )
    return _TensorRecord(storage, storage_offset, shape, strides)


def _rebuild_parameter(
    data: object, requires_grad: object, backward_hooks: object
) -> _TensorRecord:
    """Stands for ``torch._utils._rebuild_parameter``: a parameter is kept as its tensor."""
    if not isinstance(data, _TensorRecord):
        raise _Refused("a parameter that is not a tensor")
    if type(requires_grad) is not bool:
        raise _Refused("a parameter whose requires_grad is not a bool")
    _no_hooks(backward_hooks)
    return data


class _Storages:
    """The storages the object pickle references, by key, and then their contents."""

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy
        self.refs: dict[str, _StorageRef] = {}
        self.data: dict[str, torch.Tensor] = {}

    def reference(self, pid: object) -> object:
        """``persistent_load``: a storage reference, or (legacy stream) a module class."""
        if not isinstance(pid, tuple) or not pid:
            raise _Refused("a persistent id that is not a tuple")
        if pid[0] == "module" and self.legacy and len(pid) == 4:
            cls = pid[1]
            if not (isinstance(cls, type) and issubclass(cls, _StandIn)):
                raise _Refused("a module reference to something other than a module class")
            return cls
        if pid[0] != "storage" or len(pid) != (6 if self.legacy else 5):
            raise _Refused(f"a persistent id {_shown(pid[0])} of {len(pid)} fields")
        storage_type, key, location, numel = pid[1:5]
        if self.legacy and pid[5] is not None:
            raise _Refused("a storage view")
        if not isinstance(storage_type, _StorageType):
            raise _Refused("a storage whose type is not a typed storage name")
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 32):
            raise _Refused(f"a storage key {_shown(key)}")
        if not isinstance(location, str):
            raise _Refused(f"storage {key} with a location that is not a string")
        if type(numel) is not int or not 0 <= numel <= _MAX_FILE_BYTES:
            raise _Refused(f"storage {key} of {_shown(numel)} elements")
        ref = _StorageRef(key, storage_type.dtype, numel)
        if self.refs.setdefault(key, ref) != ref:
            raise _Refused(f"storage {key} referenced with two types or sizes")
        return ref

    def fill(self, key: str, raw: bytes, big_endian: bool = False) -> None:
        ref = self.refs[key]
        size = torch.empty((), dtype=ref.dtype).element_size()
        if len(raw) != ref.numel * size:
            raise _Refused(
                f"storage {key} holds {len(raw)} bytes, expected {ref.numel} x {size} bytes"
            )
        if big_endian and size > 1:
            raw = np.frombuffer(raw, dtype=np.uint8).reshape(-1, size)[:, ::-1].tobytes()
        self.data[key] = (
            torch.frombuffer(bytearray(raw), dtype=ref.dtype)
            if raw
            else torch.empty(0, dtype=ref.dtype)
        )

    def tensor(self, record: _TensorRecord) -> torch.Tensor:
        data = self.data[record.storage.key]
        return torch.as_strided(data, record.size, record.stride, record.offset).clone()


class _RestrictedUnpickler(pickle.Unpickler):
    """The one unpickler for every pickle of a model file: exact allowed globals only."""

    def __init__(self, data: io.BytesIO, storages: _Storages | None) -> None:
        super().__init__(data)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        # Bound methods, not the module's functions: a pickle cannot set attributes on them.
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return self._rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in _SETS:
            return set
        if (module, name) in _MODULE_CLASSES:
            return _MODULE_CLASSES[module, name]
        if name == "MLPClassifier":
            return _PickledClassifier
        raise _Refused(f"refusing to load {_shown(module)}.{_shown(name)} from a model file")

    def _rebuild_tensor_v2(self, *args: object) -> _TensorRecord:
        return _rebuild_tensor(*args)

    def _rebuild_parameter(self, *args: object) -> _TensorRecord:
        return _rebuild_parameter(*args)

    def persistent_load(self, pid: object) -> object:
        if self._storages is None:
            raise _Refused("a persistent id outside the object pickle")
        return self._storages.reference(pid)


def _unpickle(stream: io.BytesIO, storages: _Storages | None = None) -> object:
    return _RestrictedUnpickler(stream, storages).load()


def _check_entries(entries: list[zipfile.ZipInfo], file_bytes: int) -> None:
    """Refuse, from the zip directory alone, entries that would inflate when read.

    ``torch.save`` stores every entry uncompressed, so each entry's size is the size it
    takes in the file and together they fit in it; a compressed entry (a zip bomb: 2 MB
    that inflate to gigabytes) is refused before any entry is read.
    """
    compressed = [
        info.filename
        for info in entries
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size
    ]
    if compressed:
        raise _Refused(
            f"a zip archive with compressed entries ({_shown(', '.join(compressed[:3]))}"
            f"{' and more' if len(compressed) > 3 else ''}): torch.save stores every entry "
            "uncompressed"
        )
    declared = sum(info.file_size for info in entries)
    if declared > file_bytes:
        raise _Refused(
            f"zip entries declaring {declared} bytes in all, more than the {file_bytes}-byte "
            "file holds"
        )


def _read_zip(data: bytes) -> tuple[object, _Storages]:
    """``torch.save``'s zip format: ``<prefix>/data.pkl`` and ``<prefix>/data/<key>``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise _Refused(f"a truncated or corrupt zip archive ({_shown(error)})") from None
    _check_entries(archive.infolist(), len(data))
    prefixes = {name.split("/", 1)[0] for name in names}
    if len(prefixes) != 1 or not all("/" in name for name in names):
        raise _Refused("a zip archive that is not one torch.save folder")
    prefix = prefixes.pop()
    if f"{prefix}/data.pkl" not in names:
        raise _Refused("a zip archive without data.pkl")

    def read(name: str) -> bytes:
        info = archive.getinfo(name)
        if info.file_size > _MAX_FILE_BYTES:
            raise _Refused(f"a {info.file_size}-byte {name}")
        try:
            return archive.read(info)
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
            raise _Refused(f"a corrupt zip entry {_shown(name)} ({_shown(error)})") from None

    byteorder = read(f"{prefix}/byteorder") if f"{prefix}/byteorder" in names else b"little"
    if byteorder not in (b"little", b"big"):
        raise _Refused(f"byte order {_shown(byteorder)}")
    storages = _Storages(legacy=False)
    result = _unpickle(io.BytesIO(read(f"{prefix}/data.pkl")), storages)
    for key in storages.refs:
        name = f"{prefix}/data/{key}"
        if name not in names:
            raise _Refused(f"storage {key} is missing from the archive")
        storages.fill(key, read(name), big_endian=byteorder == b"big")
    return result, storages


def _read_legacy(data: bytes) -> tuple[object, _Storages]:
    """``torch.save``'s legacy stream (``_use_new_zipfile_serialization=False``)."""
    stream = io.BytesIO(data)
    magic = _unpickle(stream)
    if type(magic) is not int or magic != _MAGIC_NUMBER:
        raise _Refused("not a torch.save file (no zip archive, wrong magic number)")
    protocol = _unpickle(stream)
    if type(protocol) is not int or protocol != _PROTOCOL_VERSION:
        raise _Refused(f"torch.save protocol version {_shown(protocol)}, expected 1001")
    sys_info = _unpickle(stream)
    if not isinstance(sys_info, dict) or sys_info.get("protocol_version") != _PROTOCOL_VERSION:
        raise _Refused("a torch.save header without its system information")
    storages = _Storages(legacy=True)
    result = _unpickle(stream, storages)
    keys = _unpickle(stream)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise _Refused("a storage key list that is not a list of strings")
    if len(set(keys)) != len(keys) or set(keys) != set(storages.refs):
        raise _Refused(
            f"storage keys {_shown(sorted(keys))} that do not match the referenced storages"
        )
    for key in keys:
        header = stream.read(8)
        if len(header) != 8:
            raise _Refused(f"a file truncated before storage {key}")
        (numel,) = struct.unpack("<q", header)  # written little-endian by torch
        ref = storages.refs[key]
        if numel != ref.numel:
            raise _Refused(f"storage {key} of {numel} elements, referenced with {ref.numel}")
        size = ref.numel * torch.empty((), dtype=ref.dtype).element_size()
        if size > len(data) - stream.tell():
            raise _Refused(f"a file truncated in storage {key}")
        storages.fill(key, stream.read(size))
    if stream.tell() != len(data):
        raise _Refused(f"{len(data) - stream.tell()} unexpected bytes after the storages")
    return result, storages


def _read_model_file(data: bytes) -> tuple[object, _Storages]:
    if data.startswith(b"PK\x03\x04"):
        return _read_zip(data)
    if len(data) >= 262 and data[257:262] == b"ustar":
        raise _Refused("the old tar format of torch.save, which is not read")
    return _read_legacy(data)


# ----------------------------------------------------------------------------- layers


def _what(value: object) -> str:
    if isinstance(value, _TensorRecord):
        return "tensor"
    if isinstance(value, _StandIn):
        return value.kind
    return type(value).__name__


def _state(module: _StandIn) -> dict[str, Any]:
    """The pickled state of a stand-in (empty when the pickle gave it none)."""
    return getattr(module, "state", {})


def _modules(root: _StandIn) -> list[_StandIn]:
    """``root`` and its submodules in ``nn.Module.modules()`` order."""
    found: list[_StandIn] = []
    seen: set[int] = set()

    def visit(module: _StandIn, depth: int) -> None:
        if id(module) in seen or depth > 16:
            raise _Refused("modules nested in a cycle or too deep")
        seen.add(id(module))
        found.append(module)
        children = _state(module).get("_modules", {})
        if not isinstance(children, dict):
            raise _Refused(f"a {module.kind} whose submodules are a {_what(children)}")
        for child in children.values():
            if child is None:
                continue
            if not isinstance(child, _StandIn):
                raise _Refused(f"a {module.kind} holding a {_what(child)} as a submodule")
            visit(child, depth + 1)

    visit(root, 0)
    return found


def _tensors(
    module: _StandIn, storages: _Storages, group: str, names: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    state = _state(module)
    found = state.get(group, {})
    if not isinstance(found, dict):
        raise _Refused(f"a {module.kind} whose {group} are a {_what(found)}")
    tensors = {}
    for name in names:
        record = found.get(name)
        if not isinstance(record, _TensorRecord):
            raise _Refused(f"a {module.kind} whose {name} is a {_what(record)}, not a tensor")
        tensor = storages.tensor(record)
        if not tensor.is_floating_point():
            raise _Refused(f"a {module.kind} whose {name} is {tensor.dtype}")
        tensors[name] = tensor.to(torch.float32)
    return tensors


def _linear(module: _StandIn, storages: _Storages) -> dict[str, torch.Tensor]:
    tensors = _tensors(module, storages, "_parameters", ("weight", "bias"))
    weight, bias = tensors["weight"], tensors["bias"]
    if weight.dim() != 2 or bias.shape != weight.shape[:1]:
        raise _Refused(
            f"a Linear layer with weight {tuple(weight.shape)} and bias {tuple(bias.shape)}"
        )
    return tensors


def _batch_norm(module: _StandIn, storages: _Storages) -> dict[str, torch.Tensor]:
    tensors = {
        **_tensors(module, storages, "_parameters", ("weight", "bias")),
        **_tensors(module, storages, "_buffers", ("running_mean", "running_var")),
    }
    shapes = {tuple(tensor.shape) for tensor in tensors.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise _Refused(f"a BatchNorm1d layer with tensors of shapes {sorted(shapes)}")
    eps = _state(module).get("eps", _BATCH_NORM_EPS)
    if not isinstance(eps, float) or abs(eps - _BATCH_NORM_EPS) > 1e-12:
        raise _Refused(f"a BatchNorm1d layer with eps {_shown(eps)}, expected {_BATCH_NORM_EPS}")
    tracked = _state(module).get("_buffers", {}).get("num_batches_tracked")
    if isinstance(tracked, _TensorRecord):
        count = storages.tensor(tracked)
        if count.dim() != 0 or count.dtype != torch.int64:
            raise _Refused("a BatchNorm1d layer whose num_batches_tracked is not one integer")
        tensors["num_batches_tracked"] = count
    else:
        tensors["num_batches_tracked"] = torch.tensor(0)
    return tensors


def _dropout(modules: list[_StandIn]) -> float:
    dropout = next((module for module in modules if isinstance(module, _Dropout)), None)
    p = 0.5 if dropout is None else _state(dropout).get("p", 0.5)
    if not isinstance(p, float) or not 0.0 <= p < 1.0:
        raise _Refused(f"a Dropout layer with p {_shown(p)}")
    return p


def _build(pickled: object, storages: _Storages, source: Path) -> MLPClassifier:
    """The virnucpro MLP from the stand-ins: Linear, BatchNorm1d, Linear by type and order."""
    if not isinstance(pickled, _StandIn):
        what = _what(pickled)
        article = "an" if what[:1] in "AEIOUaeiou" else "a"
        raise InputError(f"{source}: holds {article} {what}, not a pickled MLPClassifier module")
    modules = _modules(pickled)
    layers = [module for module in modules if isinstance(module, _Linear | _BatchNorm1d)]
    kinds = [layer.kind for layer in layers]
    if kinds != ["Linear", "BatchNorm1d", "Linear"]:
        raise InputError(
            f"{source}: expected Linear, BatchNorm1d, Linear layers, found {', '.join(kinds) or 'none'}"
        )
    hidden = _linear(layers[0], storages)
    norm = _batch_norm(layers[1], storages)
    output = _linear(layers[2], storages)
    width, inputs = hidden["weight"].shape
    classes = output["weight"].shape[0]
    expected = sum(LEGACY_DIMENSIONS.values())
    if inputs != expected or classes != 2:
        raise InputError(
            f"{source}: a {inputs} -> {classes} classifier, expected {expected} -> 2 "
            "(DNABERT-S 768 + ESM2-3B 2560)"
        )
    if norm["weight"].shape[0] != width or output["weight"].shape[1] != width:
        raise InputError(
            f"{source}: layers {inputs} -> {width}, BatchNorm1d({norm['weight'].shape[0]}), "
            f"{output['weight'].shape[1]} -> {classes} do not chain"
        )
    model = MLPClassifier(inputs, width, _dropout(modules))
    model.hidden.load_state_dict(hidden)
    model.norm.load_state_dict(norm)
    model.output.load_state_dict(output)
    model.eval()
    return model


def convert_legacy_model(source: Path, output_dir: Path, chunk_size: int) -> Classifier:
    """Read an original ``*_model.pth`` and write it as a virnucpro classifier checkpoint."""
    check_chunk_size(chunk_size)
    if not source.is_file():
        raise InputError(f"{source}: no such model file")
    if source.stat().st_size > _MAX_FILE_BYTES:
        raise InputError(f"{source}: larger than any original VirNucPro model file")
    data = source.read_bytes()
    try:
        pickled, storages = _read_model_file(data)
        model = _build(pickled, storages, source)
    except _Refused as refusal:
        raise InputError(f"{source}: {refusal}") from None
    except InputError:
        raise
    except Exception as error:  # a malformed pickle: any failure is a bad file, never a traceback
        reason = _shown(str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise InputError(f"{source}: not an original VirNucPro model file ({reason})") from None
    details = {"legacy": {"source": source.name, "sha256": hashlib.sha256(data).hexdigest()}}
    classifier = Classifier(
        model, dict(LEGACY_EMBEDDERS), dict(LEGACY_DIMENSIONS), chunk_size, "fp32", details
    )
    classifier.save(output_dir)
    log.info(
        "converted %s (%d -> %d -> 2) into %s",
        source,
        model.hidden.in_features,
        model.hidden.out_features,
        output_dir,
    )
    return classifier
