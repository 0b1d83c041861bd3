"""Static checks of the Nextflow code with the Nextflow language server's own parser.

The checker (tools/nextflow-lint) runs in its own venv, .venv-nflint, because its
dependencies cannot share the project's venv; these tests call it as a subprocess.
Each run starts one JVM (~1-2 s), so broken samples are linted together.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.nextflow

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv-nflint" / "bin" / "python"
LINT = REPO / "tools" / "nextflow-lint" / "nextflow_lint.py"
SETUP = (
    "python3 -m venv .venv-nflint && "
    ".venv-nflint/bin/pip install -r tools/nextflow-lint/requirements.txt"
)
PROBLEM = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning): ")

BROKEN = {
    # file name -> (source, line the error must be reported on)
    "missing_brace.nf": (
        'process A {\n    script:\n    """\n    echo hi\n    """\n\nworkflow {\n    A()\n}\n',
        10,  # unexpected end of file
    ),
    "undefined_variable.nf": ("workflow {\n    main:\n    reads.view()\n}\n", 3),
    "missing_module.nf": ("include { FOO } from './no/such/module.nf'\n\nworkflow {\n}\n", 1),
    "missing_process.nf": (
        "include { NOT_THERE } from './valid.nf'\n\nworkflow {\n    NOT_THERE()\n}\n",
        1,
    ),
    "bad_statement.config": ("process {\n    cpus = 2\n    memory 4.GB oops\n}\n", 3),
    "unknown_plugin.nf": ("include { foo } from 'plugin/nf-not-declared'\n", 1),
    # nf-test files: Groovy syntax; the unclosed block is reported where it opens
    "unclosed.nf.test": ('nextflow_process {\n    name "x"\n    test("a") {\n    }\n', 1),
}

VALID = {
    "valid.nf": """\
process FOO {
    tag "${meta.id}"
    label 'process_low'

    input:
    tuple val(meta), path(reads)

    output:
    tuple val(meta), path("*.txt"), emit: txt
    path "versions.yml"           , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    \"\"\"
    wc -l ${args} ${reads} > ${prefix}.txt

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        coreutils: \\$(wc --version | head -1 | sed 's/.* //')
    END_VERSIONS
    \"\"\"

    stub:
    \"\"\"
    touch ${meta.id}.txt versions.yml
    \"\"\"
}

workflow COUNT {
    take:
    ch_reads

    main:
    FOO(ch_reads)

    emit:
    txt      = FOO.out.txt
    versions = FOO.out.versions
}
""",
    "valid.config": """\
process {
    withLabel: process_low { cpus = 2 }
    withName: 'FOO' { ext.args = { "--verbose ${meta.id}" } }
}
profiles {
    test { params.input = 'x.csv' }
}
""",
}


@pytest.fixture(scope="module")
def lint_python() -> Path:
    """The .venv-nflint interpreter; skip when it is not set up (fail in CI)."""
    if not PYTHON.exists():
        reason = f".venv-nflint is missing; create it with: {SETUP}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return PYTHON


def run_lint(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), str(LINT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def problems(result: subprocess.CompletedProcess[str]) -> dict[str, list[tuple[str, int]]]:
    """Reported problems as {file: [(severity, line), ...]}."""
    found: dict[str, list[tuple[str, int]]] = {}
    for line in result.stdout.splitlines():
        if match := PROBLEM.match(line):
            found.setdefault(match["path"], []).append((match["severity"], int(match["line"])))
    return found


def test_repository_nextflow_code_passes(lint_python: Path) -> None:
    result = run_lint(lint_python, str(REPO), cwd=REPO)
    assert result.returncode == 0, output_of(result)
    assert re.search(r"^\d+ files checked, 0 errors, \d+ warnings$", result.stdout, re.M)


def test_broken_files_are_reported_with_file_and_line(lint_python: Path, tmp_path: Path) -> None:
    for name, (source, _) in BROKEN.items():
        (tmp_path / name).write_text(source)
    for name, source in VALID.items():
        (tmp_path / name).write_text(source)

    result = run_lint(lint_python, ".", cwd=tmp_path)

    assert result.returncode == 1, output_of(result)
    found = problems(result)
    for name, (_, line) in BROKEN.items():
        assert ("error", line) in found.get(name, []), f"{name}:{line}\n{output_of(result)}"
    for name in VALID:
        assert name not in found, output_of(result)
    errors = sum(severity == "error" for items in found.values() for severity, _ in items)
    assert f"{len(BROKEN) + len(VALID)} files checked, {errors} errors" in result.stdout


def test_warnings_fail_only_with_strict(lint_python: Path, tmp_path: Path) -> None:
    (tmp_path / "unused.nf").write_text("workflow {\n    unused = channel.of(1)\n}\n")

    default = run_lint(lint_python, ".", cwd=tmp_path)
    strict = run_lint(lint_python, "--strict", ".", cwd=tmp_path)

    assert default.returncode == 0, output_of(default)
    assert ("warning", 2) in problems(default).get("unused.nf", []), output_of(default)
    assert strict.returncode == 1, output_of(strict)
