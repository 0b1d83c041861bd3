"""What every command shares: the version flag, logging and one-line errors."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from virnucpro import __version__
from virnucpro.errors import EXIT_OUT_OF_MEMORY, EXIT_USAGE, InputError, OutOfMemory


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
]

#: --threads of every step but software_version: virnucpro.cli.threads.limit_cpu_threads
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="CPU threads for this step (Nextflow passes task.cpus) [default: all].",
    ),
]

# The checkpoint a classify, predict or evaluate step reads (--model-dir is an embedder's)
ClassifierOption = Annotated[
    Path,
    typer.Option(
        help="Classifier checkpoint folder (model.safetensors and classifier.json), "
        "e.g. written by train_classifier.py."
    ),
]

#: What every --features option takes
FEATURES_HELP = (
    "Feature file; repeat for every shard's DNA (embed_dna.py) and protein (embed_protein.py) "
    "file, paired by their frames and joined as they are read, or give merged files "
    "(merge_features.py)."
)
# The features a train or evaluate step reads: each shard's DNA and protein files (joined
# as they are read), or merged files
MergedFeaturesOption = Annotated[
    list[Path],
    typer.Option(help=FEATURES_HELP),
]


def new_app(help_text: str) -> typer.Typer:
    """A Typer app configured the same way for every command.

    Help text is plain (no Rich markup), so that ``[k-1 : k+3L]`` or
    ``[default: $HF_HOME]`` in a help string is printed as written.
    """
    return typer.Typer(
        help=help_text,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def _fail(message: str, status: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(status) from None


def run_app(app: typer.Typer) -> None:
    """Run ``app`` with INFO logging on stderr; every error prints one ``error:`` line.

    Exit status: 1 bad input (or an input/output failure such as a full disk);
    2 a usage error (unknown or missing option, a value out of range); 75
    (``EXIT_OUT_OF_MEMORY``) out of GPU memory (a sequence too large for the
    device, or a model that does not fit next to another process), which the
    pipeline retries with less work; 143 terminated (SIGTERM, as Nextflow stops a task),
    after the temporary files and unfinished outputs are removed.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as error:  # Typer's (vendored Click's) usage and file errors
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError":
            typer.echo(error.format_message())
            raise SystemExit(EXIT_USAGE) from None
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        _fail(f"{error.format_message()}{hint}", error.exit_code)
    except typer.Abort:
        _fail("interrupted", 130)
    except Terminated:
        _fail("terminated (SIGTERM)", 128 + signal.SIGTERM)
    except InputError as error:
        _fail(str(error), 1)
    except OutOfMemory as error:
        _fail(str(error), EXIT_OUT_OF_MEMORY)
    except OSError as error:
        if error.filename is not None:
            _fail(f"{error.filename}: {error.strerror or error}", 1)
        _fail(str(error), 1)
    except Exception as error:
        if not _is_cuda_out_of_memory(error):
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        _fail(
            f"out of GPU memory ({first_line}); is another process using the GPU? (see nvidia-smi)",
            EXIT_OUT_OF_MEMORY,
        )
    if isinstance(status, int) and status:
        raise SystemExit(status)


class Terminated(BaseException):
    """SIGTERM, raised where the process is, so that ``with`` blocks clean up (a
    BaseException, as KeyboardInterrupt: no ``except Exception`` swallows it)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _is_cuda_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch's CUDA out-of-memory error, without importing torch
    into commands that never load it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.cuda.OutOfMemoryError)
