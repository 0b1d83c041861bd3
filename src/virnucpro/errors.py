"""Exceptions that the command line turns into one message and a documented exit code."""

from __future__ import annotations

from collections.abc import Sequence

#: Exit status of an embedding step when one sequence alone does not fit in GPU
#: memory: the pipeline retries such a task with a smaller token budget.
EXIT_OUT_OF_MEMORY = 75
#: Exit status of a usage error (unknown or missing option, value out of range), as Click's.
EXIT_USAGE = 2


class InputError(Exception):
    """Bad input: the command line prints the message as one line and exits 1."""


class OutOfMemory(Exception):
    """A single sequence does not fit on the device: exit ``EXIT_OUT_OF_MEMORY``."""


def examples(items: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` items for an error message, and how many more there are."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
