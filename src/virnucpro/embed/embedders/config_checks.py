"""The values a model folder's ``config.json`` and tokenizer files give the loaders, checked.

A model folder is an input like any other: its ``config.json`` decides the shape of
every tensor and buffer the loaders build, so a broken or hostile one
(``max_position_embeddings`` 2**40, ``num_attention_heads`` 0 or -4, a size written
``"32"``, ``32.0`` or ``true``) is refused with one line naming the file, the key and
the value, before anything is allocated, never met with a traceback or a request for
terabytes. The caps are several times the largest registered model's sizes (ESM2-3B:
hidden 2560, 36 layers, 40 heads, intermediate 10240; ESM2: 1026 positions, 33 tokens;
DNABERT-S: 4096 tokens).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from virnucpro.errors import InputError

#: Largest value each size may take.
SIZE_CAPS: dict[str, int] = {
    "vocab_size": 1 << 18,
    "hidden_size": 1 << 14,
    "num_hidden_layers": 1 << 8,
    "num_attention_heads": 1 << 8,
    "intermediate_size": 1 << 16,
    "max_position_embeddings": 1 << 16,
    "type_vocab_size": 1 << 4,
}
#: Most weights a config may describe (ESM2-3B has 2.8e9).
MAX_PARAMETERS = 1 << 34
#: Bytes per weight of the narrowest floating type a checkpoint is stored in (bf16, fp16).
_NARROWEST_WEIGHT_BYTES = 2


def shown(value: object) -> str:
    """``value`` as written in JSON (``true``, ``32.0``, ``null``), a string in single
    quotes (``'32'``), short enough for one line."""
    text = json.dumps(value, default=str, ensure_ascii=True)
    if isinstance(value, str):
        text = f"'{text[1:-1]}'"
    return text if len(text) <= 60 else text[:57] + "..."


def size(raw: Mapping[str, Any], key: str, source: str, default: int | None = None) -> int:
    """``raw[key]``: a whole number from 1 to its cap (a bool or ``32.0`` is not one)."""
    value = raw.get(key, default)
    cap = SIZE_CAPS[key]
    if type(value) is not int or not 1 <= value <= cap:
        raise InputError(f"{source}: {key} {shown(value)} is not a whole number from 1 to {cap}")
    return value


def token_id(raw: Mapping[str, Any], key: str, source: str, vocab_size: int) -> int:
    """``raw[key]``: the id of a token of the vocabulary."""
    value = raw.get(key)
    if type(value) is not int or not 0 <= value < vocab_size:
        raise InputError(
            f"{source}: {key} {shown(value)} is not a token id below vocab_size {vocab_size}"
        )
    return value


def flag(raw: Mapping[str, Any], key: str, source: str) -> bool:
    """``raw[key]``: true or false, not a number or a string that would read as one."""
    value = raw.get(key)
    if type(value) is not bool:
        raise InputError(f"{source}: {key} {shown(value)} is not true or false")
    return value


def epsilon(raw: Mapping[str, Any], key: str, source: str, default: float | None = None) -> float:
    """``raw[key]``: a layer-norm epsilon, a number in (0, 1)."""
    value = raw.get(key, default)
    if type(value) not in (int, float) or not 0 < value < 1:
        raise InputError(f"{source}: {key} {shown(value)} is not a number between 0 and 1")
    return float(value)


def head_size(hidden_size: int, heads: int, source: str) -> int:
    """Width of one attention head; the heads must split ``hidden_size`` evenly."""
    if hidden_size % heads:
        raise InputError(
            f"{source}: hidden_size {hidden_size} is not a multiple of num_attention_heads {heads}"
        )
    return hidden_size // heads


def check_weight_count(
    weights: int, sizes: Mapping[str, int], files: Sequence[Path], source: str
) -> None:
    """Refuse sizes that describe more weights than any supported model, or than the weight
    files can hold (``weights`` is a lower bound: the big matrices only)."""
    described = ", ".join(f"{key} {value}" for key, value in sizes.items())
    if weights > MAX_PARAMETERS:
        raise InputError(
            f"{source}: {described} describe {weights:.3g} weights, more than any supported "
            f"model ({MAX_PARAMETERS:.3g})"
        )
    stored = sum(file.stat().st_size for file in files)
    if weights * _NARROWEST_WEIGHT_BYTES > stored:
        where = files[0] if len(files) == 1 else f"{len(files)} weight files"
        raise InputError(
            f"{source}: {described} describe {weights:,} weights, more than the "
            f"{stored:,} bytes of {where} can hold"
        )


def check_tokenizer_settings(
    folder: Path,
    special: Mapping[str, str],
    tokenizer_class: str,
    token_at: Callable[[int], str | None],
) -> None:
    """``tokenizer_config.json`` and ``special_tokens_map.json``, where present, must name
    the architecture's tokenizer class and special tokens, give added tokens the ids the
    vocabulary has (``token_at``) and not lowercase, so that the model repository's
    tokenizer (``--trust-remote-code``) reads residues as ours does."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            settings = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: unreadable tokenizer settings ({error})") from None
        if not isinstance(settings, dict):
            raise InputError(f"{path}: not a JSON object")
        for key, token in special.items():
            value = settings.get(key, token)
            content = value.get("content") if isinstance(value, dict) else value
            if content != token:
                raise InputError(f"{path}: {key} {shown(value)}, expected '{token}'")
        found = settings.get("tokenizer_class", tokenizer_class)
        if found != tokenizer_class:
            raise InputError(
                f"{path}: tokenizer_class {shown(found)}, expected '{tokenizer_class}'"
            )
        if settings.get("do_lower_case"):
            raise InputError(f"{path}: do_lower_case would rewrite the residues")
        added = settings.get("added_tokens_decoder", {})
        if not isinstance(added, dict):
            raise InputError(f"{path}: added_tokens_decoder is not a JSON object")
        for index, entry in added.items():
            content = entry.get("content") if isinstance(entry, dict) else entry
            if not index.isdigit() or token_at(int(index)) != content:
                raise InputError(
                    f"{path}: added token {shown(content)} at id {shown(index)}, "
                    "not the vocabulary's token of that id"
                )
