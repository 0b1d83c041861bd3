"""Writing checkpoint files as the hub's tools write them: JSON, text, safetensors, shards.

The safetensors writer streams: the header is laid out from names, shapes and dtypes
alone, then each tensor is written at its offset as it arrives, in any order, so a
model file of any size is written holding one tensor at a time. Its bytes are those of
``safetensors.torch.save_file`` for the same tensors (tensors ordered by dtype, widest
first, then by name; compact JSON header padded with spaces to 8 bytes); the bundled
tiny models, written with ``save_file`` originally, pin that.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

# safetensors' dtype codes, and their order in its Dtype enum (save_file puts the
# tensors of the later dtype first).
_SAFETENSORS_DTYPES = {
    torch.bool: ("BOOL", 0),
    torch.uint8: ("U8", 1),
    torch.int8: ("I8", 2),
    torch.int16: ("I16", 3),
    torch.float16: ("F16", 4),
    torch.bfloat16: ("BF16", 5),
    torch.int32: ("I32", 6),
    torch.float32: ("F32", 7),
    torch.float64: ("F64", 8),
    torch.int64: ("I64", 9),
}


def json_text(value: Any, indent: int = 2, newline: bool = True) -> str:
    """JSON as transformers writes it: sorted keys, ``indent`` spaces, a final newline."""
    return json.dumps(value, indent=indent, sort_keys=True) + ("\n" if newline else "")


def write_text(path: Path, text: str, crlf: bool = False) -> None:
    """UTF-8 bytes of ``text``; with ``crlf``, Windows line endings."""
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))


def write_safetensors(
    path: Path,
    layout: Mapping[str, tuple[tuple[int, ...], torch.dtype]],
    tensors: Iterable[tuple[str, torch.Tensor]],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """A safetensors file of the tensors named in ``layout`` (name: (shape, dtype)).

    ``tensors`` yields every one of them exactly once, in any order, each with its
    declared shape and dtype; each is written where the header puts it and dropped.
    """
    order = sorted(layout, key=lambda name: (-_SAFETENSORS_DTYPES[layout[name][1]][1], name))
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offsets: dict[str, int] = {}
    position = 0
    for name in order:
        shape, dtype = layout[name]
        size = math.prod(shape) * dtype.itemsize
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[dtype][0],
            "shape": list(shape),
            "data_offsets": [position, position + size],
        }
        offsets[name] = position
        position += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    start = 8 + len(encoded)
    written: set[str] = set()
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        handle.truncate(start + position)
        for name, tensor in tensors:
            shape, dtype = layout[name]
            if name in written or tuple(tensor.shape) != tuple(shape) or tensor.dtype != dtype:
                raise ValueError(f"{path}: tensor {name} is not the declared {shape} {dtype}")
            handle.seek(start + offsets[name])
            handle.write(_raw_bytes(tensor))
            written.add(name)
    if written != set(layout):
        raise ValueError(f"{path}: tensors never given: {sorted(set(layout) - written)}")


def _raw_bytes(tensor: torch.Tensor) -> memoryview:
    """The tensor's little-endian row-major bytes, without a copy when already contiguous."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy())


def shard_names(count: int, stem: str, suffix: str) -> list[str]:
    """``stem-0000k-of-0000n.suffix``, as ``save_pretrained`` names shards."""
    return [f"{stem}-{index:05d}-of-{count:05d}.{suffix}" for index in range(1, count + 1)]


def split_by_bytes(sizes: Mapping[str, int], shards: int) -> list[list[str]]:
    """Names split, in order, into at most ``shards`` runs of about equal total bytes.

    Each tensor goes to the run its middle byte falls in.
    """
    total = sum(sizes.values()) or 1
    runs: list[list[str]] = [[] for _ in range(shards)]
    done = 0
    for name, size in sizes.items():
        runs[min(shards - 1, (2 * done + size) * shards // (2 * total))].append(name)
        done += size
    return [run for run in runs if run]


def write_index(path: Path, weight_map: Mapping[str, str], total_size: int) -> None:
    """The ``*.index.json`` that lists which shard holds each tensor."""
    write_text(path, json_text({"metadata": {"total_size": total_size}, "weight_map": weight_map}))
