"""One name per step, and every output file traceable to its writer in one hop.

docs/layout.md maps each step from its Nextflow process to the library function;
these tests hold that table to the code: the process, the bin script, the
subcommand, the CLI module and the function all exist and are the ones named, and
every file a Nextflow module outputs is listed with a function that writes it
through the contract the table names. docs/output.md, the page of what a run
writes, describes every folder a run publishes and every file a module outputs.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import fields
from fnmatch import fnmatch

import pytest
from conftest import ROOT

from virnucpro.cli.main import ALIASES, app
from virnucpro.files import contracts
from virnucpro.preprocess.training_set import SourceCounts

LAYOUT = ROOT / "docs" / "layout.md"


def _table(text: str, first_header: str) -> list[list[str]]:
    """Rows of the Markdown table whose first header cell is ``first_header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    """The `code` names of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


STEPS = _table(LAYOUT.read_text(), "step")
WRITERS = _table(LAYOUT.read_text(), "output file")
PROCESSES = {
    path.parent.name.upper(): path for path in (ROOT / "modules" / "local").glob("*/main.nf")
}


def _resolve(dotted: str):
    """The object a dotted path names: module, then attributes (e.g. a method)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise AssertionError(f"{dotted} names nothing importable")


def test_every_process_is_a_row_of_the_step_table():
    listed = {name for row in STEPS for name in _names(row[1])}
    assert set(PROCESSES) <= listed


@pytest.mark.parametrize("row", STEPS, ids=[row[0] for row in STEPS])
def test_each_step_has_one_name_from_process_to_library(row):
    step, process, scripts, subcommands, cli_modules, library, _ = row
    registered = {command.name for command in app.registered_commands if not command.hidden}
    for name in _names(process):
        if name in PROCESSES:  # the process runs the script of its own name
            script = f"{name.lower()}.py"
            assert script in _names(scripts) and script in PROCESSES[name].read_text(), name
    for script, subcommand, cli_module in zip(
        _names(scripts), _names(subcommands), _names(cli_modules), strict=False
    ):
        assert script.removesuffix(".py").replace("_", "-") == subcommand
        assert cli_module == f"cli/{script}"
        wrapper = (ROOT / "bin" / script).read_text()
        assert f"from virnucpro.cli.{script.removesuffix('.py')} import main" in wrapper
    for subcommand, cli_module in zip(_names(subcommands), _names(cli_modules), strict=True):
        assert subcommand in registered, subcommand
        module = importlib.import_module(
            "virnucpro." + cli_module.removesuffix(".py").replace("/", ".")
        )
        assert [command.name for command in module.app.registered_commands] == [subcommand]
    module_path, _, functions = library.partition(":")
    module_name = _names(module_path)[0].removesuffix("/").removesuffix(".py").replace("/", ".")
    for function in _names(functions):
        assert callable(_resolve(f"virnucpro.{module_name}.{function}")), (step, function)


def test_earlier_subcommand_names_still_run_the_same_command():
    by_name = {command.name: command for command in app.registered_commands}
    for alias, name in ALIASES.items():
        assert by_name[alias].hidden and by_name[alias].callback is by_name[name].callback


def _module_outputs(path) -> list[str]:
    """File names a module's output block declares, e.g. '*.chunk_calls.tsv'."""
    block = path.read_text().split("output:", 1)[1].split("when:", 1)[0]
    return [
        name
        for name in re.findall(r'path\(?\s*"([^"]+)"', block)
        if not name.endswith("_classifier")  # the checkpoint folder: its files are listed
    ]


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_module_output_names_its_writer(process):
    listed = [name for row in WRITERS for name in _names(row[0])]
    for output in _module_outputs(PROCESSES[process]):
        file_name = output.rsplit("/", 1)[-1].lstrip("*").lstrip(".")
        assert any(name.endswith(file_name) for name in listed), (process, output)


