"""--help and --version answer at once: they load no heavy library (torch alone takes seconds).

Every help and version request of the ``virnucpro`` console script and of the bin/
scripts runs in one fresh process, which then lists the heavy modules it loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import typer
from conftest import BIN

from virnucpro import __version__
from virnucpro.cli import main

#: Libraries only a step's work needs, never its help
HEAVY = (
    "torch", "transformers", "tokenizers", "huggingface_hub", "safetensors", "numpy", "scipy",
    "sklearn", "matplotlib", "Bio", "networkx", "pyrodigal",
)  # fmt: skip

PROBE = textwrap.dedent(
    """
    import contextlib, io, json, runpy, sys
    import typer
    from virnucpro.cli.main import app

    requests, heavy = json.loads(sys.argv[1])
    # What the console script runs, built once (Typer builds every subcommand each call)
    virnucpro = typer.main.get_command(app)
    outcomes = []
    for script, *arguments in requests:
        sys.argv = [script, *arguments]
        printed = io.StringIO()
        status = 0
        try:
            with contextlib.redirect_stdout(printed):
                if script == "virnucpro":
                    status = virnucpro.main(arguments, "virnucpro", standalone_mode=False)
                else:
                    runpy.run_path(script, run_name="__main__")
        except SystemExit as stop:
            status = stop.code or 0
        outcomes.append([status, printed.getvalue()])
    loaded = [name for name in heavy if name in sys.modules]
    print(json.dumps({"outcomes": outcomes, "loaded": loaded}))
    """
)


def run_requests(requests: list[list[str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """Each request's exit status and output, and the heavy modules the process loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([requests, HEAVY])],
        capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return [tuple(outcome) for outcome in report["outcomes"]], report["loaded"]


def test_console_script_help_and_version_load_no_heavy_library():
    subcommands = sorted(typer.main.get_command(main.app).commands)
    requests = [["virnucpro", "--help"], ["virnucpro", "--version"]]
    requests += [["virnucpro", name, "--help"] for name in subcommands]
    outcomes, loaded = run_requests(requests)
    assert loaded == []
    assert all(status == 0 for status, _ in outcomes), outcomes
    assert "predict" in outcomes[0][1] and "chunk-sequences" in outcomes[0][1]
    assert outcomes[1][1].strip() == __version__
    for name, (_, text) in zip(subcommands, outcomes[2:], strict=True):
        assert f"virnucpro {name} [OPTIONS]" in text, name


def test_bin_scripts_help_and_version_load_no_heavy_library():
    scripts = sorted(str(path) for path in BIN.glob("*.py"))
    requests = [[script, option] for script in scripts for option in ("--help", "--version")]
    outcomes, loaded = run_requests(requests)
    assert loaded == []
    for (script, option), (status, text) in zip(requests, outcomes, strict=True):
        assert status == 0, (script, option, text)
        if option == "--version":
            assert text.strip() == __version__, script
        else:
            assert "--version" in text, script
