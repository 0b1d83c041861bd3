"""The commands of the README and of docs/usage.md and docs/output.md are the ones CI and
the tests run, and every option they give exists.

Each command in a code block or code span of those pages is checked against what it
calls: `make` targets against the Makefile and .ci/run, `nextflow run` against the
profiles of nextflow.config and the parameters of nextflow_schema.json (the
test-profile runs against the pipeline nf-tests, a local `-profile gpu` run against
the CUDA_VISIBLE_DEVICES it needs, a predict run against the settings the
classifier holds), `nf-test` against the profiles it keeps, `virnucpro` and bin/
commands against their --help, the images named against the pipeline's containers,
and every relative link against the file and heading it points to.
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

PAGES = ("README.md", "docs/usage.md", "docs/output.md")
TEXT = {page: (ROOT / page).read_text() for page in PAGES}
README = TEXT["README.md"]
CONFIG = (ROOT / "nextflow.config").read_text()
SCHEMA = json.loads((ROOT / "nextflow_schema.json").read_text())
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z_-]*")
# Nextflow's own options that the commands use
NEXTFLOW_OPTIONS = {"-profile", "-resume", "-c", "-w", "-stub", "-params-file"}
# Predict mode reads these from the classifier's classifier.json
CLASSIFIER_SETTINGS = {"dna_model", "embedders", "chunk_size"}
GPU_EXPORT = re.compile(r"^export CUDA_VISIBLE_DEVICES=\d+(,\d+)*$")


def fenced(text: str) -> tuple[list[tuple[str, list[str]]], str]:
    """The fenced blocks of a page, each as (language, lines), and the prose around them."""
    blocks, prose, current = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = (line[3:].strip(), [])
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current[1].append(line)
        else:
            prose.append(line)
    return blocks, "\n".join(prose)


def code_blocks(text: str) -> list[list[str]]:
    """The lines of each shell block (continuations joined, comments cut)."""
    found = []
    for language, lines in fenced(text)[0]:
        if language in ("", "bash", "sh"):
            joined = "\n".join(lines).replace("\\\n", " ").splitlines()
            commands = [line.split("  #")[0].strip() for line in joined]
            found.append([line for line in commands if line and not line.startswith("#")])
    return found


def code_spans(text: str) -> list[str]:
    """The code spans of the prose (outside fenced blocks)."""
    spans = re.findall(r"`([^`\n]+)`", fenced(text)[1])
    return [span.strip() for span in spans if span.strip()]


def code_lines(page: str) -> list[str]:
    """Every command-like line of a page: fenced code and code spans."""
    return [line for block in code_blocks(TEXT[page]) for line in block] + code_spans(TEXT[page])


def commands(program: str, pages: tuple[str, ...] = PAGES) -> list[list[str]]:
    return [
        shlex.split(line)
        for page in pages
        for line in code_lines(page)
        if line.startswith(program + " ")
    ]


def is_nextflow_run(words: list[str]) -> bool:
    """`nextflow run main.nf ...` from the clone, or `nextflow run <clone>/main.nf ...`."""
    return words[:2] == ["nextflow", "run"] and any(
        script == "main.nf" or script.endswith("/main.nf") for script in words[2:3]
    )


def nextflow_runs(pages: tuple[str, ...] = PAGES) -> list[list[str]]:
    return [words for words in commands("nextflow", pages) if is_nextflow_run(words)]


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


def run_profiles(words: list[str]) -> list[str]:
    return words[words.index("-profile") + 1].split(",") if "-profile" in words else []


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


def test_readme_has_the_lab_server_runs_and_links_the_usage_and_output_pages():
    runs = [" ".join(words) for words in nextflow_runs(("README.md",))]
    assert any("-profile test,docker --outdir" in run for run in runs)
    assert any("-profile docker --mode cache" in run for run in runs)
    assert any("-profile docker --mode download" in run for run in runs)
    assert any("-profile gpu,docker --mode compare" in run for run in runs)
    (predict,) = [
        words
        for words in nextflow_runs(("README.md",))
        if run_profiles(words) == ["gpu", "docker"] and "mode" not in run_params(words)
    ]
    assert set(run_params(predict)) == {"input", "classifier", "hf_home", "outdir"}
    assert "](docs/usage.md)" in README and "](docs/output.md)" in README


def test_usage_page_runs_every_mode_and_test_profile():
    runs = nextflow_runs(("docs/usage.md",))
    modes = {run_params(words).get("mode", "predict") for words in runs}
    assert modes == {"predict", "train", "compare", "cache", "download"}
    for profile in ("test", "test_compare", "test_full"):
        assert any(run_profiles(words) == [profile, "docker"] for words in runs), profile
    assert any("slurm" in run_profiles(words) for words in runs)
    assert any(words[2].endswith("/main.nf") for words in runs)  # launched from anywhere


@pytest.mark.parametrize("words", nextflow_runs(), ids=lambda words: " ".join(words[3:6]))
def test_nextflow_runs_use_existing_profiles_and_parameters(words):
    known = schema_params()
    for i, word in enumerate(words[3:], start=3):
        if word == "-profile":
            assert set(words[i + 1].split(",")) <= profiles(), words[i + 1]
        elif word.startswith("-") and not word.startswith("--"):
            assert word in NEXTFLOW_OPTIONS, word
    for name, value in run_params(words).items():
        assert name in known, f"--{name} is not a pipeline parameter"
        if "enum" in known[name]:
            assert value in known[name]["enum"], f"--{name} {value}"
        if value.startswith("assets/"):
            assert (ROOT / value).exists(), value


def predict_runs() -> list[list[str]]:
    """Runs of predict mode on a samplesheet (not --help or --version)."""
    return [
        words
        for words in nextflow_runs()
        if run_params(words).get("mode", "predict") == "predict" and "input" in run_params(words)
    ]


@pytest.mark.parametrize("words", predict_runs(), ids=lambda words: " ".join(words[3:6]))
def test_predict_runs_take_the_models_and_chunk_size_from_the_classifier(words):
    given = run_params(words)
    assert "classifier" in given
    assert not CLASSIFIER_SETTINGS & set(given), sorted(CLASSIFIER_SETTINGS & set(given))


def local_gpu_runs(text: str) -> list[tuple[str, bool]]:
    """Each local `-profile gpu` run of a page (SLURM sets CUDA_VISIBLE_DEVICES itself), and
    whether an `export CUDA_VISIBLE_DEVICES=...` line comes before it in its block; a code
    span cannot show one."""
    found = []
    blocks = [(block, True) for block in code_blocks(text)]
    blocks += [([span], False) for span in code_spans(text) if span.startswith("nextflow ")]
    for block, can_export in blocks:
        for i, line in enumerate(block):
            words = shlex.split(line)
            profile = run_profiles(words)
            if is_nextflow_run(words) and "gpu" in profile and "slurm" not in profile:
                exported = can_export and any(GPU_EXPORT.match(before) for before in block[:i])
                found.append((line, exported))
    return found


def test_every_local_gpu_run_exports_the_gpus_it_may_use_first():
    runs = [run for page in PAGES for run in local_gpu_runs(TEXT[page])]
    assert len(runs) >= 5  # README: compare and predict; usage: every mode and GPU scheduling
    assert [line for line, exported in runs if not exported] == []


def test_the_gpu_check_catches_a_run_without_its_export():
    run = "nextflow run main.nf -profile gpu,docker --input x.csv"
    export = "export CUDA_VISIBLE_DEVICES=0,1"
    assert local_gpu_runs(f"```bash\n{run}\n```\n") == [(run, False)]
    assert local_gpu_runs(f"```bash\n{run}\n{export}\n```\n") == [(run, False)]
    assert local_gpu_runs(f"```bash\n{export}\n{run}\n```\n") == [(run, True)]
    assert local_gpu_runs(f"Run `{run}`.\n") == [(run, False)]
    slurm = "nextflow run main.nf -profile slurm,gpu,apptainer --input x.csv"
    assert local_gpu_runs(f"```bash\n{slurm}\n```\n") == []


@pytest.mark.parametrize(
    ("profile", "nf_test"),
    [("test", "predict"), ("test_compare", "compare"), ("test_full", "test_full")],
)
def test_test_profile_runs_are_the_pipeline_nf_tests(profile, nf_test):
    """The test-profile runs are the profile alone, as tests/pipeline/<nf_test>.nf.test runs it."""
    runs = [words for words in nextflow_runs() if run_profiles(words) == [profile, "docker"]]
    assert runs
    for words in runs:
        assert set(run_params(words)) == {"outdir"}
    text = (ROOT / "tests" / "pipeline" / f"{nf_test}.nf.test").read_text()
    assert f'profile "{profile}"' in text
    first = text[text.index("test(") : text.index("then {")]
    params = first[first.index("params {") : first.index("}", first.index("params {"))]
    assert re.findall(r"^\s*(\w+)\s*=", params, re.MULTILINE) == ["outdir"]


def pipeline_images() -> dict[str, str]:
    """The CPU image of every module and the CUDA image -profile gpu gives the GPU steps."""
    (cpu,) = {
        re.search(r"^\s*container\s+'([^']+)'", module.read_text(), re.MULTILINE).group(1)
        for module in (ROOT / "modules" / "local").glob("*/main.nf")
    }
    gpu = re.search(
        r"^\s*container\s*=\s*'([^']+)'", (ROOT / "conf" / "gpu.config").read_text(), re.MULTILINE
    )
    return {"cpu": cpu, "gpu": gpu.group(1)}


def test_images_named_in_the_docs_are_the_pipeline_containers():
    images = pipeline_images()
    assert images["cpu"] != images["gpu"]
    for page in PAGES:
        named = set(re.findall(r"virnucpro-nf(?:-cpu)?:[\w.]*\w", TEXT[page]))
        assert named <= set(images.values()), (page, named)
    usage = TEXT["docs/usage.md"]
    assert images["cpu"] in usage and images["gpu"] in usage
    # The images are built by the Makefile targets the pages give
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    given = {words[1] for words in commands("make")}
    assert {"image", "image-cpu"} <= given
    assert given <= targets, sorted(given - targets)


def test_nf_test_runs_keep_each_tests_own_profile():
    runs = commands("nf-test")
    assert any("--profile" in words for words in runs)
    for words in runs:
        if "--profile" in words:
            value = words[words.index("--profile") + 1]
            assert value.startswith("+"), " ".join(words)
            assert set(value[1:].split(",")) <= profiles(), value


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
        for page in PAGES
        for line in code_lines(page)
        if re.match(r"[a-z_]+\.py ", line) and (BIN / line.split()[0]).is_file()
    ]
    return found


@pytest.mark.parametrize("words", package_commands(), ids=lambda words: " ".join(words[:2]))
def test_package_commands_in_the_docs_accept_their_options(words):
    command = tuple(words[:2]) if words[0] == "virnucpro" else (words[0],)
    given = set(OPTION.findall(" ".join(words)))
    assert given <= accepted(command), (
        f"{' '.join(command)}: unknown {sorted(given - accepted(command))}"
    )


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lowercase, punctuation dropped, spaces as -."""
    text = fenced(text)[1]
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    }


def relative_links(page: str) -> list[str]:
    return [
        target
        for target in re.findall(r"\]\(([^)\s]+)\)", TEXT[page])
        if not re.match(r"[a-z]+:", target)
    ]


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_reach_their_file_and_heading(page):
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (ROOT / page).parent / path if path else ROOT / page
        assert file.exists(), (page, target)
        if anchor and file.suffix == ".md":
            assert anchor in heading_anchors(file.read_text()), (page, target)


def test_the_anchor_rule_is_githubs():
    anchors = heading_anchors("## 7. Calls\n### `--mode cache`: fill it once\n### training_set\n")
    assert anchors == {"7-calls", "--mode-cache-fill-it-once", "training_set"}
