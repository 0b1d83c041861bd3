"""Model checkpoints on disk, for every architecture: ``config.json`` and the weights.

A checkpoint folder (a Hugging Face snapshot) holds ``config.json`` and its weights in
one of four layouts, looked for in this order:

* ``model.safetensors``;
* ``model-0000k-of-0000n.safetensors`` shards listed by ``model.safetensors.index.json``;
* ``pytorch_model.bin`` (a ``torch.save`` pickle);
* ``pytorch_model-0000k-of-0000n.bin`` shards listed by ``pytorch_model.bin.index.json``.

Tensors are read one at a time so that a model never sits in host memory twice (once
as read, once as cast): ``iter_tensors`` hands out each tensor in the file's dtype on
the CPU, the loader casts it with ``to_target`` and drops the original before the
next one is read. Both formats are memory-mapped (``safe_open``, and
``torch.load(mmap=True)`` for zip-format pickles); a mapping's pages count in the
process's resident memory until it is closed, so each file is opened again every
``_WINDOW_BYTES`` of tensors. Pickles are always unpickled with ``weights_only``:
tensors and containers, never code.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from virnucpro.errors import InputError

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
# A real config.json is a few kilobytes: a larger one is not a model configuration.
MAX_CONFIG_BYTES = 1 << 20
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
PYTORCH_BIN_INDEX = "pytorch_model.bin.index.json"

# A weight file is opened (safetensors) or memory-mapped (pickles) again after this many
# bytes of tensors were read from it, which lets the pages already read leave the
# process's resident memory: at most about this much of a file is resident at a time.
_WINDOW_BYTES = 256 << 20


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json`` as a dict; one ``InputError`` naming the file if it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: model folder not found")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{folder}: not a model folder (no {CONFIG_FILE})")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InputError(
            f"{path}: {path.stat().st_size:,} bytes, more than any model configuration "
            f"({MAX_CONFIG_BYTES:,})"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: unreadable config ({error})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: not a JSON object")
    return raw


def weight_files(folder: Path) -> list[Path]:
    """The weight files of ``folder``: safetensors first (single, then sharded), then pickles."""
    folder = Path(folder)
    for single, index in ((SAFETENSORS, SAFETENSORS_INDEX), (PYTORCH_BIN, PYTORCH_BIN_INDEX)):
        if (folder / single).is_file():
            return [folder / single]
        if (folder / index).is_file():
            return _shards(folder / index)
    raise InputError(
        f"{folder}: no weights file found (no model.safetensors or pytorch_model.bin, "
        "single or sharded)"
    )


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"{index}: unreadable index ({error})") from None
    if not names or not all(isinstance(name, str) and "/" not in name for name in names):
        raise InputError(f"{index}: unreadable index (the weight_map names no shard files)")
    files = [index.parent / name for name in names]
    absent = [file.name for file in files if not file.is_file()]
    if absent:
        raise InputError(f"{index.parent}: missing weight shards {', '.join(absent)}")
    return files


def iter_tensors(files: Sequence[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` for every tensor of ``files``, one at a time, on the CPU.

    Each tensor keeps the file's dtype and may be backed by the file itself: cast or
    copy it (``to_target``) and let it go before asking for the next. A file that
    cannot be read is an ``InputError`` naming it.
    """
    for file in files:
        reader = _safetensors_tensors if file.suffix == ".safetensors" else _pickled_tensors
        try:
            yield from reader(file)
        except InputError:
            raise
        except Exception as error:  # corrupt, truncated or foreign files: one clear message
            raise InputError(f"{file}: unreadable weights ({error})") from None


def to_target(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A copy of ``tensor`` on ``device``: floating point cast to ``dtype``, other dtypes kept.

    Always a copy, even when nothing changes, so that no loaded weight stays a view of
    a memory-mapped file (whose pages are then free to go, and which may change on disk).
    """
    target = dtype if tensor.is_floating_point() else tensor.dtype
    return tensor.to(device=device, dtype=target, copy=True)


def _safetensors_tensors(file: Path) -> Iterator[tuple[str, torch.Tensor]]:
    names: list[str] | None = None
    done = 0
    while names is None or done < len(names):
        # Reopened every _WINDOW_BYTES: closing the file unmaps the pages read so far.
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            names = names if names is not None else list(handle.keys())
            window = 0
            while done < len(names) and window < _WINDOW_BYTES:
                tensor = handle.get_tensor(names[done])
                window += tensor.nbytes
                done += 1
                yield names[done - 1], tensor
                del tensor


def _pickled_tensors(file: Path) -> Iterator[tuple[str, torch.Tensor]]:
    if not zipfile.is_zipfile(file):
        # torch.save's format before PyTorch 1.6 cannot be memory-mapped: read it whole.
        log.info("%s: legacy (non-zip) torch.save format, read into memory whole", file)
        state = _state_dict(file, torch.load(file, map_location="cpu", weights_only=True))
        for name in list(state):
            yield name, state.pop(name)
        return
    state = _mapped(file)
    names = list(state)
    window = 0
    for name in names:
        if window >= _WINDOW_BYTES:
            # A new mapping; the old one (and its resident pages) goes with the last tensor.
            state, window = _mapped(file), 0
        tensor = state.pop(name)
        window += tensor.nbytes
        yield name, tensor
        del tensor


def _mapped(file: Path) -> dict[str, torch.Tensor]:
    # weights_only: tensors and containers only, no arbitrary pickled code.
    loaded = torch.load(file, map_location="cpu", mmap=True, weights_only=True)
    return _state_dict(file, loaded)


def _state_dict(file: Path, loaded: Any) -> dict[str, torch.Tensor]:
    if not isinstance(loaded, Mapping) or not all(
        isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in loaded.items()
    ):
        raise InputError(f"{file}: not a state dict of tensors")
    return dict(loaded)
