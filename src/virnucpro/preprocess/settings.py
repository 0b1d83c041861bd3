"""The preprocessing steps' settings that their command-line options show.

Kept apart from the modules that use them, which import numpy, Biopython and
networkx: ``--help`` must not wait for those to load.
"""

from __future__ import annotations

from enum import Enum

# The genomes' k-mer sketches (sketches), with which split --group-by cluster groups them.
# k-mer length: 2 bits a base, so a k-mer fits in a uint64 (k <= 32)
K = 21
# one k-mer in SCALED is kept: a 3 Mb genome keeps ~30,000 hashes, a 5 kb virus ~50
SCALED = 100
# containment of the smaller genome at or above which two genomes share a cluster
DEFAULT_THRESHOLD = 0.3


# build_training_set --label
class Label(str, Enum):
    """Class of an input genome; viral is the positive class (1)."""

    viral = "viral"
    host = "host"

    @property
    def target(self) -> int:
        """The classifier's class number: 1 for virus, 0 for everything else."""
        return int(self is Label.viral)


# split_dataset --group-by
class GroupBy(str, Enum):
    """What must not be shared between splits."""

    cluster = "cluster"
    genome = "genome"
    none = "none"
