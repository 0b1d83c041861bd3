"""The machine a benchmark ran on, in the line every benchmark script prints first."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The processor's model name, as Linux reports it."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def machine_line() -> str:
    """``machine: <processor>, <n> cores, Python <version>``."""
    return f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
