"""The classify steps' settings that their command-line options show.

Kept apart from the modules that use them, which import torch: ``--help`` must
not wait seconds for torch to load.
"""

from __future__ import annotations

from dataclasses import dataclass

from virnucpro.errors import InputError

# prediction_report (call_summary)
#: Rows of the per-sequence table in the page: a page of 100,000 rows would not open.
DEFAULT_MAX_ROWS = 2000


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters; the defaults are the original tool's."""

    seed: int = 42
    max_epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 2e-4
    momentum: float = 0.9
    step_size: int = 10
    gamma: float = 0.85
    patience: int = 5
    hidden: int = 512
    dropout: float = 0.5

    def __post_init__(self) -> None:
        """Refuse settings that cannot train, instead of failing inside torch."""
        wrong = [
            f"{name} must be {rule}, got {getattr(self, name)}"
            for name, rule, valid in (
                ("max_epochs", "at least 1", self.max_epochs >= 1),
                ("batch_size", "at least 2 (BatchNorm needs two frames)", self.batch_size >= 2),
                ("learning_rate", "positive", self.learning_rate > 0),
                ("momentum", "in [0, 1)", 0 <= self.momentum < 1),
                ("step_size", "at least 1", self.step_size >= 1),
                ("gamma", "in (0, 1]", 0 < self.gamma <= 1),
                ("patience", "at least 1", self.patience >= 1),
                ("hidden", "at least 1", self.hidden >= 1),
                ("dropout", "in [0, 1)", 0 <= self.dropout < 1),
            )
            if not valid
        ]
        if wrong:
            raise InputError("training settings: " + "; ".join(wrong))


#: The original tool's hyperparameters
DEFAULT_TRAINING = TrainingSettings()
