"""Shared test helpers: paths to data and a runner for the bin/ scripts."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import matplotlib.image
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bin"
ASSETS = ROOT / "assets" / "test"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real GenBank/FASTA files beside the checkout; tests needing them skip without."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


def run_script(
    script: str, *args: str | os.PathLike[str], cwd: Path | None = None, stdin: str | None = None
):
    """Run ``bin/<script>`` as Nextflow would: found on PATH, with this Python first on PATH
    (``stdin``: text piped in)."""
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(BIN), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    return subprocess.run(
        [script, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def load_script(path: Path) -> ModuleType:
    """A scripts/ file imported as a module, so that tests call its functions."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{record_id}\n{sequence}\n" for record_id, sequence in records))
    return path


def frame_shards(folder: Path, frames_per_shard: int, count: int = 3) -> dict[str, list[Path]]:
    """``count`` shards of the real frames of mixed_example.fasta cut at 300 bp, each
    ``frames_per_shard`` frames: nucleotide ("dna") and protein ("protein") FASTA files."""
    from virnucpro.files.sequence_files import read_dna
    from virnucpro.preprocess.chunking import chunk_records
    from virnucpro.preprocess.frames import stop_free_frames

    chunks = list(chunk_records(read_dna(ASSETS / "mixed_example.fasta"), 300))
    frames = [frame for kept in stop_free_frames(chunks) for frame in kept]
    shards: dict[str, list[Path]] = {"dna": [], "protein": []}
    for index in range(count):
        part = frames[index * frames_per_shard : (index + 1) * frames_per_shard]
        for kind, suffix, letters in (("dna", "nt", "nucleotide"), ("protein", "aa", "protein")):
            records = [(frame.id, getattr(frame, letters)) for frame in part]
            shards[kind].append(write_fasta(folder / f"s{index}.{suffix}.fasta", records))
    return shards


def read_fasta(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines()
    return [(lines[i][1:], lines[i + 1]) for i in range(0, len(lines), 2)]


#: Report tests that open a page in a real browser; CI installs Debian's chromium.
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None and os.environ.get("CI") != "true",
    reason="Debian chromium is not installed",
)


def browser_pixels(page: Path, window: str = "1200,2400") -> tuple[int, float]:
    """Render ``page`` in headless Chromium (scripts/report_screenshot.sh).

    Returns the number of strongly coloured pixels (plots are the only strongly
    coloured parts of the reports) and the mean distance from a blank white page.
    """
    png = page.with_suffix(".png")
    result = subprocess.run(
        ["bash", ROOT / "scripts" / "report_screenshot.sh", page, png],
        capture_output=True, text=True, check=False, timeout=180,
        env={**os.environ, "WINDOW": window},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pixels = matplotlib.image.imread(png)[..., :3]
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    return int((saturation > 0.4).sum()), float(np.abs(pixels - 1.0).mean())
