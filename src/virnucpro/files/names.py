"""Names that become parts of file names: sample ids, prefixes.

They are interpolated into output paths and into the shell scripts of the
pipeline's modules, so only a safe set is allowed: letters, digits, ``.``, ``_``
and ``-``, starting with a letter or digit (no ``/``, ``..``, spaces, quotes or
``$(...)``; no hidden files, nothing that reads as an option).
"""

from __future__ import annotations

import re

from virnucpro.errors import InputError

#: The same rule as the samplesheet schema's (assets/schema_input.json).
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(value: str, what: str) -> str:
    """``value`` if it is a safe file-name part; else one error naming ``what``."""
    if not SAFE_NAME.fullmatch(value):
        raise InputError(
            f"{what} {value!r} may hold only letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value
