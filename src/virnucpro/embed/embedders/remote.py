"""Opt-in loading with the model repository's own code (``trust_remote_code``).

This runs code from the hub and breaks when ``transformers`` changes;
it exists so that results can be checked against the authors' implementation.
Our native loaders are the default.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from virnucpro.embed.embedders.esm import POOLED_RESIDUES
from virnucpro.embed.embedders.registry import Modality


class RemoteEncoder:
    """Wraps a hub model whose first output is the last hidden state."""

    def __init__(self, folder: Path, modality: Modality, device: torch.device, dtype: torch.dtype):
        self._tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        self._model = AutoModel.from_pretrained(folder, trust_remote_code=True, dtype=dtype)
        self._model.to(device).eval()
        self.dimension = int(self._model.config.hidden_size)
        self.pad_token_id = int(self._tokenizer.pad_token_id)
        self.pool_excludes_ends = modality is Modality.protein
        # Proteins are read whole and averaged over residues 1..1024, as natively.
        self.max_pooled = POOLED_RESIDUES if modality is Modality.protein else None

    def tokenize(self, sequence: str) -> list[int]:
        return list(self._tokenizer(sequence, truncation=False)["input_ids"])

    @torch.inference_mode()
    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self._model(input_ids=input_ids, attention_mask=attention_mask)[0]


def load_remote(
    folder: Path, modality: Modality, device: torch.device, dtype: torch.dtype
) -> RemoteEncoder:
    return RemoteEncoder(folder, modality, device, dtype)
