"""What every command shares: the version flag, logging and one-line errors."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from virnucpro import __version__
from virnucpro.errors import EXIT_OUT_OF_MEMORY, InputError, OutOfMemory


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


def new_app(help_text: str) -> typer.Typer:
    """A Typer app configured the same way for every command."""
    return typer.Typer(
        help=help_text, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False
    )


def run_app(app: typer.Typer) -> None:
    """Run ``app`` with INFO logging on stderr; errors print one ``error:`` line.

    Bad input exits 1; running out of GPU memory (a sequence too large for the
    device, or a model that does not fit next to another process) exits
    ``EXIT_OUT_OF_MEMORY`` (75), which the pipeline retries with less work.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        app()
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except OutOfMemory as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(EXIT_OUT_OF_MEMORY) from None
    except Exception as error:
        if not _is_cuda_out_of_memory(error):
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        typer.echo(
            f"error: out of GPU memory ({first_line}); is another process using the GPU? "
            "(see nvidia-smi)",
            err=True,
        )
        raise SystemExit(EXIT_OUT_OF_MEMORY) from None


def _is_cuda_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch's CUDA out-of-memory error, without importing torch
    into commands that never load it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.cuda.OutOfMemoryError)
