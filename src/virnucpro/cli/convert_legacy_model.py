"""``convert_legacy_model.py`` (``virnucpro convert-legacy-model``): import an original model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virnucpro.cli.common import ThreadsOption, VersionOption, new_app, run_app
from virnucpro.cli.threads import limit_cpu_threads

app = new_app("Import an original VirNucPro 300_model.pth / 500_model.pth.")


@app.command(name="convert-legacy-model")
def convert_legacy_model_command(
    input: Annotated[Path, typer.Option(help="Original model file, e.g. 300_model.pth.")],
    output_dir: Annotated[Path, typer.Option(help="Checkpoint folder to write.")],
    chunk_size: Annotated[
        int, typer.Option(help="Chunk size the model was trained with (300 or 500).")
    ],
    threads: ThreadsOption = None,
    version: VersionOption = False,
) -> None:
    """Convert a pickled MLPClassifier (DNABERT-S 768 + ESM2-3B 2560 inputs) into a checkpoint.

    The file (torch.save zip or legacy format) is read without torch.load: its
    pickles may name only tensor storages, OrderedDict/set and the Linear,
    BatchNorm1d, ReLU, Dropout, Sequential and MLPClassifier classes, which are
    read as inert stand-ins; anything else is refused and no code from the file
    runs. The checkpoint expects dnabert_s + esm2_3b features, so ESM2-3B
    predictions can be compared with the published models.
    """
    limit_cpu_threads(threads)
    from virnucpro.classify.legacy import convert_legacy_model

    convert_legacy_model(input, output_dir, chunk_size)


def main() -> None:
    """Entry point of ``bin/convert_legacy_model.py``."""
    run_app(app)