@pytest.mark.parametrize("row", WRITERS, ids=[row[0] for row in WRITERS])
def test_each_writer_exists_and_writes_through_its_contract(row):
    _, writer, contract = row
    writer = _names(writer)[0]
    if not writer.startswith("virnucpro."):
        assert (ROOT / _names(row[1])[1]).read_text().count(f"def {writer}(") == 1
        return
    function = _resolve(writer)
    contract_names = _names(contract)
    if contract_names:
        assert isinstance(getattr(contracts, contract_names[0]), contracts.Table | contracts.Tagged)
        assert contract_names[0] in inspect.getsource(function), (writer, contract_names[0])


def test_every_contract_with_a_pipeline_file_is_in_the_writer_table():
    listed = {name for row in WRITERS for name in _names(row[2])}
    declared = {
        name
        for name, value in vars(contracts).items()
        if isinstance(value, contracts.Table | contracts.Tagged)
    }
    # Read, never written by a step: any table with a frame_id column; and the
    # --output of verify-embedder, a check run by hand
    assert declared - listed == {"ID_LIST", "VERIFICATION"}


def test_the_counts_table_writes_every_count():
    assert tuple(field.name for field in fields(SourceCounts)) == contracts.COUNTS.columns


OUTPUT_PAGE = (ROOT / "docs" / "output.md").read_text()
OUTDIR = re.compile(r"\$\{params\.outdir\}/(\w+)")


def _published_folders() -> set[str]:
    """The folders a run writes under --outdir: those publishDir and the reports name, and
    for a step published into --outdir itself, the folder its outputs are in (split/)."""
    modules_config = (ROOT / "conf" / "modules.config").read_text()
    folders = set()
    for path in [ROOT / "nextflow.config", *(ROOT / "conf").glob("*.config")]:
        folders |= set(OUTDIR.findall(path.read_text()))
    for path in [ROOT / "main.nf", *(ROOT / "subworkflows").rglob("*.nf")]:
        folders |= set(OUTDIR.findall(path.read_text()))
    for process, block in re.findall(
        r"withName: '(\w+)' \{(.*?)\n    \}", modules_config, re.DOTALL
    ):
        if re.search(r"path: \{ params\.outdir \}", block):
            folders |= {output.split("/")[0] for output in _module_outputs(PROCESSES[process])}
    return folders


def test_the_output_page_describes_every_folder_a_run_writes():
    folders = _published_folders()
    assert {"chunks", "predictions", "split", "shards", "pipeline_info"} <= folders
    described = {
        name.rstrip("/") for row in _table(OUTPUT_PAGE, "folder") for name in _names(row[0])
    }
    assert folders <= described, sorted(folders - described)
    headings = re.findall(r"^### (\w+)$", OUTPUT_PAGE, re.MULTILINE)
    assert described - {"pipeline_info"} <= set(headings), sorted(described - set(headings))


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_the_output_page_describes_every_file_a_module_writes(process):
    described = [name.rstrip("/") for name in re.findall(r"`([^`]+)`", OUTPUT_PAGE)]
    for output in _module_outputs(PROCESSES[process]):
        pattern = "*" + output.rsplit("/", 1)[-1]  # e.g. *.chunk_calls.tsv, *virnucpro_*_mqc.*
        assert any(fnmatch(name, pattern) for name in described), (process, output)


STAGES = ("files", "preprocess", "embed", "classify", "compare")
SHARED = {
    "virnucpro",
    "virnucpro.errors",
    "virnucpro.versions",
    "virnucpro.html_page",
    "virnucpro.report_provenance",
    "virnucpro.multiqc_content",
}


def _imports(path) -> set[str]:
    """The virnucpro modules a source file imports, at any depth of the file."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("virnucpro"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("virnucpro"))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_the_stages_before_it(stage):
    allowed = {f"virnucpro.{name}" for name in STAGES[: STAGES.index(stage) + 1]}
    package = ROOT / "src" / "virnucpro" / stage
    for path in package.rglob("*.py"):
        for module in _imports(path) - SHARED:
            assert any(module == a or module.startswith(f"{a}.") for a in allowed), (path, module)
