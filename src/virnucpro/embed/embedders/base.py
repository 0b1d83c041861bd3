"""What every loaded embedding model offers the embedding loop."""

from __future__ import annotations

from typing import Protocol

import torch


class Encoder(Protocol):
    """A language model loaded on a device, ready to embed sequences.

    The embedding loop (``virnucpro.embed.sequence_embedding``) batches token ids, calls
    ``hidden_states`` and mean-pools the result; each loader only has to say
    how a sequence becomes tokens and which tokens the pool covers.
    """

    #: Width of the last hidden state, read from the model's config.
    dimension: int
    #: Token id used to pad batches (never pooled).
    pad_token_id: int
    #: True: pool tokens 1..n-2 (ESM drops BOS and EOS); False: pool every real token
    #: (DNABERT-S keeps [CLS] and [SEP]).
    pool_excludes_ends: bool
    #: At most this many tokens after the first enter the pool (ESM: residues 1..1024,
    #: while the model reads the whole protein); None: every token.
    max_pooled: int | None

    def tokenize(self, sequence: str) -> list[int]:
        """Token ids of one sequence, special tokens included, never truncated."""
        ...

    def hidden_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Last hidden state, shape (batch, tokens, dimension), for right-padded input.

        ``attention_mask`` is 1 for real tokens and 0 for padding, None for a batch without
        padding; the states of real tokens must not depend on the padding (same values as
        without it).
        """
        ...
