"""The README's commands are the ones CI and the tests run, and every option they give exists.

Each command in a code block or code span of README.md is checked against what
it calls: `make` targets against the Makefile and .ci/run, `nextflow run` against
the profiles of nextflow.config and the parameters of nextflow_schema.json (the
test-profile runs against the pipeline nf-tests), `virnucpro` and bin/ commands
against their --help, and the image tag against the modules' container.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import BIN, ROOT, run_script

README = (ROOT / "README.md").read_text()
CONFIG = (ROOT / "nextflow.config").read_text()
SCHEMA = json.loads((ROOT / "nextflow_schema.json").read_text())
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z_-]*")
# Nextflow's own options that README commands use
NEXTFLOW_OPTIONS = {"-profile", "-resume", "-c", "-w", "-stub"}


def code_lines() -> list[str]:
    """Every command-like line of the README: fenced code (continuations joined) and code spans."""
    lines = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", README, re.DOTALL):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    lines += re.findall(r"`([^`\n]+)`", prose)
    return [line.split("  #")[0].strip() for line in lines if line.strip()]


def commands(program: str) -> list[list[str]]:
    return [shlex.split(line) for line in code_lines() if line.startswith(program + " ")]


def nextflow_runs() -> list[list[str]]:
    return [words for words in commands("nextflow") if words[1:3] == ["run", "main.nf"]]


def schema_params() -> dict[str, dict]:
    return {
        name: spec
        for group in SCHEMA["$defs"].values()
        for name, spec in group["properties"].items()
    }


def profiles() -> set[str]:
    block = CONFIG[CONFIG.index("\nprofiles {") :]
    return set(re.findall(r"^    (\w+) \{", block, re.MULTILINE))


def run_params(words: list[str]) -> dict[str, str]:
    """`--name value` pairs of a `nextflow run` command (flags without a value map to '')."""
    params = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            following = words[i + 1] if i + 1 < len(words) else ""
            params[word[2:]] = "" if following.startswith("-") else following
    return params


def test_quick_start_is_two_make_commands_and_ci_runs_the_same_test_command():
    quick = README[README.index("## Quick start") :]
    block = re.search(r"```bash\n(.*?)```", quick, re.DOTALL).group(1)
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == [
        "make demo",
        "make test",
    ]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.MULTILINE)
    assert re.search(r"^test:", makefile, re.MULTILINE)


def test_readme_has_the_lab_server_runs():
    runs = [" ".join(words) for words in nextflow_runs()]
    assert any("-profile test,docker --outdir" in run for run in runs)
    assert any("-profile test_compare,docker --outdir" in run for run in runs)
    assert any("-profile docker --mode cache" in run for run in runs)
    assert any("-profile gpu,docker --mode compare" in run for run in runs)
    assert any(run.startswith("nextflow run main.nf -profile gpu,docker --input") for run in runs)


@pytest.mark.parametrize("words", nextflow_runs(), ids=lambda words: " ".join(words[3:6]))
def test_nextflow_runs_use_existing_profiles_and_parameters(words):
    known = schema_params()
    for i, word in enumerate(words[3:], start=3):
        if word == "-profile":
            assert set(words[i + 1].split(",")) <= profiles(), words[i + 1]
        elif word.startswith("-") and not word.startswith("--"):
            assert word in NEXTFLOW_OPTIONS, word
    for name, value in run_params(words).items():
        # --help: nf-schema's parameter help (validation.help in nextflow.config)
        assert name in known or name == "help", f"--{name} is not a pipeline parameter"
        if "enum" in known.get(name, {}):
            assert value in known[name]["enum"], f"--{name} {value}"
        if value.startswith("assets/"):
            assert (ROOT / value).exists(), value


@pytest.mark.parametrize(("profile", "mode"), [("test", "predict"), ("test_compare", "compare")])
def test_test_profile_runs_are_the_pipeline_nf_tests(profile, mode):
    """The README's first runs are the profile alone, as tests/pipeline/<mode>.nf.test runs it."""
    (words,) = [w for w in nextflow_runs() if f"{profile},docker" in w]
    assert set(run_params(words)) == {"outdir"}
    nf_test = (ROOT / "tests" / "pipeline" / f"{mode}.nf.test").read_text()
    assert f'profile "{profile}"' in nf_test
    first = nf_test[nf_test.index("test(") : nf_test.index("then {")]
    params = first[first.index("params {") : first.index("}", first.index("params {"))]
    assert re.findall(r"^\s*(\w+)\s*=", params, re.MULTILINE) == ["outdir"]


def test_image_built_by_the_readme_is_the_pipeline_container():
    (container,) = {
        re.search(r"^\s*container\s+'([^']+)'", module.read_text(), re.MULTILINE).group(1)
        for module in (ROOT / "modules" / "local").glob("*/main.nf")
    }
    (build,) = [words for words in commands("docker") if words[1] == "build"]
    assert build[build.index("-t") + 1] == container
    assert (ROOT / build[build.index("-f") + 1]).is_file()
    # Other commands that name the image (troubleshooting) name the same one
    named = {word for words in commands("docker") for word in words if "virnucpro-nf:" in word}
    assert named == {container}


@cache
def accepted(command: tuple[str, ...]) -> frozenset[str]:
    """Options a bin/ script or a `virnucpro` subcommand accepts, from its --help."""
    if command[0] == "virnucpro":
        virnucpro = Path(sys.executable).with_name("virnucpro")
        result = subprocess.run(
            [str(virnucpro), *command[1:], "--help"],
            capture_output=True,
            text=True,
            check=False,
            env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PATH": ""},
        )
    else:
        result = run_script(command[0], "--help")
    assert result.returncode == 0, f"{' '.join(command)} --help: {result.stderr}"
    return frozenset(OPTION.findall(result.stdout))


def package_commands() -> list[list[str]]:
    found = commands("virnucpro")
    found += [
        shlex.split(line)
        for line in code_lines()
        if re.match(r"[a-z_]+\.py ", line) and (BIN / line.split()[0]).is_file()
    ]
    return found


@pytest.mark.parametrize("words", package_commands(), ids=lambda words: " ".join(words[:2]))
def test_package_commands_in_the_readme_accept_their_options(words):
    command = tuple(words[:2]) if words[0] == "virnucpro" else (words[0],)
    given = set(OPTION.findall(" ".join(words)))
    assert given <= accepted(command), (
        f"{' '.join(command)}: unknown {sorted(given - accepted(command))}"
    )
