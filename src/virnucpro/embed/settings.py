"""The embedding steps' settings that their command-line options show.

Kept apart from the modules that use them, which import torch: ``--help`` must
not wait seconds for torch to load.
"""

from __future__ import annotations

#: Most tokens per batch, padding included (sequence_embedding)
DEFAULT_TOKEN_BUDGET = 16384
#: ``auto``: PyTorch picks a backend for each attention call; any other name runs every
#: call on that SDPA backend only (``torch.nn.attention.SDPBackend``, lower case).
ATTENTION_BACKENDS = ("auto", "flash_attention", "efficient_attention", "cudnn_attention", "math")

#: Timed passes by default: an odd number, so that the median is one of them (benchmark)
DEFAULT_REPEATS = 5

# verify-embedder (verification): the frames compared and the agreement required
DEFAULT_FRAMES = 300
DEFAULT_CHUNK_SIZE = 300
#: At fp32 native and remote vectors must point the same way to within rounding.
FP32_MIN_COSINE = 0.99999
DEFAULT_MAX_ABS = 1e-4
DEFAULT_MIN_COSINE = 0.999
