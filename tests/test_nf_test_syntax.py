"""Every nf-test file (*.nf.test) is valid Groovy; module tests run no upstream modules.

nf-test cannot run here, so a typo in a test would only show on the real run
elsewhere. nf-test's DSL is Groovy: Groovy's own parser (from the Nextflow language
server jar of .venv-nflint, through tools/nextflow-lint's helpers) checks the syntax.
Names are resolved only when nf-test runs the files, and the Nextflow code inside
their process/workflow strings is not parsed. Module and subworkflow tests read fixed
inputs (tests/data/modules/) instead of running their upstream modules in a setup block.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

# The fixture of tests/test_nextflow_static.py: the .venv-nflint interpreter, the
# test skipped where it is not set up (failed in CI)
from test_nextflow_static import lint_python  # noqa: F401

pytestmark = pytest.mark.nextflow

LINT_DIR = ROOT / "tools" / "nextflow-lint"
# Runs in .venv-nflint (JPype and the jar live there): the nf-test files that
# nextflow_lint finds under the given folders, and the problems Groovy reports
PARSE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import jpype
import nextflow_lint
jpype.startJVM(classpath=[str(nextflow_lint.find_jar())])
_, _, nf_tests = nextflow_lint.find_sources([Path(folder) for folder in sys.argv[2:]])
problems = nextflow_lint.check_nf_tests(nf_tests)
print(json.dumps({"files": [str(f) for f in nf_tests], "problems": [str(p) for p in problems]}))
"""


def parse(python: Path, *folders: Path) -> dict[str, list[str]]:
    result = subprocess.run(
        [str(python), "-c", PARSE, str(LINT_DIR), *map(str, folders)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_every_nf_test_file_parses(lint_python: Path, tmp_path: Path) -> None:  # noqa: F811
    # A broken file beside them proves the check reports what it finds
    broken = tmp_path / "broken.nf.test"
    broken.write_text('nextflow_process {\n    test("a") {\n        then {\n            assert (\n')

    found = parse(lint_python, ROOT, tmp_path)

    files = {Path(file) for file in found["files"]}
    for pattern in (
        "modules/local/*/tests/*.nf.test",
        "subworkflows/local/*/tests/*.nf.test",
        "tests/pipeline/*.nf.test",
    ):
        tests = set(ROOT.glob(pattern))
        assert tests and tests <= files, pattern
    assert broken.resolve() in files
    assert [problem for problem in found["problems"] if "broken.nf.test" not in problem] == []
    assert any("broken.nf.test" in problem for problem in found["problems"])


# A setup block runs other modules before the one under test
SETUP = re.compile(r"^\s*setup\s*\{", re.MULTILINE)


def test_module_tests_read_fixed_inputs_instead_of_running_upstream_modules() -> None:
    """As nf-core modules: a module or subworkflow test reads fixed files (tests/data/modules/,
    scripts/module_test_data.py) where it used to run its upstream modules in a setup
    block, which made it slow and failed it whenever one of those failed."""
    assert SETUP.search('nextflow_process {\n    setup {\n        run("SELECT_FRAMES") {\n')
    tests = sorted(ROOT.glob("modules/local/*/tests/*.nf.test"))
    tests += sorted(ROOT.glob("subworkflows/local/*/tests/*.nf.test"))

    with_setup = [str(test.relative_to(ROOT)) for test in tests if SETUP.search(test.read_text())]

    assert tests and not with_setup
