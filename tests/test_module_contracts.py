"""Contract between the Nextflow modules and the bin/ scripts they call.

Nextflow cannot run here, so these tests read each module's script block and
the ext.args of conf/modules.config, and check that every bin/ command named
there exists, is executable, and accepts every option it is given.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from conftest import BIN, ROOT, run_script

MODULES = sorted((ROOT / "modules" / "local").glob("*/main.nf"))
COMMAND = re.compile(r"\b([a-z_]+\.py)\b")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def script_block(module: Path) -> str:
    """The text between ``script:`` and ``stub:`` (or the end) of a process."""
    text = module.read_text()
    match = re.search(r"^\s*script:\s*$(.*?)(^\s*stub:\s*$|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{module}: no script: block"
    return match.group(1)


def process_name(module: Path) -> str:
    match = re.search(r"^process\s+(\w+)\s*\{", module.read_text(), re.MULTILINE)
    assert match, f"{module}: no process definition"
    return match.group(1)


def ext_args_options(process: str) -> list[str]:
    """Options in the ext.args of ``withName: 'PROCESS'`` in conf/modules.config."""
    config = (ROOT / "conf" / "modules.config").read_text()
    match = re.search(rf"withName:\s*'{process}'\s*\{{(.*?)\n    \}}", config, re.DOTALL)
    if not match:
        return []
    args = re.search(
        r"ext\.args\s*=\s*\{(.*?)\}\s*\n\s*(publishDir|ext\.|\Z)", match.group(1), re.DOTALL
    )
    return OPTION.findall(args.group(1)) if args else []


@cache
def accepted_options(command: str) -> frozenset[str]:
    result = run_script(command, "--help")
    assert result.returncode == 0, f"{command} --help failed: {result.stderr}"
    return frozenset(OPTION.findall(result.stdout))


def test_every_step_has_a_module():
    assert {module.parent.name for module in MODULES} >= {
        "chunk_sequences",
        "select_frames",
        "build_training_set",
        "split_dataset",
        "shard_frames",
    }


@pytest.mark.parametrize("module", MODULES, ids=[module.parent.name for module in MODULES])
def test_module_calls_one_existing_command_with_accepted_options(module):
    block = script_block(module)
    commands = set(COMMAND.findall(block))
    assert len(commands) == 1, f"{module}: expected one bin/ command, found {sorted(commands)}"
    command = commands.pop()
    path = BIN / command
    assert path.is_file(), f"{module} calls {command}, which is not in bin/"
    assert path.stat().st_mode & 0o111, f"bin/{command} is not executable"
    given = set(OPTION.findall(block)) | set(ext_args_options(process_name(module)))
    unknown = given - accepted_options(command)
    assert not unknown, f"{module}: {command} does not accept {sorted(unknown)}"


@pytest.mark.parametrize("module", MODULES, ids=[module.parent.name for module in MODULES])
def test_module_has_meta_stub_and_nf_test(module):
    text = module.read_text()
    for needed in ("tag ", "label ", "task.ext.args", "stub:"):
        assert needed in text, f"{module}: missing {needed!r}"
    assert "versions.yml" not in text, f"{module}: versions go to the versions topic"
    assert (module.parent / "meta.yml").is_file()
    assert (module.parent / "tests" / "main.nf.test").is_file()


VERSION_OUTPUT = re.compile(
    r"""^\s*tuple val\("\$\{task\.process\}"\), val\('([a-z-]+)'\), """
    r"""eval\('software_version\.py ([a-z-]+)'\), topic: versions, emit: versions_(\w+)$""",
    re.MULTILINE,
)
GPU_TOOLS = {"torch", "transformers", "cuda", "gpu"}


# Reads what the versions topic collects: a version it sent there would keep the topic
# open, and the run waiting, forever; it emits its version as a plain output
READS_THE_VERSIONS_TOPIC = {"multiqc_report"}


@pytest.mark.parametrize("module", MODULES, ids=[module.parent.name for module in MODULES])
def test_module_reports_what_decides_its_numbers_on_the_versions_topic(module):
    text = module.read_text()
    if module.parent.name in READS_THE_VERSIONS_TOPIC:
        assert "topic: versions" not in text
        assert "eval('software_version.py multiqc'), emit: versions_multiqc" in text
        return
    found = VERSION_OUTPUT.findall(text)
    assert text.count("topic: versions") == len(found), (
        f"{module}: a versions output of another form"
    )
    tools = {tool for tool, _, _ in found}
    assert all(tool == asked == emit.replace("_", "-") for tool, asked, emit in found), found
    assert {"virnucpro", "python"} <= tools, module
    if "label 'process_gpu'" in text:
        assert tools >= GPU_TOOLS, f"{module}: a GPU task records torch, transformers, CUDA and GPU"
    for tool in tools:
        result = run_script("software_version.py", tool)
        assert result.returncode == 0 and result.stdout.strip(), (tool, result.stderr)


def test_versions_check_catches_an_unknown_tool():
    result = run_script("software_version.py", "perl")
    assert result.returncode == 2
    assert "'perl' is not one of" in result.stderr


CHUNK_SIZE_MODULES = ("chunk_sequences", "build_training_set", "embed_dna", "embed_protein")


@pytest.mark.parametrize("name", CHUNK_SIZE_MODULES)
def test_the_chunk_size_is_a_module_input_not_an_ext_arg(name):
    module = ROOT / "modules" / "local" / name / "main.nf"
    text = module.read_text()
    inputs = text[text.index("input:") : text.index("output:")]
    assert re.search(r"^\s*val\(chunk_size\)$", inputs, re.MULTILINE), module
    assert "--chunk-size '${chunk_size}'" in script_block(module)
    assert "--chunk-size" not in ext_args_options(process_name(module))


@pytest.mark.parametrize("module", MODULES, ids=[module.parent.name for module in MODULES])
def test_module_limits_its_command_to_the_cpus_of_the_task(module):
    # torch, OpenMP and BLAS otherwise start a thread per core of the host, so tasks
    # side by side under the local executor oversubscribe it; --threads sets them all
    # (tests/test_cpu_threads.py checks what the option does)
    assert "--threads '${task.cpus}'" in script_block(module), module


UNQUOTED = re.compile(r"(?<![\w-])--[a-z][a-z-]* \$\{")


@pytest.mark.parametrize("module", MODULES, ids=[module.parent.name for module in MODULES])
def test_module_scripts_quote_every_value_they_interpolate(module):
    # Names and staged file names go to the shell in single quotes, so a character
    # the checks missed cannot split an argument or run a command.
    block = script_block(module)
    assert not UNQUOTED.findall(block), f"{module}: unquoted {UNQUOTED.findall(block)}"
    assert "'${" in block


def test_quoting_check_catches_an_unquoted_value():
    assert UNQUOTED.findall('chunk_sequences.py --input ${sequences} --output "x"')
    assert not UNQUOTED.findall("chunk_sequences.py --input '${sequences}'")
