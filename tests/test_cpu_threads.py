"""--threads: a step uses no more CPU threads than Nextflow gives its task (task.cpus)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import typer
from command_runs import error_line
from conftest import ASSETS, BIN, run_script
from test_module_contracts import COMMAND, MODULES, script_block

from virnucpro.cli import main
from virnucpro.cli.threads import THREAD_VARIABLES

# Runs bin/chunk_sequences.py in this process as Nextflow runs it, then reports the
# thread limits it left: numpy's OpenBLAS pool is started before the command; torch is
# imported before it (a pool already running) or after it (started from the environment).
PROBE = textwrap.dedent(
    """
    import json, os, runpy, sys
    import numpy
    torch_first = sys.argv.pop(1) == "torch-first"
    if torch_first:
        import torch
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    torch_loaded_by_command = not torch_first and "torch" in sys.modules
    import threadpoolctl, torch
    from virnucpro.cli.threads import THREAD_VARIABLES
    print(json.dumps({
        "torch": torch.get_num_threads(),
        "torch_loaded_by_command": torch_loaded_by_command,
        "environment": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "pools": {pool["internal_api"]: pool["num_threads"]
                  for pool in threadpoolctl.threadpool_info()},
    }))
    """
)


def probe(tmp_path, torch_import: str, *options: str) -> dict:
    """The thread limits left by ``chunk_sequences.py OPTIONS`` on the bundled example."""
    environment = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    command = [BIN / "chunk_sequences.py", "--input", ASSETS / "mixed_example.fasta"]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, torch_import, *map(str, command), *options,
         "--output", str(tmp_path / "chunks.fasta")],
        capture_output=True, text=True, env=environment, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chunks.fasta").stat().st_size > 0
    return json.loads(result.stdout)


@pytest.mark.parametrize("torch_import", ["torch-first", "torch-after"])
def test_threads_limits_torch_blas_openmp_and_tokenizers(tmp_path, torch_import):
    limits = probe(tmp_path, torch_import, "--threads", "1")
    assert not limits["torch_loaded_by_command"]
    assert limits["torch"] == 1
    assert limits["environment"] == dict.fromkeys(THREAD_VARIABLES, "1")
    assert "openblas" in limits["pools"]
    if torch_import == "torch-first":
        assert "openmp" in limits["pools"]
    assert set(limits["pools"].values()) == {1}, limits["pools"]


def test_without_threads_the_environment_is_left_alone(tmp_path):
    limits = probe(tmp_path, "torch-after")
    assert limits["environment"] == dict.fromkeys(THREAD_VARIABLES)


def test_zero_threads_is_a_usage_error(tmp_path):
    result = run_script(
        "chunk_sequences.py", "--threads", "0", "--input", ASSETS / "mixed_example.fasta",
        "--output", tmp_path / "chunks.fasta",
    )  # fmt: skip
    assert "'--threads'" in error_line(result, 2, alone=True)
    assert not (tmp_path / "chunks.fasta").exists()


def option_names(command) -> set[str]:
    """Every option name of a Click command (Typer's commands are Click's)."""
    return {name for parameter in command.params for name in parameter.opts}


def test_every_script_a_module_calls_accepts_threads():
    called = {name for module in MODULES for name in COMMAND.findall(script_block(module))}
    called.discard("software_version.py")
    assert len(called) >= 15
    for script in sorted(called):
        wrapper = (BIN / script).read_text()
        wrapped = re.search(r"^from (virnucpro\.cli\.\w+) import main$", wrapper, re.MULTILINE)
        assert wrapped, f"bin/{script} is not a wrapper of a virnucpro.cli module"
        app = importlib.import_module(wrapped.group(1)).app
        assert "--threads" in option_names(typer.main.get_command(app)), script


def test_every_virnucpro_subcommand_but_software_version_accepts_threads():
    commands = typer.main.get_command(main.app).commands
    assert {"predict", "merge-features", "classify"} <= set(commands)
    missing = [
        name
        for name, command in commands.items()
        if name != "software-version" and "--threads" not in option_names(command)
    ]
    assert not missing
