"""Loading with transformers' Auto classes, the model repository's own code only if allowed.

The repository's code (``trust_remote_code``) breaks when ``transformers`` changes; it
exists so that results can be checked against the authors' implementation. Our native
loaders are the default. A model folder is an input: its code runs only when the user
passed ``--trust-remote-code``, only from the folder itself (an ``auto_map`` naming
another repository, ``other/repo--modeling_x.Model``, is refused before anything is
imported) and offline (``local_files_only``, and every hub request refused as under
``HF_HUB_OFFLINE=1`` while the model loads).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from huggingface_hub import constants
from transformers import AutoModel, AutoTokenizer

from virnucpro.embed.checkpoints import CONFIG_FILE
from virnucpro.embed.embedders.config_checks import shown
from virnucpro.embed.embedders.esm import POOLED_RESIDUES
from virnucpro.embed.embedders.registry import Modality
from virnucpro.errors import InputError, examples

#: The settings files whose ``auto_map`` transformers follows to import code.
_AUTO_MAP_FILES = (CONFIG_FILE, "tokenizer_config.json")


def _auto_map_entries(path: Path) -> list[str]:
    """The class references (``module.Class``) of ``path``'s ``auto_map``."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: unreadable settings ({error})") from None
    auto_map = settings.get("auto_map", {}) if isinstance(settings, dict) else {}
    if isinstance(auto_map, list):  # an old tokenizer_config.json: the [slow, fast] pair, bare
        auto_map = {"AutoTokenizer": auto_map}
    if not isinstance(auto_map, dict):
        raise InputError(f"{path}: auto_map {shown(auto_map)} is not a JSON object")
    entries = []
    for value in auto_map.values():
        for entry in value if isinstance(value, list) else [value]:
            if entry is None:
                continue
            if not isinstance(entry, str):
                raise InputError(f"{path}: auto_map entry {shown(entry)} is not a class name")
            entries.append(entry)
    return entries


def check_remote_code(folder: Path, trust_remote_code: bool) -> None:
    """Refuse, before anything is imported, an ``auto_map`` that names code in another
    repository, and any code of the folder (``auto_map`` modules, ``*.py``) unless
    ``trust_remote_code``."""
    folder = Path(folder)
    entries = []
    for name in _AUTO_MAP_FILES:
        path = folder / name
        if not path.is_file():
            continue
        for entry in _auto_map_entries(path):
            if "--" in entry:
                raise InputError(
                    f"{path}: auto_map entry {shown(entry)} names code in another repository; "
                    "only code in the model folder may run, and nothing is downloaded"
                )
            entries.append(entry)
    if trust_remote_code:
        return
    code = {entry.rsplit(".", 1)[0] + ".py" for entry in entries}
    code |= {path.name for path in folder.glob("*.py")}
    if code:
        raise InputError(
            f"{folder}: loading it with the model repository's code would run "
            f"{examples(sorted(code))} from the folder; pass --trust-remote-code to allow it"
        )


@contextmanager
def _offline() -> Iterator[None]:
    """Every request to the hub refused, as under ``HF_HUB_OFFLINE=1``."""
    flag, variable = constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")
    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = flag
        if variable is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = variable


class RemoteEncoder:
    """Wraps a hub model whose first output is the last hidden state."""

    def __init__(
        self,
        folder: Path,
        modality: Modality,
        device: torch.device,
        dtype: torch.dtype,
        trust_remote_code: bool,
    ):
        with _offline():
            self._tokenizer = AutoTokenizer.from_pretrained(
                folder, trust_remote_code=trust_remote_code, local_files_only=True
            )
            self._model = AutoModel.from_pretrained(
                folder, trust_remote_code=trust_remote_code, local_files_only=True, dtype=dtype
            )
        self._model.to(device).eval()
        self.dimension = int(self._model.config.hidden_size)
        self.pad_token_id = int(self._tokenizer.pad_token_id)
        self.pool_excludes_ends = modality is Modality.protein
        # Proteins are read whole and averaged over residues 1..1024, as natively.
        self.max_pooled = POOLED_RESIDUES if modality is Modality.protein else None

    def tokenize(self, sequence: str) -> list[int]:
        return list(self._tokenizer(sequence, truncation=False)["input_ids"])

    @torch.inference_mode()
    def hidden_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        if attention_mask is None:  # a folder's own code may not take None for "no padding"
            attention_mask = torch.ones_like(input_ids)
        return self._model(input_ids=input_ids, attention_mask=attention_mask)[0]


def load_remote(
    folder: Path,
    modality: Modality,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool,
) -> RemoteEncoder:
    """The model in ``folder`` through transformers' Auto classes; the folder's own code
    runs only with ``trust_remote_code`` (see ``check_remote_code``)."""
    check_remote_code(folder, trust_remote_code)
    return RemoteEncoder(folder, modality, device, dtype, trust_remote_code)
